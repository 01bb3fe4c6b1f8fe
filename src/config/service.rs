//! The service: whether anyone may register, how long readiness waits for the
//! database, how long guards trust a session's cached state, and whether the API
//! documents itself.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError, Profile};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Raw {
    pub registration_open: bool,
    pub health_timeout_ms: u64,
    pub session_cache_ms: u64,
    pub api_docs: bool,
    pub listen_url: Option<String>,
    pub migrate_on_start: bool,
}

impl Raw {
    pub fn defaults(profile: Profile) -> Raw {
        Raw {
            registration_open: true,
            health_timeout_ms: 1000,
            session_cache_ms: 1000,
            api_docs: profile == Profile::Debug,
            listen_url: None,
            migrate_on_start: true,
        }
    }
}

impl Default for Raw {
    fn default() -> Self {
        Raw::defaults(Profile::Debug)
    }
}

#[derive(Debug, Clone)]
pub struct Service {
    pub registration_open: bool,
    pub health_timeout_ms: u64,
    /// How long a guard may trust its cached view of a session changed by another
    /// process; 0 reads the database on every request.
    pub session_cache_ms: u64,
    /// Serve `GET /api/openapi.json` and Swagger UI at `/api/docs`.
    pub api_docs: bool,
    /// PostgreSQL: where to listen for change announcements when the pool's URL goes
    /// through a transaction-pooling proxy (LISTEN needs a session of its own).
    pub listen_url: Option<String>,
    /// Apply migrations at start; off, `gatehouse migrate` does it (rolling upgrades).
    pub migrate_on_start: bool,
}

impl Service {
    pub fn from_raw(raw: Raw) -> Result<Service, ConfigError> {
        if raw.health_timeout_ms == 0 {
            return Err(invalid("health_timeout_ms", "must be greater than zero"));
        }
        if raw.session_cache_ms > 60_000 {
            return Err(invalid(
                "session_cache_ms",
                "must be at most 60000 (one minute)",
            ));
        }
        Ok(Service {
            registration_open: raw.registration_open,
            health_timeout_ms: raw.health_timeout_ms,
            session_cache_ms: raw.session_cache_ms,
            api_docs: raw.api_docs,
            listen_url: raw.listen_url.filter(|url| !url.trim().is_empty()),
            migrate_on_start: raw.migrate_on_start,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_bounded_and_readiness_needs_a_timeout() {
        assert!(Service::from_raw(Raw::default()).is_ok());
        assert!(Service::from_raw(Raw {
            session_cache_ms: 60_001,
            ..Raw::default()
        })
        .is_err());
        assert!(Service::from_raw(Raw {
            health_timeout_ms: 0,
            ..Raw::default()
        })
        .is_err());
    }
}
