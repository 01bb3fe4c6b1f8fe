//! The authentication flows, written against the domain modules and free of HTTP:
//! the API and the pages both call these and map `AppError` to their own answers.
//! One file per flow: `registration.rs`, `login.rs`, `second_step.rs` (the pending
//! login a second factor completes), `issuing.rs` (tokens, refresh, checking a token),
//! `revocation.rs` and `profile.rs`. Everything keeps its `auth::` path.

use crate::accounts::{self, Account, AccountRow, DisplayName, Email, NewAccount, Username};
use crate::app::App;
use crate::audit::{audit, audit_own};
use crate::email::notices::{self, Notice};
use crate::email::tokens as link_tokens;
use crate::email::Mailroom;
use crate::error::{AppError, FieldErrors};
use crate::events::{self, EventKind, NewEvent};
use crate::lockout::{begin_attempt, check_password, recheck_password};
use crate::metrics::LoginOutcome;
use crate::password::policy::{self, Owner};
use crate::rate_limit::Limit;
use crate::sessions::cache::SessionState;
use crate::sessions::{self, ClientInfo, NewSession, SessionRow};
use crate::tokens::{Claims, TokenKind, VerifiedToken};
use serde_json::{Map, Value};

mod issuing;
mod login;
mod profile;
mod registration;
mod revocation;
mod second_step;

pub use issuing::*;
pub use login::*;
pub use profile::*;
pub use registration::*;
pub use revocation::*;
pub use second_step::*;

/// How long a session may go unrecorded before a request writes its `last_used_at`:
/// most requests then stay pure reads.
const TOUCH_INTERVAL_SECONDS: i64 = 60;

impl From<accounts::CreateError> for AppError {
    fn from(error: accounts::CreateError) -> AppError {
        match error {
            accounts::CreateError::Taken(field) => AppError::Taken(field),
            accounts::CreateError::Database(e) => e.into(),
        }
    }
}

/// A freshly issued pair of tokens for one session.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    /// `None` for a pending session, which cannot be refreshed.
    pub refresh_token: Option<String>,
    /// True when the session waits for its second factor.
    pub two_factor_required: bool,
    /// The second factors that may complete it (`totp`, `passkey`); empty otherwise.
    pub methods: Vec<&'static str>,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// "Remember me": the browser may keep the cookies after it closes; otherwise
    /// they are session cookies.
    pub persistent: bool,
    /// Seconds until the session (and so the refresh token) expires.
    pub refresh_expires_in: i64,
    pub session_id: String,
}

/// A request whose access token checked out against a live session.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub session_id: String,
    pub account: Account,
    /// The session waits for its second factor; only verify and logout take it.
    pub pending: bool,
    /// When the holder last proved themselves (login or re-authentication).
    pub proved_at: Option<i64>,
    /// The token itself, for the app's own claims.
    pub token: VerifiedToken,
}

/// A password change or reset revokes every session it can see; a login that checked
/// the old password while it happened opens its session a moment later, so it looks
/// again once its session exists and ends it if the password changed meanwhile.
pub(crate) async fn password_unchanged_since(
    app: &App,
    account_id: i64,
    checked_version: i64,
    session_id: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let now = accounts::password_version(app.pool(), account_id).await?;
    if now == Some(checked_version) {
        return Ok(());
    }
    let reason = "password_changed";
    revoke_session(app, account_id, session_id, reason, None, client).await?;
    Err(AppError::InvalidCredentials)
}
