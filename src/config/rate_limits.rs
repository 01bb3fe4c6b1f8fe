//! Rate limits: how many requests a client address (or a login) may make to the
//! endpoints that check secrets or create things, before it is answered 429.

use std::num::NonZeroU32;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError, Profile};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Raw {
    pub rate_limit_enabled: bool,
    pub rate_limit_login: String,
    pub rate_limit_login_account: String,
    pub rate_limit_register: String,
    pub rate_limit_refresh: String,
    pub rate_limit_password: String,
    pub rate_limit_ceremony: String,
    pub rate_limit_email_change_account: String,
    pub rate_limit_store: String,
}

impl Raw {
    pub fn defaults(_profile: Profile) -> Raw {
        // GoTrue's per-address figures where it has one (token endpoint 150 per 5
        // minutes, sign-up 30 per 5 minutes), allauth's 30 logins a minute per address.
        Raw {
            rate_limit_enabled: true,
            rate_limit_login: "30/minute".into(),
            rate_limit_login_account: "10/minute".into(),
            rate_limit_register: "30/5 minutes".into(),
            rate_limit_refresh: "150/5 minutes".into(),
            rate_limit_password: "10/minute".into(),
            // A login page view starts one (the autofill's passkey request).
            rate_limit_ceremony: "20/minute".into(),
            // Each request mails two inboxes; the owner rarely needs more.
            rate_limit_email_change_account: "3/hour".into(),
            rate_limit_store: "auto".into(),
        }
    }
}

impl Default for Raw {
    fn default() -> Self {
        Raw::defaults(Profile::Debug)
    }
}

/// A quota: `count` requests per `period`, all of which may come at once; the
/// allowance comes back evenly over the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub period: Duration,
}

impl Rate {
    /// Reads `30/minute`, `150/5 minutes`, `5/second`, `100/hour`, `1000/day`.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let shape = || format!("`{text}` is not a rate like \"30/minute\" or \"150/5 minutes\"");
        let (count, period) = text.split_once('/').ok_or_else(shape)?;
        let count: u32 = count.trim().parse().map_err(|_| shape())?;
        let count = NonZeroU32::new(count).ok_or_else(|| {
            "a rate of 0 refuses everything; set rate_limit_enabled = false to turn limits off"
                .to_string()
        })?;
        let period = period.trim();
        let (times, unit) = match period.split_once(' ') {
            Some((times, unit)) => (times.parse::<u64>().map_err(|_| shape())?, unit.trim()),
            None => (1, period),
        };
        let seconds = match unit.trim_end_matches('s') {
            "second" => 1,
            "minute" => 60,
            "hour" => 3600,
            "day" => 86_400,
            _ => return Err(shape()),
        };
        if times == 0 || times > 366 {
            return Err(shape());
        }
        Ok(Rate {
            count,
            period: Duration::from_secs(times * seconds),
        })
    }
}

#[derive(Debug, Clone)]
pub struct RateLimits {
    /// False turns every limit off (tests, benchmarks, a proxy that limits instead).
    pub rate_limit_enabled: bool,
    /// Per client address: logins and second-factor codes.
    pub rate_limit_login: Rate,
    /// Per login identifier (or account, for second-factor codes), from any address.
    pub rate_limit_login_account: Rate,
    /// Per client address: registrations.
    pub rate_limit_register: Rate,
    /// Per client address: refreshes.
    pub rate_limit_refresh: Rate,
    /// Per client address: the password and two-factor management endpoints.
    pub rate_limit_password: Rate,
    /// Per client address: ceremonies started by no session (passkey sign-ins).
    pub rate_limit_ceremony: Rate,
    /// Per account: requests to change its address.
    pub rate_limit_email_change_account: Rate,
    /// Where the buckets live (the mail budget's too).
    pub rate_limit_store: StoreChoice,
}

/// `rate_limit_store`: shared by every instance (the database) or per instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreChoice {
    /// The database on PostgreSQL, memory on SQLite.
    Auto,
    Memory,
    /// PostgreSQL only.
    Database,
}

impl RateLimits {
    pub fn from_raw(raw: Raw) -> Result<RateLimits, ConfigError> {
        let rate = |key: &'static str, text: &str| Rate::parse(text).map_err(|e| invalid(key, e));
        Ok(RateLimits {
            rate_limit_enabled: raw.rate_limit_enabled,
            rate_limit_login: rate("rate_limit_login", &raw.rate_limit_login)?,
            rate_limit_login_account: rate(
                "rate_limit_login_account",
                &raw.rate_limit_login_account,
            )?,
            rate_limit_register: rate("rate_limit_register", &raw.rate_limit_register)?,
            rate_limit_refresh: rate("rate_limit_refresh", &raw.rate_limit_refresh)?,
            rate_limit_password: rate("rate_limit_password", &raw.rate_limit_password)?,
            rate_limit_ceremony: rate("rate_limit_ceremony", &raw.rate_limit_ceremony)?,
            rate_limit_email_change_account: rate(
                "rate_limit_email_change_account",
                &raw.rate_limit_email_change_account,
            )?,
            rate_limit_store: match raw.rate_limit_store.trim() {
                "auto" => StoreChoice::Auto,
                "memory" => StoreChoice::Memory,
                "database" => StoreChoice::Database,
                other => {
                    return Err(invalid(
                        "rate_limit_store",
                        format!("`{other}` is not one of \"auto\", \"memory\" or \"database\""),
                    ))
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_like_sentences_and_zero_is_refused() {
        let rate = Rate::parse("150/5 minutes").unwrap();
        assert_eq!(rate.count.get(), 150);
        assert_eq!(rate.period, Duration::from_secs(300));
        assert_eq!(
            Rate::parse("30/minute").unwrap().period,
            Duration::from_secs(60)
        );
        assert_eq!(
            Rate::parse(" 2 / 1 hour ").unwrap().period,
            Duration::from_secs(3600)
        );
        for bad in [
            "30",
            "x/minute",
            "30/fortnight",
            "30/0 minutes",
            "-1/second",
        ] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
        assert!(Rate::parse("0/minute")
            .unwrap_err()
            .contains("rate_limit_enabled"));
        assert!(RateLimits::from_raw(Raw::default()).is_ok());
    }
}
