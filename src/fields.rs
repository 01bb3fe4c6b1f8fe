//! The rules of a feature's typed fields, shared so each generated feature (and your
//! own) checks them the same way: one line of text, a longer text, a whole number in a
//! range, a web link, an email address and a moment in UTC. Each returns the value as
//! stored, or what is wrong with it in words that follow the field's name.

use serde::{Deserialize, Deserializer};

use crate::error::FieldErrors;
use crate::text::TextRule;

/// One line of 1 to 200 characters (a title, a name).
pub const LINE: TextRule = TextRule {
    max_chars: 200,
    min_chars: 1,
    multiline: false,
};

/// Up to 10,000 characters; line breaks and tabs allowed.
pub const TEXT: TextRule = TextRule {
    max_chars: 10_000,
    min_chars: 0,
    multiline: true,
};

/// The longest web link accepted, in characters.
pub const MAX_LINK_CHARS: usize = 2_000;

/// The first and last moments a datetime field takes (1970 to the end of 9999, UTC).
pub const FIRST_MOMENT: i64 = 0;
pub const LAST_MOMENT: i64 = 253_402_300_799;

/// Runs one field's rule and keeps its problem, if any, under the field's name, so a
/// form or a body reports every problem at once.
pub fn check<T>(errors: &mut FieldErrors, field: &str, result: Result<T, String>) -> Option<T> {
    result
        .map_err(|problem| errors.insert(field.to_string(), problem))
        .ok()
}

/// An optional field given as text: absent or blank is `None`, else `rule` decides.
pub fn optional(
    value: Option<&str>,
    rule: impl Fn(&str) -> Result<String, String>,
) -> Result<Option<String>, String> {
    match value {
        Some(text) if !text.trim().is_empty() => rule(text).map(Some),
        _ => Ok(None),
    }
}

/// For a PATCH body's optional fields: tells an absent field (`None`: kept) from
/// `null` (`Some(None)`: cleared). Use with `#[serde(default, deserialize_with)]`.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// For a PATCH body's required fields: absent is `None` (kept); `null` is refused, as
/// the field cannot be cleared. Use with `#[serde(default, deserialize_with)]`.
pub fn not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    use serde::de::Error;
    Option::<T>::deserialize(deserializer)?
        .map(Some)
        .ok_or_else(|| {
            D::Error::custom("a required field cannot be null (leave it out to keep it)")
        })
}

/// `rule`, with text required (at least one character) or not.
pub const fn required(rule: TextRule, required: bool) -> TextRule {
    TextRule {
        min_chars: if required && rule.min_chars == 0 {
            1
        } else if required {
            rule.min_chars
        } else {
            0
        },
        ..rule
    }
}

/// A web link: http or https only (it is shown as a link, so `javascript:` and
/// `data:` never are), with a host, at most [`MAX_LINK_CHARS`]; stored as parsed.
pub fn web_link(input: &str) -> Result<String, String> {
    let text = input.trim();
    if text.is_empty() {
        return Err("is required".into());
    }
    if text.chars().count() > MAX_LINK_CHARS {
        return Err(format!("must be at most {MAX_LINK_CHARS} characters"));
    }
    if text
        .chars()
        .any(|c| c.is_control() || crate::text::is_hidden(c))
    {
        return Err("must not contain control or invisible characters".into());
    }
    let parsed = url::Url::parse(text).map_err(|_| "is not a valid web address".to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must start with http:// or https://".into());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    let stored = parsed.to_string();
    if stored.chars().count() > MAX_LINK_CHARS {
        return Err(format!("must be at most {MAX_LINK_CHARS} characters"));
    }
    Ok(stored)
}

/// An email address, checked and mapped as account addresses are (UTS #46 domain).
pub fn email_address(input: &str) -> Result<String, String> {
    if input.trim().is_empty() {
        return Err("is required".into());
    }
    crate::accounts::Email::parse(input).map(|email| email.display)
}

/// A whole number from `min` to `max` (both included).
pub fn in_range(value: i64, min: i64, max: i64) -> Result<i64, String> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(format!("must be from {min} to {max}"))
    }
}

/// A whole number typed in a form, from `min` to `max`.
pub fn whole_number(input: &str, min: i64, max: i64) -> Result<i64, String> {
    let value = input
        .trim()
        .parse::<i64>()
        .map_err(|_| "must be a whole number".to_string())?;
    in_range(value, min, max)
}

/// A moment as unix seconds, within [`FIRST_MOMENT`]..=[`LAST_MOMENT`].
pub fn moment(value: i64) -> Result<i64, String> {
    in_range(value, FIRST_MOMENT, LAST_MOMENT)
        .map_err(|_| "must be a moment from 1970 to 9999 (unix seconds)".to_string())
}

/// The value of an `<input type="datetime-local">` read as UTC (`2026-12-07T09:30`,
/// seconds optional), as unix seconds.
pub fn utc_datetime(input: &str) -> Result<i64, String> {
    use rocket::time::{Date, Month, PrimitiveDateTime, Time};
    let wrong = || "must be a date and time (UTC)".to_string();
    let text = input.trim();
    let (date, time) = text.split_once(['T', ' ']).ok_or_else(wrong)?;
    // Exactly as the field writes them: 4-2-2 digits, then 2:2 or 2:2:2, no signs.
    let numbers = |text: &str, sep: char, widths: &[usize]| -> Option<Vec<i64>> {
        let parts: Vec<&str> = text.split(sep).collect();
        let counted = parts.len() == widths.len() || (sep == ':' && parts.len() == 2);
        let shaped = counted
            && parts.iter().zip(widths).all(|(part, width)| {
                part.len() == *width && part.bytes().all(|b| b.is_ascii_digit())
            });
        shaped.then(|| parts.iter().filter_map(|part| part.parse().ok()).collect())
    };
    let (Some(d), Some(t)) = (
        numbers(date, '-', &[4, 2, 2]),
        numbers(time, ':', &[2, 2, 2]),
    ) else {
        return Err(wrong());
    };
    let ([year, month, day], [hour, minute, rest @ ..]) = (d.as_slice(), t.as_slice()) else {
        return Err(wrong());
    };
    let second = match rest {
        [] => 0,
        [second] => *second,
        _ => return Err(wrong()),
    };
    let month = u8::try_from(*month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(wrong)?;
    let date = i32::try_from(*year)
        .ok()
        .and_then(|y| Date::from_calendar_date(y, month, u8::try_from(*day).ok()?).ok())
        .ok_or_else(wrong)?;
    let time = Time::from_hms(
        u8::try_from(*hour).map_err(|_| wrong())?,
        u8::try_from(*minute).map_err(|_| wrong())?,
        u8::try_from(second).map_err(|_| wrong())?,
    )
    .map_err(|_| wrong())?;
    moment(
        PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// Unix seconds as an `<input type="datetime-local">` value in UTC
/// (`2026-12-07T09:30`); empty for a moment out of range.
pub fn datetime_local(seconds: i64) -> String {
    match rocket::time::OffsetDateTime::from_unix_timestamp(seconds) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_links_with_a_host_pass() {
        assert_eq!(
            web_link(" https://Example.com/a b ").unwrap(),
            "https://example.com/a%20b"
        );
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "ftp://example.com",
            "https://",
            "example.com",
            "https://user:pw@example.com/",
            "https://exa\u{200b}mple.com",
        ] {
            assert!(web_link(bad).is_err(), "{bad}");
        }
        assert!(web_link(&format!("https://e.com/{}", "a".repeat(2_000))).is_err());
    }

    #[test]
    fn datetime_local_values_read_as_utc_both_ways() {
        assert_eq!(utc_datetime("2026-01-01T00:00").unwrap(), 1_767_225_600);
        assert_eq!(utc_datetime("2026-01-01T00:00:30").unwrap(), 1_767_225_630);
        assert_eq!(datetime_local(1_767_225_600), "2026-01-01T00:00");
        for bad in [
            "",
            "2026-13-01T00:00",
            "2026-02-30T00:00",
            "2026-01-01",
            "2026-01-01T24:00",
            "1969-12-31T23:59",
            "x-y-zTa:b",
            "+2020-01-01T00:00",
            "2020-01-01T-0:00",
            "2020-01-01T00:+0",
            "2020-1-1T1:1",
            "2020-01-01T00:00:00:00",
            "2020-01-01T00",
        ] {
            assert!(utc_datetime(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_are_whole_and_in_range() {
        assert_eq!(whole_number(" 5 ", 1, 5), Ok(5));
        assert!(whole_number("6", 1, 5).is_err());
        assert!(whole_number("1.5", 1, 5).is_err());
        assert!(whole_number("", 1, 5).is_err());
        assert_eq!(in_range(i64::MIN, i64::MIN, i64::MAX), Ok(i64::MIN));
    }

    #[test]
    fn required_text_needs_a_character() {
        assert!(required(TEXT, true).clean("").is_err());
        assert_eq!(required(LINE, false).clean("").unwrap(), "");
    }
}
