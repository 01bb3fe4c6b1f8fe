//! Long-lived connections (WebSockets) held by a signed-in session, free of HTTP: the
//! token a socket was opened or renewed with is checked again every [`CHECK_EVERY`],
//! so a logout, block, password change or expiry ends it within a second on this
//! instance (and within `session_cache_ms` more for a change made elsewhere).

use std::time::Duration;

use crate::app::App;
use crate::auth::{self, Authenticated};
use crate::error::AppError;

/// How often an open socket's session is checked again. Most checks are answered by
/// the session cache; a change this instance makes forgets the entry at once.
pub const CHECK_EVERY: Duration = Duration::from_millis(250);

/// How long a socket may stay open before it authenticates.
pub const AUTHENTICATE_WITHIN: Duration = Duration::from_secs(10);

/// The session a socket speaks for, and the access token that currently vouches for it.
pub struct SocketSession {
    token: String,
    pub session_id: String,
    pub account_id: i64,
    pub username: String,
}

impl SocketSession {
    /// Opens with `token`: a live, complete session (not waiting for its second factor).
    pub async fn open(app: &App, token: &str) -> Result<SocketSession, AppError> {
        let found = Self::live(app, token).await?;
        Ok(SocketSession {
            token: token.to_owned(),
            session_id: found.session_id,
            account_id: found.account.id,
            username: found.account.username,
        })
    }

    async fn live(app: &App, token: &str) -> Result<Authenticated, AppError> {
        let found = auth::authenticate(app, token).await?;
        if found.pending {
            return Err(AppError::TwoFactorRequired);
        }
        Ok(found)
    }

    /// Whether the session still holds, with its current token (expiry included).
    pub async fn check(&self, app: &App) -> Result<(), AppError> {
        Self::live(app, &self.token).await.map(|_| ())
    }

    /// Takes a fresher token of the same session (after a refresh), so the socket
    /// outlives the token it was opened with. A token of another session is refused
    /// and the current one stays.
    pub async fn renew(&mut self, app: &App, token: &str) -> Result<(), AppError> {
        let found = Self::live(app, token).await?;
        if found.session_id != self.session_id {
            return Err(AppError::InvalidToken);
        }
        self.token = token.to_owned();
        Ok(())
    }

    /// The current token's expiry (unix seconds), for the client to plan a renewal.
    pub fn expires_at(&self, app: &App) -> Option<i64> {
        app.keys
            .decode_ignoring_expiry(&self.token, crate::tokens::TokenKind::Access, app.now())
            .ok()
            .map(|claims| claims.exp)
    }
}
