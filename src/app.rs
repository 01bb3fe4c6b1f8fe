//! The state every route and guard shares: settings, the database pool, token keys,
//! the password hasher, the rate limits and the clock, and the parts' own state in a
//! typed registry. Built once at ignition and managed by Rocket.

use std::sync::Arc;

use sqlx::AnyPool;

use crate::clock::Clock;
use crate::config::rate_limits::StoreChoice;
use crate::config::Settings;
use crate::db::{Backend, DbPool};
use crate::mail::Outbox;
use crate::metrics::Metrics;
use crate::password::breach::BreachCheck;
use crate::password::Hasher;
use crate::rate_limit::{RateLimiter, Store};
use crate::registry::Registry;
use crate::sessions::cache::SessionCache;
use crate::tokens::TokenKeys;

pub struct App {
    pub settings: Arc<Settings>,
    pub db: DbPool,
    pub keys: TokenKeys,
    pub hasher: Hasher,
    pub clock: Arc<dyn Clock>,
    pub session_cache: Arc<SessionCache>,
    pub rate_limits: RateLimiter,
    /// Set when `password_breach_check` is on.
    pub breach_check: Option<BreachCheck>,
    pub outbox: Outbox,
    pub metrics: Arc<Metrics>,
    /// What the parts and features keep (see [`crate::feature::Feature::start`]).
    pub registry: Registry,
}

impl App {
    /// Fails (with a sentence) when the mail transport cannot be set up.
    pub fn new(
        settings: Arc<Settings>,
        db: DbPool,
        hasher: Hasher,
        clock: Arc<dyn Clock>,
        registry: Registry,
    ) -> Result<App, String> {
        let keys = TokenKeys::new(&settings.tokens);
        let store = match (settings.rate_limits.rate_limit_store, db.backend) {
            (StoreChoice::Auto | StoreChoice::Database, Backend::Postgres) => {
                Store::Database(db.pool.clone())
            }
            (StoreChoice::Database, Backend::Sqlite) => {
                return Err(
                    "rate_limit_store = \"database\" needs PostgreSQL: on SQLite one \
                            process holds the database, so use \"memory\" (or \"auto\")"
                        .into(),
                )
            }
            _ => Store::Memory,
        };
        if settings.rate_limits.rate_limit_enabled {
            log::info!(
                "rate limits count {}",
                match store {
                    Store::Database(_) => "in the database, shared by every instance",
                    Store::Memory => "in this instance's memory",
                }
            );
        }
        let outbox = Outbox::new(
            &settings.mail,
            db.pool.clone(),
            Arc::clone(&clock),
            store.clone(),
        )?;
        let breach_check =
            BreachCheck::from_settings(&settings.passwords).unwrap_or_else(|error| {
                // Failing open, as the check does whenever the service cannot be asked.
                log::warn!("{error}; new passwords are not checked against breaches");
                None
            });
        let session_cache = Arc::new(SessionCache::new(settings.service.session_cache_ms));
        let metrics = Metrics::new(
            Arc::new(hasher.clone()),
            session_cache.lookup_counters(),
            &db,
        );
        Ok(App {
            outbox,
            breach_check,
            session_cache,
            metrics,
            rate_limits: RateLimiter::new(&settings.rate_limits, store),
            registry,
            settings,
            db,
            keys,
            hasher,
            clock,
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.db.pool
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
