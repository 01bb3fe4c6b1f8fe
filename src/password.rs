//! Password hashing with argon2id. Hashes run on Tokio's blocking pool behind a
//! semaphore, so a burst of logins neither stalls the async workers nor holds more
//! than `hash_concurrency` argon2 memory blocks at once.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rocket::tokio::sync::Semaphore;
use rocket::tokio::task;

use crate::config::Settings;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("password hashing task failed: {0}")]
    Task(String),
}

/// The result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Mismatch,
    Match,
    /// The password is right but the hash was made with other parameters than the
    /// configured ones: the caller should store a fresh hash.
    MatchNeedsRehash,
}

/// Hashes and verifies passwords with the configured parameters.
#[derive(Clone)]
pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified in place of a missing account's hash so
    /// that an unknown login costs the same time as a wrong password.
    dummy_hash: Arc<str>,
}

impl Hasher {
    pub fn new(settings: &Settings) -> Result<Hasher, HashError> {
        let params = Params::new(
            settings.argon2_memory_kib,
            settings.argon2_iterations,
            settings.argon2_parallelism,
            None,
        )
        .map_err(|e| HashError::Hash(e.to_string()))?;
        let dummy_password = crate::random::token(24);
        let dummy_hash = hash_with(&params, &dummy_password)?.into();
        Ok(Hasher {
            params,
            permits: Arc::new(Semaphore::new(settings.hash_concurrency)),
            dummy_hash,
        })
    }

    /// Hashes `password` into a PHC string.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let params = self.params.clone();
        let password = password.to_owned();
        self.run_blocking(move || hash_with(&params, &password))
            .await?
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no
    /// account, so both paths take the same time.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<Verdict, HashError> {
        let params = self.params.clone();
        let password = password.to_owned();
        let (hash, real) = match stored {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy_hash.to_string(), false),
        };
        self.run_blocking(move || {
            let verdict = verify_with(&params, &password, &hash);
            if real {
                verdict
            } else {
                Verdict::Mismatch
            }
        })
        .await
    }

    async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| HashError::Task(e.to_string()))?;
        task::spawn_blocking(work)
            .await
            .map_err(|e| HashError::Task(e.to_string()))
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_with(params: &Params, password: &str) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(&crate::random::bytes(16))
        .map_err(|e| HashError::Hash(e.to_string()))?;
    argon2(params)
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError::Hash(e.to_string()))
}

fn verify_with(params: &Params, password: &str, stored: &str) -> Verdict {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verdict::Mismatch;
    };
    // Verification uses the parameters recorded in the hash itself; argon2 compares
    // the outputs in constant time.
    if argon2(params)
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Verdict::Mismatch;
    }
    let current = parsed.algorithm == Algorithm::Argon2id.ident()
        && parsed.version == Some(Version::V0x13.into())
        && Params::try_from(&parsed).is_ok_and(|p| {
            p.m_cost() == params.m_cost()
                && p.t_cost() == params.t_cost()
                && p.p_cost() == params.p_cost()
        });
    if current {
        Verdict::Match
    } else {
        Verdict::MatchNeedsRehash
    }
}
