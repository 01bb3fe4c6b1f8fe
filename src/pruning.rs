//! Pruning: sessions that ended (expired or revoked) more than
//! `ended_session_retention` ago, audit events older than `audit_retention` and
//! expired mail-link tokens are deleted (and shared rate-limit buckets whose allowance
//! is whole again), by a periodic task of the server (every `prune_interval`) and by
//! `gatehouse prune`. Deleting is idempotent, so several instances may prune the same
//! database.

use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyPool;

use crate::clock::Clock;
use crate::config::Bounds;
use crate::email::tokens as link_tokens;
use crate::events;
use crate::sessions;

/// What one run deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub sessions: u64,
    pub events: u64,
    pub link_tokens: u64,
}

impl Pruned {
    pub fn summary(&self) -> String {
        format!(
            "pruned {} ended session(s), {} audit event(s) and {} expired link token(s)",
            self.sessions, self.events, self.link_tokens
        )
    }
}

/// Rows one delete statement removes at most. A statement holds its table's locks (on
/// SQLite, the whole database's write lock) while it runs, so a backlog of a million
/// rows goes in short statements with other writers' turns between them.
pub const PRUNE_BATCH: i64 = 1000;

/// Deletes what the retention settings no longer keep, as of `now`.
pub async fn prune(pool: &AnyPool, bounds: &Bounds, now: i64) -> Result<Pruned, sqlx::Error> {
    let ended_before = now - bounds.ended_session_retention;
    let sessions =
        in_batches(|| sessions::delete_ended_sessions(pool, ended_before, PRUNE_BATCH)).await?;
    let events = match bounds.audit_retention {
        Some(retention) => {
            in_batches(|| events::delete_events_before(pool, now - retention, PRUNE_BATCH)).await?
        }
        None => 0,
    };
    in_batches(|| link_tokens::delete_expired_forms(pool, now, PRUNE_BATCH)).await?;
    let link_tokens = in_batches(|| link_tokens::delete_expired(pool, now, PRUNE_BATCH)).await?;
    let now_us = crate::rate_limit::pruning_now_us();
    in_batches(|| crate::rate_limit::delete_full_buckets(pool, now_us, PRUNE_BATCH)).await?;
    Ok(Pruned {
        sessions,
        events,
        link_tokens,
    })
}

/// Runs `delete` until a batch comes back short, pausing between batches so that
/// requests waiting for the lock go first; the total deleted.
async fn in_batches<F, Fut>(mut delete: F) -> Result<u64, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, sqlx::Error>>,
{
    let mut total = 0;
    loop {
        let deleted = delete().await?;
        total += deleted;
        if deleted < PRUNE_BATCH as u64 {
            return Ok(total);
        }
        rocket::tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Starts the server's pruning task (when `prune_interval` is set): a first run at
/// once, then one every interval, each logged when it deleted anything. A failed run
/// is logged and retried at the next tick.
pub fn spawn(pool: AnyPool, bounds: Bounds, clock: Arc<dyn Clock>) {
    let Some(every) = bounds.prune_interval else {
        return;
    };
    rocket::tokio::spawn(async move {
        let mut ticks = rocket::tokio::time::interval(Duration::from_secs(every));
        loop {
            ticks.tick().await;
            match prune(&pool, &bounds, clock.now()).await {
                Ok(Pruned {
                    sessions: 0,
                    events: 0,
                    link_tokens: 0,
                }) => {}
                Ok(pruned) => log::info!("{}", pruned.summary()),
                Err(error) => log::warn!("pruning failed (retried in {every} s): {error}"),
            }
        }
    });
}
