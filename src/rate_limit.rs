//! Rate limits (GCRA buckets from governor, in memory, so per instance): one keyed
//! limiter per kind of request, keyed by client address or by login. The flows check
//! them before any work, so the API and the pages are limited alike.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{digest, SHA256};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::{Rate, RateLimits};
use crate::error::AppError;
use crate::sessions::ClientInfo;

/// What a request spends from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Logins and second-factor codes, per client address.
    Login,
    /// Logins per login identifier and second-factor codes per account.
    LoginAccount,
    Register,
    Refresh,
    /// Password and two-factor management, per client address.
    Password,
    /// Requests to change an account's address, per account.
    EmailChangeAccount,
}

const LIMITS: usize = 6;

/// Past this many keys in one limiter, forgotten buckets are swept (at most every
/// `SWEEP_INTERVAL`), so a flood of distinct addresses cannot grow memory without end.
const SWEEP_ABOVE_KEYS: usize = 10_000;
const SWEEP_INTERVAL: Duration = Duration::from_secs(10);

pub struct RateLimiter {
    enabled: bool,
    limiters: [DefaultKeyedRateLimiter<String>; LIMITS],
    last_sweep: AtomicU64,
}

impl RateLimiter {
    pub fn new(settings: &RateLimits) -> RateLimiter {
        let keyed = |rate: Rate| DefaultKeyedRateLimiter::keyed(quota(rate));
        RateLimiter {
            enabled: settings.rate_limit_enabled,
            limiters: [
                keyed(settings.rate_limit_login),
                keyed(settings.rate_limit_login_account),
                keyed(settings.rate_limit_register),
                keyed(settings.rate_limit_refresh),
                keyed(settings.rate_limit_password),
                keyed(settings.rate_limit_email_change_account),
            ],
            last_sweep: AtomicU64::new(0),
        }
    }

    /// Spends one request of `limit` for the client's address; 429 when none is left.
    /// IPv6 clients are counted per /64, the block one subscriber usually holds.
    pub fn by_address(&self, limit: Limit, client: &ClientInfo) -> Result<(), AppError> {
        let address = client.ip.as_deref().unwrap_or("unknown");
        match address.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => {
                let [a, b, c, d, ..] = v6.segments();
                self.check(limit, &format!("{a:x}:{b:x}:{c:x}:{d:x}::/64"))
            }
            _ => self.check(limit, address),
        }
    }

    /// Spends one request of `limit` for a login identifier as typed (normalised),
    /// never for the account it names: an allowance spent on a username says nothing
    /// about which email belongs to it. Keyed by a digest, so a kilobyte of login
    /// costs no more memory than a short one.
    pub fn by_login(&self, limit: Limit, login_key: &str) -> Result<(), AppError> {
        self.check(limit, &format!("login:{}", short_digest(login_key)))
    }

    /// Spends one request of `limit` for the account `id`, however it was named.
    pub fn by_account(&self, limit: Limit, id: i64) -> Result<(), AppError> {
        self.check(limit, &format!("account:{id}"))
    }

    /// Spends one request of `limit` for `key`.
    fn check(&self, limit: Limit, key: &str) -> Result<(), AppError> {
        if !self.enabled {
            return Ok(());
        }
        let limiter = &self.limiters[limit as usize];
        let verdict = limiter.check_key(&key.to_owned());
        if limiter.len() > SWEEP_ABOVE_KEYS {
            sweep(limiter, &self.last_sweep);
        }
        verdict.map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            AppError::RateLimited {
                retry_after: i64::try_from(wait.as_secs()).unwrap_or(i64::MAX) + 1,
            }
        })
    }
}

/// The first 128 bits of SHA-256 of `text`, in hex: a key that costs the same memory
/// whatever it stands for, and does not keep an address or login in memory.
pub fn short_digest(text: &str) -> String {
    digest(&SHA256, text.as_bytes()).as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Forgets the keys of `limiter` whose allowance is whole again, at most once per
/// `SWEEP_INTERVAL` (`last_sweep` marks the last), so a flood of distinct keys cannot
/// grow memory without end. Any keyed limiter of ours (the outbox's throttle too).
pub fn sweep(limiter: &DefaultKeyedRateLimiter<String>, last_sweep: &AtomicU64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = last_sweep.load(Ordering::Relaxed);
    if now.saturating_sub(last) < SWEEP_INTERVAL.as_secs() {
        return;
    }
    // Only the caller that moves the mark sweeps.
    if last_sweep
        .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
        .is_ok()
    {
        limiter.retain_recent();
        limiter.shrink_to_fit();
    }
}

/// `count` at once, coming back evenly over `period`.
pub fn quota(rate: Rate) -> Quota {
    let interval = rate.period / rate.count.get();
    Quota::with_period(interval.max(Duration::from_nanos(1)))
        .expect("a positive interval")
        .allow_burst(rate.count)
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    fn limits(enabled: bool) -> RateLimits {
        let rate = |n| Rate {
            count: NonZeroU32::new(n).unwrap(),
            period: Duration::from_secs(60),
        };
        RateLimits {
            rate_limit_enabled: enabled,
            rate_limit_login: rate(2),
            rate_limit_login_account: rate(3),
            rate_limit_register: rate(1),
            rate_limit_refresh: rate(1),
            rate_limit_password: rate(1),
            rate_limit_email_change_account: rate(1),
        }
    }

    #[test]
    fn each_key_has_its_own_bucket_and_the_refusal_says_how_long_to_wait() {
        let limiter = RateLimiter::new(&limits(true));
        assert!(limiter.check(Limit::Login, "10.0.0.1").is_ok());
        assert!(limiter.check(Limit::Login, "10.0.0.1").is_ok());
        match limiter.check(Limit::Login, "10.0.0.1") {
            Err(AppError::RateLimited { retry_after }) => assert!((1..=31).contains(&retry_after)),
            other => panic!("expected 429, got {other:?}"),
        }
        assert!(limiter.check(Limit::Login, "10.0.0.2").is_ok());
        assert!(limiter.check(Limit::Register, "10.0.0.1").is_ok());
    }

    #[test]
    fn switched_off_nothing_is_limited() {
        let limiter = RateLimiter::new(&limits(false));
        for _ in 0..100 {
            assert!(limiter.check(Limit::Register, "10.0.0.1").is_ok());
        }
    }
}
