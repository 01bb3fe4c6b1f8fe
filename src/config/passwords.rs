//! Passwords: the argon2id parameters, how many hashes run at once, and the length
//! bounds of a new password.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError, Profile};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Raw {
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// `None`: one fewer than the CPU cores (at least one).
    pub hash_concurrency: Option<usize>,
    pub hash_queue_max: usize,
    pub password_min_length: usize,
    pub password_max_length: usize,
}

impl Raw {
    pub fn defaults(_profile: Profile) -> Raw {
        Raw {
            // OWASP's recommended minimum for argon2id.
            argon2_memory_kib: 19456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            hash_concurrency: None,
            // About a second of waiting at OWASP's parameters on one hashing thread.
            hash_queue_max: 64,
            password_min_length: 8,
            password_max_length: 1024,
        }
    }
}

impl Default for Raw {
    fn default() -> Self {
        Raw::defaults(Profile::Debug)
    }
}

#[derive(Debug, Clone)]
pub struct Passwords {
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    pub hash_concurrency: usize,
    /// Hashes that may wait or run at once; past it a request answers 503.
    pub hash_queue_max: usize,
    pub password_min_length: usize,
    pub password_max_length: usize,
}

impl Passwords {
    pub fn from_raw(raw: Raw) -> Result<Passwords, ConfigError> {
        if argon2::Params::new(
            raw.argon2_memory_kib,
            raw.argon2_iterations,
            raw.argon2_parallelism,
            None,
        )
        .is_err()
        {
            return Err(invalid(
                "argon2_memory_kib",
                format!(
                    "argon2 rejects m={} KiB, t={}, p={} (memory must be at least 8 x parallelism, iterations and parallelism at least 1)",
                    raw.argon2_memory_kib, raw.argon2_iterations, raw.argon2_parallelism
                ),
            ));
        }
        let hash_concurrency = match raw.hash_concurrency {
            Some(0) => return Err(invalid("hash_concurrency", "must be at least 1")),
            Some(n) => n,
            // One core is left to serve requests, so a login storm cannot starve them.
            None => std::thread::available_parallelism()
                .map_or(1, |n| usize::from(n).saturating_sub(1).max(1)),
        };
        if raw.hash_queue_max < hash_concurrency {
            return Err(invalid(
                "hash_queue_max",
                format!("must be at least hash_concurrency ({hash_concurrency})"),
            ));
        }
        if raw.password_min_length == 0 {
            return Err(invalid("password_min_length", "must be at least 1"));
        }
        if raw.password_max_length < raw.password_min_length || raw.password_max_length > 4096 {
            return Err(invalid(
                "password_max_length",
                "must be between password_min_length and 4096 bytes",
            ));
        }
        Ok(Passwords {
            argon2_memory_kib: raw.argon2_memory_kib,
            argon2_iterations: raw.argon2_iterations,
            argon2_parallelism: raw.argon2_parallelism,
            hash_concurrency,
            hash_queue_max: raw.hash_queue_max,
            password_min_length: raw.password_min_length,
            password_max_length: raw.password_max_length,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_leaves_a_core_and_bad_parameters_are_named() {
        let passwords = Passwords::from_raw(Raw::default()).unwrap();
        assert!(passwords.hash_concurrency >= 1);
        let tiny = Raw {
            argon2_memory_kib: 1,
            ..Raw::default()
        };
        assert!(Passwords::from_raw(tiny)
            .unwrap_err()
            .to_string()
            .contains("argon2"));
        let inverted = Raw {
            password_max_length: 4,
            ..Raw::default()
        };
        assert!(Passwords::from_raw(inverted).is_err());
    }
}
