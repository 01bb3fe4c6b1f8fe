//! Bounds on what sessions and the audit trail may grow to: how long a session may
//! last however often it is refreshed, how many an account may hold at once, and how
//! long ended sessions and old audit events are kept before pruning removes them, and
//! how recent a proof of the user the `Fresh` guard wants.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError, Profile};

const DAY: u64 = 24 * 60 * 60;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Raw {
    pub session_max_lifetime: u64,
    pub max_sessions_per_account: u64,
    pub ended_session_retention: u64,
    pub audit_retention: u64,
    pub prune_interval: u64,
    pub reauthentication_max_age: u64,
}

impl Raw {
    pub fn defaults(_profile: Profile) -> Raw {
        Raw {
            session_max_lifetime: 30 * DAY,
            max_sessions_per_account: 50,
            ended_session_retention: 30 * DAY,
            audit_retention: 365 * DAY,
            prune_interval: 60 * 60,
            reauthentication_max_age: 10 * 60,
        }
    }
}

impl Default for Raw {
    fn default() -> Self {
        Raw::defaults(Profile::Debug)
    }
}

#[derive(Debug, Clone)]
pub struct Bounds {
    /// Seconds a session may last from its login, refreshes included.
    pub session_max_lifetime: i64,
    /// Live sessions an account may hold; a new login ends the oldest beyond it.
    pub max_sessions_per_account: i64,
    /// Seconds an expired or revoked session is kept (the sessions list's history,
    /// refresh-token reuse answers) before pruning deletes it.
    pub ended_session_retention: i64,
    /// Seconds audit events are kept; `None` (configured as 0) keeps them for ever.
    pub audit_retention: Option<i64>,
    /// Seconds between the server's pruning runs; `None` (0) leaves it to
    /// `gatehouse prune`.
    pub prune_interval: Option<u64>,
    /// Seconds a proof of the user (login, re-authentication) satisfies `Fresh`.
    pub reauthentication_max_age: i64,
}

impl Bounds {
    pub fn from_raw(raw: Raw) -> Result<Bounds, ConfigError> {
        let seconds = |key: &'static str, value: u64, min: u64, max: u64, what: &str| {
            if (min..=max).contains(&value) {
                Ok(value as i64)
            } else {
                Err(invalid(
                    key,
                    format!("must be between {min} and {max} seconds{what}"),
                ))
            }
        };
        let session_max_lifetime = seconds(
            "session_max_lifetime",
            raw.session_max_lifetime,
            60,
            365 * DAY,
            "",
        )?;
        if !(1..=10_000).contains(&raw.max_sessions_per_account) {
            return Err(invalid(
                "max_sessions_per_account",
                "must be between 1 and 10000",
            ));
        }
        let ended_session_retention = seconds(
            "ended_session_retention",
            raw.ended_session_retention,
            0,
            10 * 365 * DAY,
            "",
        )?;
        let audit_retention = match raw.audit_retention {
            0 => None,
            value => Some(seconds(
                "audit_retention",
                value,
                DAY,
                100 * 365 * DAY,
                " (0 keeps events for ever)",
            )?),
        };
        let prune_interval = match raw.prune_interval {
            0 => None,
            value => Some(seconds(
                "prune_interval",
                value,
                1,
                7 * DAY,
                " (0 turns the task off)",
            )? as u64),
        };
        let reauthentication_max_age = seconds(
            "reauthentication_max_age",
            raw.reauthentication_max_age,
            10,
            DAY,
            "",
        )?;
        Ok(Bounds {
            reauthentication_max_age,
            session_max_lifetime,
            max_sessions_per_account: raw.max_sessions_per_account as i64,
            ended_session_retention,
            audit_retention,
            prune_interval,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_keeps_events_and_stops_the_task_but_bounds_hold() {
        let bounds = Bounds::from_raw(Raw::default()).unwrap();
        assert_eq!(bounds.session_max_lifetime, 30 * DAY as i64);
        let forever = Bounds::from_raw(Raw {
            audit_retention: 0,
            prune_interval: 0,
            ..Raw::default()
        })
        .unwrap();
        assert_eq!(
            (forever.audit_retention, forever.prune_interval),
            (None, None)
        );
        for bad in [
            Raw {
                session_max_lifetime: 10,
                ..Raw::default()
            },
            Raw {
                max_sessions_per_account: 0,
                ..Raw::default()
            },
            Raw {
                audit_retention: 60,
                ..Raw::default()
            },
        ] {
            assert!(Bounds::from_raw(bad).is_err());
        }
    }
}
