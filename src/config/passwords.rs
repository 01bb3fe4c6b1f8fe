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
    pub password_breach_check: bool,
    pub password_breach_api: String,
    pub password_breach_timeout_ms: u64,
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
            // NIST SP 800-63B rev. 4 for a password that is the only factor.
            password_min_length: 15,
            password_max_length: 1024,
            password_breach_check: false,
            password_breach_api: "https://api.pwnedpasswords.com/range/".into(),
            password_breach_timeout_ms: 1500,
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
    /// Ask the range API whether a new password was in a known breach.
    pub password_breach_check: bool,
    pub password_breach_api: String,
    pub password_breach_timeout_ms: u64,
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
        if !(8..=64).contains(&raw.password_min_length) {
            return Err(invalid(
                "password_min_length",
                "must be between 8 and 64 characters (NIST SP 800-63B asks at least 8, and 15 \
                 when the password is the only factor)",
            ));
        }
        // 64 characters of any script, at four bytes each at most, must fit.
        if !(256..=4096).contains(&raw.password_max_length) {
            return Err(invalid(
                "password_max_length",
                "must be between 256 bytes (64 characters of any script) and 4096 bytes",
            ));
        }
        let api = raw.password_breach_api.trim();
        if !(api.starts_with("https://") || api.starts_with("http://")) {
            return Err(invalid(
                "password_breach_api",
                "must be an http(s) URL ending where the five-digit prefix goes",
            ));
        }
        if !(100..=10_000).contains(&raw.password_breach_timeout_ms) {
            return Err(invalid(
                "password_breach_timeout_ms",
                "must be between 100 and 10000 milliseconds",
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
            password_breach_check: raw.password_breach_check,
            password_breach_api: api.to_string(),
            password_breach_timeout_ms: raw.password_breach_timeout_ms,
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
        for (min, max) in [(15, 4), (15, 255), (7, 1024), (65, 1024), (15, 5000)] {
            let bounds = Raw {
                password_min_length: min,
                password_max_length: max,
                ..Raw::default()
            };
            assert!(Passwords::from_raw(bounds).is_err(), "{min}..{max}");
        }
    }
}
