//! Lockout: how many wrong passwords (or codes) in a row lock an account, and for how
//! long.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError, Profile};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Raw {
    pub lockout_max_attempts: u32,
    pub lockout_duration: u64,
}

impl Raw {
    pub fn defaults(_profile: Profile) -> Raw {
        Raw {
            lockout_max_attempts: 5,
            lockout_duration: 15 * 60,
        }
    }
}

impl Default for Raw {
    fn default() -> Self {
        Raw::defaults(Profile::Debug)
    }
}

#[derive(Debug, Clone)]
pub struct Lockout {
    /// Wrong passwords in a row that lock an account; 0 never locks.
    pub lockout_max_attempts: i64,
    /// Seconds a lock lasts; `None` (configured as 0) until an admin unlocks.
    pub lockout_duration: Option<i64>,
}

impl Lockout {
    pub fn from_raw(raw: Raw) -> Result<Lockout, ConfigError> {
        if raw.lockout_max_attempts > 1000 {
            return Err(invalid(
                "lockout_max_attempts",
                "must be at most 1000 (0 turns locking off)",
            ));
        }
        let lockout_duration = match raw.lockout_duration {
            0 => None,
            seconds => Some(
                i64::try_from(seconds)
                    .ok()
                    .filter(|s| *s <= 365 * 24 * 60 * 60)
                    .ok_or_else(|| {
                        invalid(
                            "lockout_duration",
                            "must be at most one year (0 locks until an admin unlocks)",
                        )
                    })?,
            ),
        };
        Ok(Lockout {
            lockout_max_attempts: i64::from(raw.lockout_max_attempts),
            lockout_duration,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_until_an_admin_unlocks_and_bounds_hold() {
        let forever = Lockout::from_raw(Raw {
            lockout_duration: 0,
            ..Raw::default()
        })
        .unwrap();
        assert_eq!(forever.lockout_duration, None);
        assert!(Lockout::from_raw(Raw {
            lockout_max_attempts: 1001,
            ..Raw::default()
        })
        .is_err());
        assert!(Lockout::from_raw(Raw {
            lockout_duration: 400 * 24 * 60 * 60,
            ..Raw::default()
        })
        .is_err());
    }
}
