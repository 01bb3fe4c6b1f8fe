//! Pruning: sessions that ended (expired or revoked) more than
//! `ended_session_retention` ago, audit events older than `audit_retention` and
//! expired mail-link tokens are deleted, by a periodic task of the server (every `prune_interval`) and by
//! `gatehouse prune`. Deleting is idempotent, so several instances may prune the same
//! database.

use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyPool;

use crate::clock::Clock;
use crate::config::Bounds;
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

/// Deletes what the retention settings no longer keep, as of `now`.
pub async fn prune(pool: &AnyPool, bounds: &Bounds, now: i64) -> Result<Pruned, sqlx::Error> {
    let sessions =
        sessions::delete_ended_sessions(pool, now - bounds.ended_session_retention).await?;
    let events = match bounds.audit_retention {
        Some(retention) => events::delete_events_before(pool, now - retention).await?,
        None => 0,
    };
    let link_tokens = crate::email::tokens::delete_expired(pool, now).await?;
    Ok(Pruned {
        sessions,
        events,
        link_tokens,
    })
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
