//! The validated forms of what people type: usernames (with their look-alike
//! skeletons), email addresses, display names, and the keys logins are looked up by.

use super::*;

/// A username as stored: trimmed and NFKC-normalised, so that look-alike forms (a
/// fullwidth `ａｄｍｉｎ`) collapse onto the plain one; `key` is the lower-cased form
/// that uniqueness and login use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    pub display: String,
    pub key: String,
    /// The UTS #39 confusable skeleton (see [`skeleton_of`]): look-alikes share it.
    pub skeleton: String,
}

impl Username {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 32;

    pub fn parse(input: &str) -> Result<Username, String> {
        // By bytes before NFKC, which can expand one character into eighteen.
        if input.len() > Self::MAX_CHARS * 16 {
            return Err(format!(
                "must be between {} and {} characters",
                Self::MIN_CHARS,
                Self::MAX_CHARS
            ));
        }
        let display: String = input.nfkc().collect::<String>().trim().to_string();
        let length = display.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&length) {
            return Err(format!(
                "must be between {} and {} characters",
                Self::MIN_CHARS,
                Self::MAX_CHARS
            ));
        }
        // No '@', so a login string is never both a username and an email.
        if !display
            .chars()
            .all(|c| c.is_alphanumeric() || "_-.".contains(c))
        {
            return Err("may only contain letters, digits, '_', '-' and '.'".into());
        }
        // UTS #39 "highly restrictive": one script, or Latin with Han and Japanese
        // kana, or Han with Hangul or Bopomofo; never Latin mixed with Cyrillic or Greek.
        if !display
            .as_str()
            .check_restriction_level(RestrictionLevel::HighlyRestrictive)
        {
            return Err("must not mix letters of different scripts".into());
        }
        let key = login_key(&display);
        let skeleton = skeleton_of(&display);
        Ok(Username {
            display,
            key,
            skeleton,
        })
    }
}

/// The UTS #39 skeleton of a username as displayed, lower-cased, after dropping its
/// accents and other combining marks and its separators (`.`, `_`, `-`): `сосо`
/// (Cyrillic) and `coco`, `paypaI` (capital i) and `paypal`, `alicẹ` and `alice`,
/// `pay-pal` and `paypal` map to one string. It is taken of the displayed form because
/// that is what people compare; names that differ only in case already share a key.
/// Stricter than UTS #39 alone on purpose: `josé` and `jose` are one name here.
pub fn skeleton_of(display: &str) -> String {
    let bare: String = display
        .nfd()
        .filter(|c| c.general_category() != GeneralCategory::NonspacingMark && !"._-".contains(*c))
        .collect();
    unicode_security::skeleton(&bare)
        .collect::<String>()
        .to_lowercase()
}

/// An email address as stored (trimmed, NFKC) with its lower-cased key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub display: String,
    pub key: String,
    /// The key an account stored before domains were mapped would have for this
    /// address (its domain in Unicode); the same as `key` for ASCII domains. Such an
    /// account still holds the address: nobody else may take it.
    pub legacy_key: String,
}

impl Email {
    pub const MAX_BYTES: usize = 254;

    pub fn parse(input: &str) -> Result<Email, String> {
        if input.len() > Self::MAX_BYTES * 4 {
            return Err(format!("must be at most {} bytes", Self::MAX_BYTES));
        }
        let display: String = input.nfkc().collect::<String>().trim().to_string();
        if display.len() > Self::MAX_BYTES {
            return Err(format!("must be at most {} bytes", Self::MAX_BYTES));
        }
        let valid = match display.split_once('@') {
            Some((local, domain)) => {
                // The domain's dots and labels are checked once it is mapped (an
                // ideographic full stop is a dot too).
                !local.is_empty()
                    && !domain.contains('@')
                    && !display.chars().any(|c| {
                        c.is_whitespace()
                            || crate::text::is_hidden(c)
                            // A bare address only: mail must go where the key says, so
                            // no display name (`Name <a@b>`), comment or list.
                            || "<>()[],;:\"\\".contains(c)
                    })
            }
            None => false,
        };
        if !valid {
            return Err("is not a valid email address".into());
        }
        let display = Self::with_mapped_domain(&display)?;
        if display.len() > Self::MAX_BYTES {
            return Err(format!("must be at most {} bytes", Self::MAX_BYTES));
        }
        let key = login_key(&display);
        let legacy_key = match key.rsplit_once('@') {
            Some((local, domain)) => {
                login_key(&format!("{local}@{}", idna::domain_to_unicode(domain).0))
            }
            None => key.clone(),
        };
        Ok(Email {
            display,
            key,
            legacy_key,
        })
    }

    /// The address with its domain mapped by UTS #46 and kept in its ASCII form
    /// (`xn--` labels), so one domain has one spelling, a look-alike shows as what it
    /// is, and mail needs no SMTPUTF8. Refused when a label, decoded, mixes scripts
    /// the way a look-alike does (UTS #39 "highly restrictive", as usernames) or is
    /// made of letters that all look like ASCII ones (`аррӏе` in Cyrillic).
    fn with_mapped_domain(address: &str) -> Result<String, String> {
        let invalid = || "is not a valid email address".to_string();
        let (local, domain) = address.rsplit_once('@').ok_or_else(invalid)?;
        // RFC 5321's limit: mail to a longer local part is refused on the way out.
        if local.len() > 64 {
            return Err(invalid());
        }
        let (decoded, errors) = idna::domain_to_unicode(domain);
        if errors.is_err() || !decoded.contains('.') || decoded.split('.').any(str::is_empty) {
            return Err(invalid());
        }
        for label in decoded.split('.') {
            if !label.check_restriction_level(RestrictionLevel::HighlyRestrictive) {
                return Err("must not mix letters of different scripts in its domain".into());
            }
            if !label.is_ascii() && unicode_security::skeleton(label).all(|c| c.is_ascii()) {
                return Err("must not have a domain that looks like another one".into());
            }
        }
        let ascii = idna::domain_to_ascii_strict(&decoded).map_err(|_| invalid())?;
        // A top-level label of digits is an address literal, not a domain.
        if ascii
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(invalid());
        }
        Ok(format!("{local}@{ascii}"))
    }
}

/// The key a typed login (username or email) is looked up by: every spelling that
/// finds one account gives one key, so limits keyed by it cannot be dodged.
pub fn lookup_key(login: &str) -> String {
    if login_key(login).contains('@') {
        email_lookup_key(login)
    } else {
        login_key(login)
    }
}

/// The key a typed address is looked up by: that of the address as [`Email::parse`]
/// would store it (its domain mapped), or the plain login key of anything else.
pub fn email_lookup_key(input: &str) -> String {
    Email::parse(input.trim()).map_or_else(|_| login_key(input), |email| email.key)
}

/// How a person likes to be called, shown instead of the username where set: NFC,
/// trimmed, at most 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const RULE: TextRule = TextRule {
        max_chars: 100,
        min_chars: 0,
        multiline: false,
    };

    /// `Ok(None)` for empty or blank input, which leaves the name unset.
    pub fn parse(input: &str) -> Result<Option<DisplayName>, String> {
        let text = Self::RULE.clean(input)?;
        Ok((!text.is_empty()).then_some(DisplayName(text)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The form a username or email is looked up by: NFKC, trimmed, lower case.
pub fn login_key(input: &str) -> String {
    input.nfkc().collect::<String>().trim().to_lowercase()
}
