//! A short-lived, in-process cache of the session state the guards check, so that a
//! request with a valid token usually costs no database read.
//!
//! Every change this process makes (logout, revocation, password change, block, role
//! change) forgets the affected entries at once. A change made elsewhere (another
//! instance on the same PostgreSQL, the CLI on the same SQLite file) is seen once the
//! entry is older than `session_cache_ms`; 0 turns the cache off and reads the
//! database on every request.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::accounts::Account;

/// Entries kept at most; beyond it stale entries are dropped, then everything.
const MAX_ENTRIES: usize = 100_000;

/// What the guards need to know about a session.
#[derive(Debug, Clone)]
pub struct SessionState {
    pub expires_at: i64,
    pub last_used_at: i64,
    pub revoked: bool,
    /// Waiting for its second factor: only verify and logout accept it.
    pub pending: bool,
    pub account_blocked: bool,
    pub account: Account,
}

struct Entry {
    state: SessionState,
    fetched_ms: i64,
}

pub struct SessionCache {
    ttl_ms: i64,
    entries: RwLock<HashMap<String, Entry>>,
}

impl SessionCache {
    pub fn new(ttl_ms: u64) -> SessionCache {
        SessionCache {
            ttl_ms: i64::try_from(ttl_ms).unwrap_or(i64::MAX),
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The cached state of `session_id`, if fetched less than the TTL ago.
    pub fn get(&self, session_id: &str, now_ms: i64) -> Option<SessionState> {
        if self.ttl_ms == 0 {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(session_id)
            .filter(|entry| now_ms - entry.fetched_ms < self.ttl_ms)
            .map(|entry| entry.state.clone())
    }

    pub fn put(&self, session_id: &str, state: SessionState, now_ms: i64) {
        if self.ttl_ms == 0 {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, entry| now_ms - entry.fetched_ms < self.ttl_ms);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            session_id.to_owned(),
            Entry {
                state,
                fetched_ms: now_ms,
            },
        );
    }

    pub fn forget_session(&self, session_id: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.remove(session_id);
    }

    pub fn forget_account(&self, account_id: i64) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, entry| entry.state.account.id != account_id);
    }
}
