//! What `GET /metrics` shows an operator, in the Prometheus text format: requests by
//! route and status with their latency, login outcomes, lockouts, second-factor
//! failures, the hashing queue, the database pool and the session cache.
//!
//! One registry per app (tests run many apps in one process). Parts that measure
//! themselves (the hasher's queue wait, the session cache's hits) own their
//! instruments and lend them here; gauges of current state are read at scrape time.

use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use crate::db::DbPool;

pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Seconds, from half a millisecond to about 8 s: a cached `/me` lands in the
/// first buckets, a login (argon2) near 50 ms, a queue of them further up.
pub fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0005, 2.0, 15)
}

/// How a login attempt ended; the label of `logins_total`.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum LoginOutcome {
    success,
    /// The password was right and a second factor is now awaited.
    second_factor,
    wrong_password,
    unknown_login,
    locked,
    blocked,
    rate_limited,
    /// Inactive or unverified accounts, a busy hasher, and other refusals.
    refused,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: LoginOutcome,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    /// The matched route's template (`/api/admin/accounts/<id>`), never the path
    /// itself: bounded, and free of whatever a path may carry.
    route: String,
    status: u16,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// What the registry reads of the hashing queue (`password::Hasher` implements it),
/// so this module needs nothing of the password module's.
pub trait HashQueue: Send + Sync + 'static {
    /// Jobs admitted and not yet finished.
    fn queue_depth(&self) -> usize;
    /// How long jobs waited for a hashing thread, in seconds.
    fn wait_histogram(&self) -> Histogram;
}

pub struct Metrics {
    registry: Registry,
    requests: HistogramFamily<RequestLabels>,
    logins: Family<OutcomeLabels, Counter>,
    lockouts: Counter,
    second_factor_failures: Counter,
    hash_queue_depth: Gauge<i64, AtomicI64>,
    pool_connections: Gauge<i64, AtomicI64>,
    pool_idle: Gauge<i64, AtomicI64>,
    hasher: Arc<dyn HashQueue>,
    db: DbPool,
}

impl Metrics {
    /// `session_lookups`: the session cache's hit and miss counters, which it counts
    /// itself.
    pub fn new(
        hasher: Arc<dyn HashQueue>,
        session_lookups: (Counter, Counter),
        db: &DbPool,
    ) -> Arc<Metrics> {
        let mut registry = Registry::with_prefix(crate::config::app_name());
        let requests: HistogramFamily<RequestLabels> =
            Family::new_with_constructor(|| Histogram::new(latency_buckets()));
        registry.register_with_unit(
            "http_request_duration",
            "HTTP requests by route template, method and status, and how long they took",
            Unit::Seconds,
            requests.clone(),
        );
        let logins = Family::<OutcomeLabels, Counter>::default();
        registry.register("logins", "Login attempts by outcome", logins.clone());
        let lockouts = Counter::default();
        registry.register(
            "lockouts",
            "Accounts locked by failed attempts",
            lockouts.clone(),
        );
        let second_factor_failures = Counter::default();
        registry.register(
            "second_factor_failures",
            "Wrong one-time or recovery codes",
            second_factor_failures.clone(),
        );
        let hash_queue_depth = Gauge::default();
        registry.register(
            "hash_queue_depth",
            "Password hashes and checks admitted and not finished (queued or running)",
            hash_queue_depth.clone(),
        );
        registry.register_with_unit(
            "hash_queue_wait",
            "Time a password hash or check waited for a hashing thread",
            Unit::Seconds,
            hasher.wait_histogram(),
        );
        let pool_connections = Gauge::default();
        registry.register(
            "db_pool_connections",
            "Database connections open in the pool",
            pool_connections.clone(),
        );
        let pool_idle = Gauge::default();
        registry.register(
            "db_pool_idle_connections",
            "Database connections open and idle",
            pool_idle.clone(),
        );
        let (hits, misses) = session_lookups;
        registry.register(
            "session_cache_hits",
            "Session checks answered from memory",
            hits,
        );
        registry.register(
            "session_cache_misses",
            "Session checks that read the database",
            misses,
        );
        Arc::new(Metrics {
            registry,
            requests,
            logins,
            lockouts,
            second_factor_failures,
            hash_queue_depth,
            pool_connections,
            pool_idle,
            hasher,
            db: db.clone(),
        })
    }

    pub fn request(&self, method: &'static str, route: &str, status: u16, seconds: f64) {
        let labels = RequestLabels {
            method,
            route: route.to_string(),
            status,
        };
        self.requests.get_or_create(&labels).observe(seconds);
    }

    pub fn login(&self, outcome: LoginOutcome) {
        self.logins.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    pub fn lockout(&self) {
        self.lockouts.inc();
    }

    pub fn second_factor_failure(&self) {
        self.second_factor_failures.inc();
    }

    /// The text a scrape gets, with the current state's gauges read now.
    pub fn render(&self) -> String {
        let depth = i64::try_from(self.hasher.queue_depth()).unwrap_or(i64::MAX);
        self.hash_queue_depth.set(depth);
        self.pool_connections.set(i64::from(self.db.pool.size()));
        self.pool_idle
            .set(i64::try_from(self.db.pool.num_idle()).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }
}
