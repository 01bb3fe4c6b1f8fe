//! Time as the app sees it: unix seconds from an injectable clock, so tests can move
//! time forward instead of sleeping through expiries.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Unix time in milliseconds.
    fn now_ms(&self) -> i64;

    /// Unix time in seconds.
    fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// `YYYY-MM-DD HH:MM` (UTC) of unix seconds, as pages and the CLI show times.
pub fn utc_minute(seconds: i64) -> String {
    match rocket::time::OffsetDateTime::from_unix_timestamp(seconds) {
        Ok(t) => format!(
            "{}-{:02}-{:02} {:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        Err(_) => seconds.to_string(),
    }
}

/// A clock that only moves when told to; shared between a test and the app it drives.
#[derive(Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// Starts at the real current time, so tokens look ordinary.
    pub fn new() -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(SystemClock.now_ms())))
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds * 1000, Ordering::SeqCst);
    }

    /// Moves to exactly `seconds` past the epoch (tests that need a time-step boundary).
    pub fn set(&self, seconds: i64) {
        self.0.store(seconds * 1000, Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
