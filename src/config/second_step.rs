//! The pending second step of a login, which Gatehouse keeps whatever second factors
//! its parts offer: how long the password-only session lives, and how many wrong
//! codes it may receive. The keys keep their `two_factor_` names.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError, Profile};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Raw {
    pub two_factor_max_attempts: u32,
    pub two_factor_pending_ttl: u64,
}

impl Raw {
    pub fn defaults(_profile: Profile) -> Raw {
        Raw {
            two_factor_max_attempts: 3,
            two_factor_pending_ttl: 5 * 60,
        }
    }
}

impl Default for Raw {
    fn default() -> Self {
        Raw::defaults(Profile::Debug)
    }
}

#[derive(Debug, Clone)]
pub struct SecondStep {
    /// Wrong codes a pending session may receive before it is revoked.
    pub two_factor_max_attempts: i64,
    /// Seconds a pending (password-only) session lives.
    pub two_factor_pending_ttl: i64,
}

impl SecondStep {
    pub fn from_raw(raw: Raw) -> Result<SecondStep, ConfigError> {
        if !(1..=10).contains(&raw.two_factor_max_attempts) {
            return Err(invalid(
                "two_factor_max_attempts",
                "must be between 1 and 10",
            ));
        }
        if !(30..=3600).contains(&raw.two_factor_pending_ttl) {
            return Err(invalid(
                "two_factor_pending_ttl",
                "must be between 30 and 3600 seconds",
            ));
        }
        Ok(SecondStep {
            two_factor_max_attempts: i64::from(raw.two_factor_max_attempts),
            two_factor_pending_ttl: raw.two_factor_pending_ttl as i64,
        })
    }
}
