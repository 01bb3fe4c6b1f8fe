//! Rate limits: one GCRA bucket per kind of request and key (client address, login,
//! account), checked by the flows before any work, so the API and the pages are
//! limited alike. The buckets live in memory (governor), so per instance, or, with
//! `rate_limit_store = "database"` (the default on PostgreSQL), in one UNLOGGED table
//! every instance shares: one statement per check (limits above 100 per period take
//! leases of 1 %), keyed by a digest, so N instances allow what one does. This module
//! owns that table's SQL.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{digest, SHA256};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use sqlx::AnyPool;

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
    /// Ceremonies started by no session (passkey sign-ins), per client address.
    Ceremony,
}

impl Limit {
    fn name(self) -> &'static str {
        match self {
            Limit::Login => "login",
            Limit::LoginAccount => "login_account",
            Limit::Register => "register",
            Limit::Refresh => "refresh",
            Limit::Password => "password",
            Limit::EmailChangeAccount => "email_change_account",
            Limit::Ceremony => "ceremony",
        }
    }
}

const LIMITS: usize = 7;

/// Past this many keys in one limiter, forgotten buckets are swept (at most every
/// `SWEEP_INTERVAL`), so a flood of distinct addresses cannot grow memory without end.
const SWEEP_ABOVE_KEYS: usize = 10_000;
const SWEEP_INTERVAL: Duration = Duration::from_secs(10);

/// Where buckets are kept.
#[derive(Clone)]
pub enum Store {
    /// In this instance's memory.
    Memory,
    /// In the shared `rate_limits` table of this PostgreSQL database.
    Database(AnyPool),
}

/// The allowance of one kind of request, per key, in the configured store.
pub struct Bucket {
    name: &'static str,
    rate: Rate,
    memory: DefaultKeyedRateLimiter<String>,
    last_sweep: AtomicU64,
    store: Store,
    /// Requests of the shared allowance this instance took ahead, per key, and until
    /// when they may be spent.
    leases: Mutex<HashMap<String, Lease>>,
}

impl Bucket {
    pub fn new(name: &'static str, rate: Rate, store: Store) -> Bucket {
        Bucket {
            name,
            rate,
            memory: DefaultKeyedRateLimiter::keyed(quota(rate)),
            last_sweep: AtomicU64::new(0),
            store,
            leases: Mutex::default(),
        }
    }

    /// Takes one from `key`'s allowance; the seconds to wait when none is left.
    pub async fn take(&self, key: &str) -> Result<Result<(), i64>, sqlx::Error> {
        match &self.store {
            Store::Memory => {
                let verdict = self.memory.check_key(&key.to_owned());
                if self.memory.len() > SWEEP_ABOVE_KEYS {
                    sweep(&self.memory, &self.last_sweep);
                }
                Ok(verdict.map_err(|not_until| {
                    let wait = not_until.wait_time_from(DefaultClock::default().now());
                    i64::try_from(wait.as_secs()).unwrap_or(i64::MAX) + 1
                }))
            }
            Store::Database(pool) => {
                let key = short_digest(&format!("{}:{key}", self.name));
                take_leased(pool, &self.leases, key, self.rate).await
            }
        }
    }
}

pub struct RateLimiter {
    enabled: bool,
    buckets: [Bucket; LIMITS],
}

impl RateLimiter {
    pub fn new(settings: &RateLimits, store: Store) -> RateLimiter {
        let bucket = |limit: Limit, rate: Rate| Bucket::new(limit.name(), rate, store.clone());
        RateLimiter {
            enabled: settings.rate_limit_enabled,
            buckets: [
                bucket(Limit::Login, settings.rate_limit_login),
                bucket(Limit::LoginAccount, settings.rate_limit_login_account),
                bucket(Limit::Register, settings.rate_limit_register),
                bucket(Limit::Refresh, settings.rate_limit_refresh),
                bucket(Limit::Password, settings.rate_limit_password),
                bucket(
                    Limit::EmailChangeAccount,
                    settings.rate_limit_email_change_account,
                ),
                bucket(Limit::Ceremony, settings.rate_limit_ceremony),
            ],
        }
    }

    /// Spends one request of `limit` for the client's address; 429 when none is left.
    /// IPv6 clients are counted per /64, the block one subscriber usually holds.
    pub async fn by_address(&self, limit: Limit, client: &ClientInfo) -> Result<(), AppError> {
        let address = client.ip.as_deref().unwrap_or("unknown");
        match address.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => {
                let [a, b, c, d, ..] = v6.segments();
                self.check(limit, &format!("{a:x}:{b:x}:{c:x}:{d:x}::/64"))
                    .await
            }
            _ => self.check(limit, address).await,
        }
    }

    /// Spends one request of `limit` for a login identifier as typed (normalised),
    /// never for the account it names: an allowance spent on a username says nothing
    /// about which email belongs to it. Keyed by a digest, so a kilobyte of login
    /// costs no more memory than a short one.
    pub async fn by_login(&self, limit: Limit, login_key: &str) -> Result<(), AppError> {
        self.check(limit, &format!("login:{}", short_digest(login_key)))
            .await
    }

    /// Spends one request of `limit` for the account `id`, however it was named.
    pub async fn by_account(&self, limit: Limit, id: i64) -> Result<(), AppError> {
        self.check(limit, &format!("account:{id}")).await
    }

    /// Spends one request of `limit` for `key`.
    async fn check(&self, limit: Limit, key: &str) -> Result<(), AppError> {
        if !self.enabled {
            return Ok(());
        }
        match self.buckets[limit as usize].take(key).await? {
            Ok(()) => Ok(()),
            Err(retry_after) => Err(AppError::RateLimited { retry_after }),
        }
    }
}

/// How many of a shared allowance an instance takes at once: 1 % of the count, so
/// high limits cost a database statement once per hundredth of their allowance,
/// while limits of 100 or fewer per period are checked in the database every time.
/// Leased requests are taken from the shared allowance before they are spent, so the
/// instances together never admit more than the limit; at worst each leaves 1 %
/// unused.
fn lease_size(rate: Rate) -> u32 {
    (rate.count.get() / 100).max(1)
}

/// Requests taken ahead from a shared allowance. They may be spent only within the
/// time they stand for (their emission intervals): spent later, they would come on
/// top of an allowance whole again.
struct Lease {
    left: u32,
    until: std::time::Instant,
}

/// Takes one of `key`'s shared allowance: from this instance's lease if it holds one,
/// else a new lease from the database (or, near the limit, a single request).
async fn take_leased(
    pool: &AnyPool,
    leases: &Mutex<HashMap<String, Lease>>,
    key: String,
    rate: Rate,
) -> Result<Result<(), i64>, sqlx::Error> {
    let now = std::time::Instant::now();
    {
        let mut leases = leases.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(lease) = leases
            .get_mut(&key)
            .filter(|lease| lease.left > 0 && lease.until > now)
        {
            lease.left -= 1;
            return Ok(Ok(()));
        }
    }
    let size = lease_size(rate);
    let mut taken = take_shared(pool, &key, rate, size).await?;
    if taken.is_err() && size > 1 {
        taken = take_shared(pool, &key, rate, 1).await?;
    }
    let taken = match taken {
        Ok(taken) => taken,
        Err(retry_after) => return Ok(Err(retry_after)),
    };
    if taken > 1 {
        let lasts = rate.period / rate.count.get() * taken;
        let mut leases = leases.lock().unwrap_or_else(|e| e.into_inner());
        if leases.len() >= SWEEP_ABOVE_KEYS {
            // Forgetting a lease only leaves its requests unused.
            leases.retain(|_, lease| lease.left > 0 && lease.until > now);
        }
        // Leases taken at once by concurrent requests add up (dropping one would
        // waste its share of the allowance); what is left when they lapse is unused.
        let lease = leases.entry(key).or_insert(Lease {
            left: 0,
            until: now,
        });
        if lease.until <= now {
            lease.left = 0;
        }
        lease.left += taken - 1;
        lease.until = lease.until.max(now + lasts);
    }
    Ok(Ok(()))
}

/// The database's clock in unix microseconds: every instance's steps use the same
/// time, so one whose clock runs ahead cannot push the buckets into the future.
/// Microseconds, so a limit of a million a minute still has its own interval.
const DB_NOW_US: &str = "CAST(EXTRACT(EPOCH FROM statement_timestamp()) * 1000000 AS BIGINT)";

/// One GCRA step for `count` requests in one statement: the bucket's theoretical
/// arrival time (`tat`, unix µs) moves on by `count` emission intervals if that keeps
/// it within the period of now; otherwise no row changes. Concurrent steps on one key
/// are serialised by the row's lock, so the count is exact across instances. Only a
/// refusal reads the row again, to say how long to wait.
async fn take_shared(
    pool: &AnyPool,
    key: &str,
    rate: Rate,
    count: u32,
) -> Result<Result<u32, i64>, sqlx::Error> {
    let period = i64::try_from(rate.period.as_micros()).unwrap_or(i64::MAX);
    let interval = (period / i64::from(rate.count.get())).max(1);
    let step = interval * i64::from(count);
    let done = sqlx::query(&format!(
        "INSERT INTO rate_limits AS r (key, tat) VALUES ($1, {DB_NOW_US} + $2) \
         ON CONFLICT (key) DO UPDATE SET tat = GREATEST(r.tat, {DB_NOW_US}) + $2 \
         WHERE GREATEST(r.tat, {DB_NOW_US}) + $2 - {DB_NOW_US} <= $3"
    ))
    .bind(key)
    .bind(step)
    .bind(period)
    .execute(pool)
    .await?;
    if done.rows_affected() == 1 {
        return Ok(Ok(count));
    }
    let ahead: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT tat - {DB_NOW_US} FROM rate_limits WHERE key = $1"
    ))
    .bind(key)
    .fetch_optional(pool)
    .await?;
    let wait = ahead.map_or(0, |ahead| ahead + interval - period);
    Ok(Err(wait.max(0) / 1_000_000 + 1))
}

/// Deletes up to `batch` buckets whose allowance was whole again an hour before
/// `now_us` (unix µs, this instance's clock; pruning, in batches; the hour is room for
/// clocks that differ from the database's, which the steps use).
pub async fn delete_full_buckets(
    pool: &AnyPool,
    now_us: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM rate_limits WHERE key IN \
         (SELECT key FROM rate_limits WHERE tat < $1 LIMIT $2)",
    )
    .bind(now_us - 3_600_000_000)
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// The current time for [`delete_full_buckets`], in unix µs.
pub fn pruning_now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
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
            rate_limit_ceremony: rate(1),
            rate_limit_email_change_account: rate(1),
            rate_limit_store: crate::config::rate_limits::StoreChoice::Memory,
        }
    }

    #[test]
    fn each_key_has_its_own_bucket_and_the_refusal_says_how_long_to_wait() {
        let limiter = RateLimiter::new(&limits(true), Store::Memory);
        let check = |limit, key| {
            rocket::tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(limiter.check(limit, key))
        };
        assert!(check(Limit::Login, "10.0.0.1").is_ok());
        assert!(check(Limit::Login, "10.0.0.1").is_ok());
        match check(Limit::Login, "10.0.0.1") {
            Err(AppError::RateLimited { retry_after }) => assert!((1..=31).contains(&retry_after)),
            other => panic!("expected 429, got {other:?}"),
        }
        assert!(check(Limit::Login, "10.0.0.2").is_ok());
        assert!(check(Limit::Register, "10.0.0.1").is_ok());
    }

    #[test]
    fn switched_off_nothing_is_limited() {
        let limiter = RateLimiter::new(&limits(false), Store::Memory);
        let runtime = rocket::tokio::runtime::Runtime::new().unwrap();
        for _ in 0..100 {
            assert!(runtime
                .block_on(limiter.check(Limit::Register, "10.0.0.1"))
                .is_ok());
        }
    }
}
