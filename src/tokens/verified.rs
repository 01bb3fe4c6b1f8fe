//! Access tokens already verified, so a client sending the same token again costs a
//! hash instead of a signature check (an Ed25519 check costs tens of microseconds).
//! Keyed by the token's SHA-256, never the token; an entry lives no longer than the
//! token (with the leeway) and its key are valid, and all go when a key is retired.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use aws_lc_rs::digest::{digest, SHA256};

use super::Claims;

/// Entries kept at most; beyond it expired entries are dropped, then everything.
const MAX_ENTRIES: usize = 65_536;

pub type Fingerprint = [u8; 32];

pub fn fingerprint(token: &str) -> Fingerprint {
    digest(&SHA256, token.as_bytes())
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes")
}

struct Entry {
    claims: Claims,
    /// The first second (app clock) the entry no longer holds.
    until: i64,
}

pub struct VerifiedTokens {
    entries: RwLock<HashMap<Fingerprint, Entry>>,
    /// Moves on every clear; see [`VerifiedTokens::put`].
    generation: AtomicU64,
}

impl VerifiedTokens {
    pub fn new() -> VerifiedTokens {
        VerifiedTokens {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// To pass to [`VerifiedTokens::put`], taken before verifying.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn get(&self, fingerprint: &Fingerprint, now: i64) -> Option<Claims> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(fingerprint)
            .filter(|entry| now < entry.until)
            .map(|entry| entry.claims.clone())
    }

    /// Remembers `claims` of a token just verified until `until` (exclusive): the
    /// moment it expires (leeway included) or its key stops verifying; unless the
    /// memory was cleared since `read_at` (the keys it was verified with are gone).
    pub fn put(
        &self,
        fingerprint: Fingerprint,
        claims: &Claims,
        until: i64,
        now: i64,
        read_at: u64,
    ) {
        if now >= until {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if self.generation.load(Ordering::SeqCst) != read_at {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, entry| now < entry.until);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            fingerprint,
            Entry {
                claims: claims.clone(),
                until,
            },
        );
    }

    pub fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }
}
