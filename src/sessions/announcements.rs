//! Instant revocation across instances on PostgreSQL: triggers (migration 0015)
//! announce each change of a session or an account on [`CHANNEL`] in the transaction
//! that makes it, and every instance listens and forgets the affected entries of its
//! session cache at once. While the listening connection is down, announcements can
//! be missed, so the cache is not trusted (every request reads the database) until
//! the connection is back; both are logged.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;

use super::cache::SessionCache;

pub const CHANNEL: &str = "gatehouse_changes";

/// How long to wait before connecting again after a failure.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// What an announcement names.
#[derive(Debug, PartialEq, Eq)]
pub enum Change<'a> {
    Session(&'a str),
    Account(i64),
}

/// `s:<session id>` or `a:<account id>`; anything else names nothing.
pub fn parse(payload: &str) -> Option<Change<'_>> {
    match payload.split_once(':')? {
        ("s", id) if !id.is_empty() => Some(Change::Session(id)),
        ("a", id) => id.parse().ok().map(Change::Account),
        _ => None,
    }
}

/// Listens on `url` (the database's, or `listen_url` behind a transaction-pooling
/// proxy) for as long as the process runs. The cache is distrusted until the first
/// connection is up.
pub fn spawn(url: String, cache: Arc<SessionCache>) {
    cache.distrust();
    rocket::tokio::spawn(async move {
        let mut lost = false;
        loop {
            match listen(&url, &cache, &mut lost).await {
                Ok(()) => {}
                Err(error) => {
                    if !lost {
                        log::warn!(
                            "the change announcements are not being received ({error}): every \
                             request reads the session state from the database until they are"
                        );
                    }
                    lost = true;
                }
            }
            cache.distrust();
            rocket::tokio::time::sleep(RETRY_AFTER).await;
        }
    });
}

/// One connection's life: listen, trust the cache, apply announcements until the
/// connection drops (`Ok`) or cannot be made (`Err`).
async fn listen(url: &str, cache: &SessionCache, lost: &mut bool) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    cache.trust();
    if std::mem::take(lost) {
        log::info!("receiving the change announcements again; the session cache is back in use");
    }
    loop {
        // `None`: the connection dropped (announcements meanwhile are lost).
        let Some(notification) = listener.try_recv().await? else {
            log::warn!(
                "the connection receiving change announcements dropped: every request reads the \
                 session state from the database until it is back"
            );
            *lost = true;
            return Ok(());
        };
        match parse(notification.payload()) {
            Some(Change::Session(id)) => cache.forget_session(id),
            Some(Change::Account(id)) => cache.forget_account(id),
            None => cache.forget_all(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_name_a_session_or_an_account() {
        assert_eq!(parse("s:abc"), Some(Change::Session("abc")));
        assert_eq!(parse("a:42"), Some(Change::Account(42)));
        assert_eq!(parse("a:x"), None);
        assert_eq!(parse("s:"), None);
        assert_eq!(parse("garbage"), None);
    }
}
