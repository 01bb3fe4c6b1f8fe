//! A short-lived, in-process cache of the session state the guards check, so that a
//! request with a valid token usually costs no database read.
//!
//! Every change this process makes (logout, revocation, password change, block, role
//! change) forgets the affected entries at once. On PostgreSQL every change made
//! elsewhere (another instance, the CLI) is announced and forgotten at once too (see
//! [`super::announcements`]); while that announcement channel is down the cache is
//! not trusted at all. On SQLite a change made by the CLI is seen once the entry is
//! older than `session_cache_ms`; 0 turns the cache off and reads the database on
//! every request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::RwLock;

use prometheus_client::metrics::counter::Counter;

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
    /// When the holder last proved themselves (see `sessions::mark_proved`).
    pub proved_at: Option<i64>,
    pub account_blocked: bool,
    pub account: Account,
}

struct Entry {
    state: SessionState,
    fetched_ms: i64,
    /// The [`ReadMark::order`] of the read it came from.
    read_order: u64,
}

/// Taken before a database read and handed to [`SessionCache::put`] with its result.
#[derive(Debug, Clone, Copy)]
pub struct ReadMark {
    generation: u64,
    order: u64,
}

pub struct SessionCache {
    ttl_ms: i64,
    entries: RwLock<HashMap<String, Entry>>,
    /// Moves on every forget. A reader notes it before its database read and stores
    /// what it read only if it has not moved: a state read before a change can never
    /// be put back after the change forgot it.
    generation: AtomicU64,
    /// Numbers the reads in the order they began: a read that began after another
    /// (and may have seen a change the other missed, its announcement still on the
    /// way) is never overwritten by it.
    reads: AtomicU64,
    /// False while changes made elsewhere could go unannounced (PostgreSQL's listener
    /// is down): nothing is served from, nor stored in, the cache then.
    trusted: AtomicBool,
    /// Lookups answered from memory, and lookups that had to read the database.
    hits: Counter,
    misses: Counter,
}

impl SessionCache {
    pub fn new(ttl_ms: u64) -> SessionCache {
        SessionCache {
            ttl_ms: i64::try_from(ttl_ms).unwrap_or(i64::MAX),
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            trusted: AtomicBool::new(true),
            hits: Counter::default(),
            misses: Counter::default(),
        }
    }

    /// Stops serving and storing entries: changes made elsewhere may go unseen.
    pub fn distrust(&self) {
        self.trusted.store(false, Ordering::SeqCst);
        self.forget_all();
    }

    /// Serves entries again, starting empty: whatever was missed meanwhile is read
    /// afresh.
    pub fn trust(&self) {
        self.forget_all();
        self.trusted.store(true, Ordering::SeqCst);
    }

    pub fn is_trusted(&self) -> bool {
        self.trusted.load(Ordering::SeqCst)
    }

    pub fn forget_all(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }

    /// The mark to pass to [`SessionCache::put`], taken before reading.
    pub fn begin_read(&self) -> ReadMark {
        ReadMark {
            generation: self.generation.load(Ordering::SeqCst),
            order: self.reads.fetch_add(1, Ordering::SeqCst),
        }
    }

    /// The cached state of `session_id`, if fetched less than the TTL ago.
    pub fn get(&self, session_id: &str, now_ms: i64) -> Option<SessionState> {
        if self.ttl_ms == 0 || !self.is_trusted() {
            self.misses.inc();
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let found = entries
            .get(session_id)
            .filter(|entry| now_ms - entry.fetched_ms < self.ttl_ms)
            .map(|entry| entry.state.clone());
        match found {
            Some(_) => self.hits.inc(),
            None => self.misses.inc(),
        };
        found
    }

    /// The hit and miss counters, for [`crate::metrics`].
    pub fn lookup_counters(&self) -> (Counter, Counter) {
        (self.hits.clone(), self.misses.clone())
    }

    /// Stores `state`, read after `read` was taken, unless something was forgotten
    /// since or a read that began later has stored its own.
    pub fn put(&self, session_id: &str, state: SessionState, now_ms: i64, read: ReadMark) {
        if self.ttl_ms == 0 || !self.is_trusted() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if self.generation.load(Ordering::SeqCst) != read.generation {
            return;
        }
        if entries
            .get(session_id)
            .is_some_and(|entry| entry.read_order > read.order)
        {
            return;
        }
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
                read_order: read.order,
            },
        );
    }

    /// Records a use of the session without making its entry look fresher than the
    /// read it came from.
    pub fn touch(&self, session_id: &str, last_used_at: i64) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = entries.get_mut(session_id) {
            entry.state.last_used_at = last_used_at;
        }
    }

    pub fn forget_session(&self, session_id: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.remove(session_id);
    }

    pub fn forget_account(&self, account_id: i64) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.retain(|_, entry| entry.state.account.id != account_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(name: &str) -> SessionState {
        SessionState {
            expires_at: 100,
            last_used_at: 0,
            revoked: false,
            pending: false,
            proved_at: None,
            account_blocked: false,
            account: Account {
                id: 1,
                username: name.into(),
                email: "a@example.com".into(),
                display_name: None,
                is_active: true,
                is_staff: false,
                is_superuser: false,
                created_at: 0,
                email_verified: false,
                email_verified_at: None,
            },
        }
    }

    #[test]
    fn a_read_older_than_a_forget_is_not_stored() {
        let cache = SessionCache::new(1000);
        let before = cache.begin_read();
        cache.forget_account(1);
        cache.put("s", state("stale"), 0, before);
        assert!(cache.get("s", 0).is_none(), "the stale read was dropped");
        cache.put("s", state("fresh"), 0, cache.begin_read());
        assert_eq!(cache.get("s", 10).unwrap().account.username, "fresh");
    }

    #[test]
    fn a_read_that_began_earlier_never_replaces_a_later_ones_result() {
        // A change committed between the two reads, its announcement not yet here:
        // only the later read saw it, and its answer must stay.
        let cache = SessionCache::new(1000);
        let earlier = cache.begin_read();
        let later = cache.begin_read();
        let mut blocked = state("a");
        blocked.account_blocked = true;
        cache.put("s", blocked, 0, later);
        cache.put("s", state("a"), 1, earlier);
        assert!(cache.get("s", 2).unwrap().account_blocked);
        cache.put("s", state("a"), 3, cache.begin_read());
        assert!(
            !cache.get("s", 4).unwrap().account_blocked,
            "a newer read replaces it"
        );
    }

    #[test]
    fn a_touch_keeps_the_entry_as_old_as_its_read() {
        let cache = SessionCache::new(1000);
        cache.put("s", state("a"), 0, cache.begin_read());
        cache.touch("s", 42);
        assert_eq!(cache.get("s", 999).unwrap().last_used_at, 42);
        assert!(
            cache.get("s", 1000).is_none(),
            "still expires 1000 ms after the read"
        );
    }
}
