//! Password hashing with argon2id on a small pool of dedicated threads.
//!
//! The pool has `hash_concurrency` threads, each owning one argon2 memory buffer that
//! it reuses for every hash. So a burst of logins never runs on the async workers,
//! never holds more than `hash_concurrency` buffers of `argon2_memory_kib` each (the
//! allocator cannot pile up retained blocks across ever-changing threads), and skips
//! the page faults of a fresh 19 MiB allocation per hash. Requests beyond the pool's
//! size wait in its queue without using argon2 memory, up to `hash_queue_max` of them;
//! past that a request is refused at once ([`HashError::Busy`], 503) rather than left
//! to wait without end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use prometheus_client::metrics::histogram::Histogram;
use rocket::tokio::sync::oneshot;

use crate::config::Passwords;

pub mod breach;
pub mod policy;

/// Length of the argon2 output stored in the PHC string, in bytes.
const OUTPUT_BYTES: usize = 32;
/// Length of the random salt, in bytes.
const SALT_BYTES: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the password hashing pool has stopped")]
    PoolStopped,
    /// `hash_queue_max` hashes are already waiting or running.
    #[error("too many passwords are waiting to be checked")]
    Busy,
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

/// Work for a hashing thread, given that thread's reusable memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// Hashes and verifies passwords with the configured parameters.
#[derive(Clone)]
pub struct Hasher {
    params: Params,
    jobs: Sender<Job>,
    /// Hashes admitted and not yet finished (queued or running), and the bound.
    admitted: Arc<AtomicUsize>,
    queue_max: usize,
    /// A hash of a random password, verified in place of a missing account's hash so
    /// that an unknown login costs the same time as a wrong password.
    dummy_hash: Arc<str>,
    /// Seconds each job waited in the queue before a thread took it (see
    /// [`crate::metrics`]).
    waited: Histogram,
}

impl Hasher {
    /// Starts `settings.hash_concurrency` hashing threads; they stop when the last
    /// clone of the `Hasher` is dropped.
    pub fn new(settings: &Passwords) -> Result<Hasher, HashError> {
        let params = Self::params(settings)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..settings.hash_concurrency {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("gatehouse-argon2-{index}"))
                .spawn(move || run_worker(&queue))
                .map_err(|e| HashError::Hash(format!("cannot start a hashing thread: {e}")))?;
        }
        let mut memory = Vec::new();
        let dummy_hash = hash_with(&params, &crate::random::token(24), &mut memory)?.into();
        Ok(Hasher {
            params,
            jobs,
            admitted: Arc::new(AtomicUsize::new(0)),
            queue_max: settings.hash_queue_max,
            dummy_hash,
            waited: Histogram::new(crate::metrics::latency_buckets()),
        })
    }

    /// Checks the argon2 parameters alone: no thread, no hash (so no memory the size of
    /// `argon2_memory_kib` is touched before the server needs it).
    pub fn check(settings: &Passwords) -> Result<(), HashError> {
        Self::params(settings).map(|_| ())
    }

    fn params(settings: &Passwords) -> Result<Params, HashError> {
        Params::new(
            settings.argon2_memory_kib,
            settings.argon2_iterations,
            settings.argon2_parallelism,
            Some(OUTPUT_BYTES),
        )
        .map_err(|e| HashError::Hash(e.to_string()))
    }

    /// A place in the queue, or `Busy` when `hash_queue_max` hashes are already
    /// admitted. Take it before anything that should not happen when the answer is
    /// "busy" (counting a login attempt, say); it is given back when dropped.
    pub fn ticket(&self) -> Result<HashTicket, HashError> {
        let admitted = Arc::clone(&self.admitted);
        let before = admitted.fetch_add(1, Ordering::AcqRel);
        // The ticket is built first so that its drop gives the place back either way.
        let ticket = HashTicket {
            hasher: self.clone(),
            admitted,
        };
        if before >= self.queue_max {
            return Err(HashError::Busy);
        }
        Ok(ticket)
    }

    /// Hashes and verifications admitted and not yet finished.
    pub fn queue_depth(&self) -> usize {
        self.admitted.load(Ordering::Acquire)
    }

    /// How long jobs waited for a hashing thread, in seconds.
    pub fn wait_histogram(&self) -> Histogram {
        self.waited.clone()
    }

    /// Hashes `password`'s normalised form (see [`policy::normalize`]) into a PHC string.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        self.ticket()?.hash(password).await
    }

    /// Checks `password` against `stored` (see [`HashTicket::verify`]).
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<Verdict, HashError> {
        self.ticket()?.verify(password, stored).await
    }

    async fn hash_now(&self, password: &str) -> Result<String, HashError> {
        let params = self.params.clone();
        let password = password.to_owned();
        // Normalised on the hashing thread: NFKC of a kilobyte is work too.
        self.run(move |memory| hash_with(&params, &policy::normalize(&password), memory))
            .await?
    }

    async fn verify_now(
        &self,
        password: &str,
        stored: Option<&str>,
        normalized: bool,
    ) -> Result<Verdict, HashError> {
        let params = self.params.clone();
        let password = password.to_owned();
        let (hash, real) = match stored {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy_hash.to_string(), false),
        };
        self.run(move |memory| {
            let password = if normalized {
                policy::normalize(&password)
            } else {
                password
            };
            let verdict = verify_with(&params, &password, &hash, memory);
            if real {
                verdict
            } else {
                Verdict::Mismatch
            }
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (reply, answer) = oneshot::channel();
        let queued = std::time::Instant::now();
        let waited = self.waited.clone();
        let job: Job = Box::new(move |memory| {
            waited.observe(queued.elapsed().as_secs_f64());
            // The requester may have gone (client disconnected); nothing to tell then.
            let _ = reply.send(work(memory));
        });
        self.jobs.send(job).map_err(|_| HashError::PoolStopped)?;
        answer.await.map_err(|_| HashError::PoolStopped)
    }
}

/// An admitted place in the hashing queue, held until dropped: the work done on it
/// (one hash or verification, or the two checks of an old hash) never waits for a
/// second place.
pub struct HashTicket {
    hasher: Hasher,
    admitted: Arc<AtomicUsize>,
}

impl HashTicket {
    /// Hashes `password`'s normalised form into a PHC string.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        self.hasher.hash_now(password).await
    }

    /// Checks `password` (normalised) against `stored`, or against the dummy hash when
    /// there is no account, so both paths take the same time.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<Verdict, HashError> {
        self.hasher.verify_now(password, stored, true).await
    }

    /// Runs other CPU-bound work about a password (the strength estimate) on the
    /// hashing threads, so it shares their bound instead of piling up elsewhere. A
    /// panic in `work` is caught (`None`), so it never takes a hashing thread down.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Option<T>, HashError> {
        self.hasher
            .run(move |_memory| std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).ok())
            .await
    }

    /// Checks the password exactly as typed, not normalised: only for a hash made
    /// before passwords were normalised (see `password_normalized`).
    pub async fn verify_as_typed(
        &self,
        password: &str,
        stored: &str,
    ) -> Result<Verdict, HashError> {
        self.hasher.verify_now(password, Some(stored), false).await
    }
}

impl Drop for HashTicket {
    fn drop(&mut self) {
        self.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

fn run_worker(queue: &Mutex<Receiver<Job>>) {
    let mut memory = Vec::new();
    loop {
        // The lock is held only while taking one job, never while hashing.
        let next = match queue.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match next {
            Ok(job) => job(&mut memory),
            Err(_) => return, // every Hasher is gone
        }
    }
}

/// Computes the raw argon2id output into `out`, growing `memory` to fit if needed.
fn compute(
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Vec<Block>,
) -> Result<(), HashError> {
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
        .map_err(|e| HashError::Hash(e.to_string()))
}

fn hash_with(
    params: &Params,
    password: &str,
    memory: &mut Vec<Block>,
) -> Result<String, HashError> {
    let salt = crate::random::bytes(SALT_BYTES);
    let mut out = [0u8; OUTPUT_BYTES];
    compute(
        Algorithm::Argon2id,
        Version::V0x13,
        params,
        password.as_bytes(),
        &salt,
        &mut out,
        memory,
    )?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError::Hash(e.to_string()))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| HashError::Hash(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| HashError::Hash(e.to_string()))?),
    };
    Ok(phc.to_string())
}

fn verify_with(
    configured: &Params,
    password: &str,
    stored: &str,
    memory: &mut Vec<Block>,
) -> Verdict {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verdict::Mismatch;
    };
    let (Ok(algorithm), Ok(params), Some(expected), Some(salt)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.hash,
        parsed.salt,
    ) else {
        return Verdict::Mismatch;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or(Version::V0x13);
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return Verdict::Mismatch;
    };
    let mut out = vec![0u8; expected.len()];
    // The hash's own parameters, so hashes made before a parameter change still verify.
    if compute(
        algorithm,
        version,
        &params,
        password.as_bytes(),
        salt,
        &mut out,
        memory,
    )
    .is_err()
    {
        return Verdict::Mismatch;
    }
    // `Output` compares in constant time.
    match Output::new(&out) {
        Ok(actual) if actual == expected => {}
        _ => return Verdict::Mismatch,
    }
    let current = algorithm == Algorithm::Argon2id
        && version == Version::V0x13
        && expected.len() == OUTPUT_BYTES
        && params.m_cost() == configured.m_cost()
        && params.t_cost() == configured.t_cost()
        && params.p_cost() == configured.p_cost();
    if current {
        Verdict::Match
    } else {
        Verdict::MatchNeedsRehash
    }
}

impl crate::metrics::HashQueue for Hasher {
    fn queue_depth(&self) -> usize {
        Hasher::queue_depth(self)
    }

    fn wait_histogram(&self) -> Histogram {
        Hasher::wait_histogram(self)
    }
}
