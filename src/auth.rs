//! The authentication flows (register, login, refresh, password change, and checking
//! an access token), written against the domain modules and free of HTTP: the API
//! and the pages both call these and map `AuthError` to their own answers.

use std::collections::BTreeMap;

use crate::accounts::{self, Account, AccountRow, Email, NewAccount, TakenField, Username};
use crate::app::App;
use crate::password::Verdict;
use crate::sessions::cache::SessionState;
use crate::sessions::{self, ClientInfo, SessionRow};
use crate::tokens::{Claims, TokenError, TokenKind};

/// Field name → what is wrong with it.
pub type FieldErrors = BTreeMap<String, String>;

/// How long a session may go unrecorded before a request writes its `last_used_at`:
/// most requests then stay pure reads.
const TOUCH_INTERVAL_SECONDS: i64 = 60;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    #[error("invalid login or password")]
    InvalidCredentials,
    #[error("this account is inactive")]
    AccountInactive,
    #[error("registration is closed")]
    RegistrationClosed,
    #[error("some fields are invalid")]
    Validation(FieldErrors),
    #[error("this {} is already taken", match .0 { TakenField::Username => "username", TakenField::Email => "email" })]
    Taken(TakenField),
    #[error("no access token was presented")]
    MissingToken,
    #[error("the token is malformed, forged, of the wrong kind, or not for this service")]
    InvalidToken,
    #[error("the token has expired")]
    TokenExpired,
    #[error("the session has been revoked or has ended")]
    SessionRevoked,
    #[error("this refresh token was already used; the session has been revoked")]
    TokenReused,
    #[error("not found")]
    NotFound,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for AuthError {
    fn from(error: sqlx::Error) -> AuthError {
        AuthError::Internal(format!("database: {error}"))
    }
}

impl From<crate::password::HashError> for AuthError {
    fn from(error: crate::password::HashError) -> AuthError {
        AuthError::Internal(error.to_string())
    }
}

impl From<TokenError> for AuthError {
    fn from(error: TokenError) -> AuthError {
        match error {
            TokenError::Invalid => AuthError::InvalidToken,
            TokenError::Expired => AuthError::TokenExpired,
        }
    }
}

impl From<accounts::CreateError> for AuthError {
    fn from(error: accounts::CreateError) -> AuthError {
        match error {
            accounts::CreateError::Taken(field) => AuthError::Taken(field),
            accounts::CreateError::Database(e) => e.into(),
        }
    }
}

fn field_error(field: &str, message: impl Into<String>) -> AuthError {
    AuthError::Validation(FieldErrors::from([(field.to_string(), message.into())]))
}

/// A freshly issued pair of tokens for one session.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Seconds until the session (and so the refresh token) expires.
    pub refresh_expires_in: i64,
    pub session_id: String,
}

/// A request whose access token checked out against a live session.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub session_id: String,
    pub account: Account,
}

/// What `register` needs, as the user typed it.
pub struct Registration<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
}

/// Validates the input and creates an account (not staff, not superuser).
pub async fn register(app: &App, input: &Registration<'_>) -> Result<Account, AuthError> {
    if !app.settings.registration_open {
        return Err(AuthError::RegistrationClosed);
    }
    let (username, email) = validate_registration(app, input)?;
    let hash = app.hasher.hash(input.password).await?;
    let new = NewAccount {
        username: &username,
        email: &email,
        password_hash: &hash,
        is_staff: false,
        is_superuser: false,
    };
    Ok(accounts::insert_account(app.pool(), &new, app.now()).await?)
}

/// Checks every field, reporting all problems at once.
pub fn validate_registration(
    app: &App,
    input: &Registration<'_>,
) -> Result<(Username, Email), AuthError> {
    let mut errors = FieldErrors::new();
    let username = Username::parse(input.username)
        .map_err(|e| errors.insert("username".into(), e))
        .ok();
    let email = Email::parse(input.email)
        .map_err(|e| errors.insert("email".into(), e))
        .ok();
    if let Err(e) = accounts::check_new_password(input.password, &app.settings) {
        errors.insert("password".into(), e);
    }
    match (username, email) {
        (Some(username), Some(email)) if errors.is_empty() => Ok((username, email)),
        _ => Err(AuthError::Validation(errors)),
    }
}

/// Checks a login and password and opens a session. An unknown login and a wrong
/// password give the same error after the same argon2 work.
pub async fn login(
    app: &App,
    login: &str,
    password: &str,
    remember: bool,
    client: &ClientInfo,
) -> Result<IssuedTokens, AuthError> {
    // Over-long input is refused before hashing, so nobody can make argon2 chew on
    // megabytes; the answer depends only on the input, so it reveals no account.
    if password.len() > app.settings.password_max_length || login.len() > 1024 {
        return Err(AuthError::InvalidCredentials);
    }
    let row = accounts::find_by_login(app.pool(), login).await?;
    let verdict = app
        .hasher
        .verify(password, row.as_ref().map(|r| r.password_hash.as_str()))
        .await?;
    let row = match (row, verdict) {
        (Some(row), Verdict::Match | Verdict::MatchNeedsRehash) => row,
        _ => return Err(AuthError::InvalidCredentials),
    };
    if row.is_active == 0 {
        return Err(AuthError::AccountInactive);
    }
    if verdict == Verdict::MatchNeedsRehash {
        upgrade_hash(app, &row, password).await;
    }
    let ttl = if remember {
        app.settings.remember_ttl
    } else {
        app.settings.refresh_ttl
    };
    let session =
        sessions::create_session(app.pool(), row.id, remember, ttl, client, app.now()).await?;
    Ok(issue_tokens(app, &session))
}

/// Stores a hash with the configured parameters; a failure only delays the upgrade.
async fn upgrade_hash(app: &App, row: &AccountRow, password: &str) {
    let upgraded = match app.hasher.hash(password).await {
        Ok(hash) => accounts::upgrade_password_hash(app.pool(), row.id, &row.password_hash, &hash)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(error) = upgraded {
        log::warn!(
            "could not upgrade the password hash of account {}: {error}",
            row.id
        );
    }
}

/// Mints the access token and the session's current refresh token. The refresh token
/// is a function of the session row alone, so re-minting it yields the same token.
fn issue_tokens(app: &App, session: &SessionRow) -> IssuedTokens {
    let now = app.now();
    let settings = &app.settings;
    let access = app.keys.claims(
        TokenKind::Access,
        session.account_id,
        &session.id,
        now,
        now + settings.access_ttl,
    );
    let mut refresh = app.keys.claims(
        TokenKind::Refresh,
        session.account_id,
        &session.id,
        session.rotated_at,
        session.expires_at,
    );
    refresh.gen = Some(session.refresh_generation);
    IssuedTokens {
        access_token: app.keys.encode(&access),
        refresh_token: app.keys.encode(&refresh),
        expires_in: settings.access_ttl,
        refresh_expires_in: (session.expires_at - now).max(0),
        session_id: session.id.clone(),
    }
}

/// Exchanges a refresh token for a new pair, rotating the session's generation.
///
/// The previous generation is honoured for `refresh_grace` seconds after a rotation
/// and answered with the same current pair, so tabs refreshing at once all stay
/// signed in; any older token, or the previous one after the grace, is a replay and
/// revokes the whole session.
pub async fn refresh(app: &App, token: &str) -> Result<IssuedTokens, AuthError> {
    let now = app.now();
    let claims = app.keys.decode(token, TokenKind::Refresh, now)?;
    let presented = claims.gen.unwrap_or(-1);
    // Two passes at most: losing the rotation race to a parallel refresh puts the
    // token one generation behind, which the second pass answers.
    for _ in 0..2 {
        let session = live_session_of(app, &claims, now).await?;
        let current = session.refresh_generation;
        if presented == current {
            let ttl = if session.persistent != 0 {
                app.settings.remember_ttl
            } else {
                app.settings.refresh_ttl
            };
            if sessions::rotate_refresh(app.pool(), &session.id, current, now + ttl, now).await? {
                let rotated = SessionRow {
                    refresh_generation: current + 1,
                    rotated_at: now,
                    last_used_at: now,
                    expires_at: now + ttl,
                    ..session
                };
                return Ok(issue_tokens(app, &rotated));
            }
            continue;
        }
        if presented == current - 1 && now - session.rotated_at <= app.settings.refresh_grace {
            return Ok(issue_tokens(app, &session));
        }
        if presented < current {
            revoke_session(app, &session.id, "refresh_token_reused").await?;
            log::warn!(
                "refresh token reuse on session of account {}: session revoked",
                session.account_id
            );
            return Err(AuthError::TokenReused);
        }
        // A generation ahead of the session's was never issued.
        return Err(AuthError::InvalidToken);
    }
    Err(AuthError::TokenReused)
}

/// The session a refresh token names, if it is still live and its account active.
async fn live_session_of(app: &App, claims: &Claims, now: i64) -> Result<SessionRow, AuthError> {
    let session = sessions::find_session(app.pool(), &claims.sid)
        .await?
        .ok_or(AuthError::SessionRevoked)?;
    if session.account_id != claims.account_id() {
        return Err(AuthError::InvalidToken);
    }
    if session.revoked_at.is_some() {
        return Err(AuthError::SessionRevoked);
    }
    if now > session.expires_at + app.settings.leeway {
        return Err(AuthError::TokenExpired);
    }
    let account = accounts::find_by_id(app.pool(), session.account_id)
        .await?
        .ok_or(AuthError::SessionRevoked)?;
    if account.is_active == 0 {
        return Err(AuthError::AccountInactive);
    }
    Ok(session)
}

/// Checks an access token and the state of its session: the token must verify and
/// the session must be neither revoked nor expired. The state comes from the session
/// cache or, when it has no fresh entry, from one indexed read.
pub async fn authenticate(app: &App, token: &str) -> Result<Authenticated, AuthError> {
    let now = app.now();
    let claims = app.keys.decode(token, TokenKind::Access, now)?;
    let mut state = match app.session_cache.get(&claims.sid, app.now_ms()) {
        Some(state) => state,
        None => {
            let found = sessions::find_session_with_account(app.pool(), &claims.sid)
                .await?
                .ok_or(AuthError::SessionRevoked)?;
            let state = SessionState::from(found);
            app.session_cache
                .put(&claims.sid, state.clone(), app.now_ms());
            state
        }
    };
    if state.account.id != claims.account_id() {
        return Err(AuthError::InvalidToken);
    }
    if state.revoked || now > state.expires_at + app.settings.leeway {
        return Err(AuthError::SessionRevoked);
    }
    if now - state.last_used_at >= TOUCH_INTERVAL_SECONDS {
        match sessions::touch_session(app.pool(), &claims.sid, now).await {
            Ok(()) => {
                state.last_used_at = now;
                app.session_cache
                    .put(&claims.sid, state.clone(), app.now_ms());
            }
            Err(error) => log::warn!("could not record session use: {error}"),
        }
    }
    Ok(Authenticated {
        session_id: claims.sid,
        account: state.account,
    })
}

/// Revokes one session and forgets its cached state, so it stops working at once.
pub async fn revoke_session(app: &App, session_id: &str, reason: &str) -> Result<bool, AuthError> {
    let revoked = sessions::revoke_session(app.pool(), session_id, reason, app.now()).await?;
    app.session_cache.forget_session(session_id);
    Ok(revoked)
}

/// Revokes one of the account's own sessions; false when it has no such live session.
pub async fn revoke_own_session(
    app: &App,
    account_id: i64,
    session_id: &str,
) -> Result<bool, AuthError> {
    let revoked = sessions::revoke_own_session(
        app.pool(),
        account_id,
        session_id,
        "revoked_by_owner",
        app.now(),
    )
    .await?;
    app.session_cache.forget_session(session_id);
    Ok(revoked)
}

/// Revokes every session of the account but `keep`.
pub async fn revoke_other_sessions(
    app: &App,
    account_id: i64,
    keep: Option<&str>,
    reason: &str,
) -> Result<u64, AuthError> {
    let count =
        sessions::revoke_other_sessions(app.pool(), account_id, keep, reason, app.now()).await?;
    app.session_cache.forget_account(account_id);
    Ok(count)
}

/// Changes the password after checking the current one, then revokes the account's
/// other sessions: whoever else knew the old password is signed out.
pub async fn change_password(
    app: &App,
    account_id: i64,
    current_session: &str,
    current_password: &str,
    new_password: &str,
) -> Result<(), AuthError> {
    accounts::check_new_password(new_password, &app.settings)
        .map_err(|e| field_error("new_password", e))?;
    let row = accounts::find_by_id(app.pool(), account_id)
        .await?
        .ok_or(AuthError::SessionRevoked)?;
    if current_password.len() > app.settings.password_max_length
        || app
            .hasher
            .verify(current_password, Some(&row.password_hash))
            .await?
            == Verdict::Mismatch
    {
        return Err(field_error("current_password", "is incorrect"));
    }
    let hash = app.hasher.hash(new_password).await?;
    let now = app.now();
    accounts::update_password_hash(app.pool(), account_id, &hash, now).await?;
    sessions::revoke_other_sessions(
        app.pool(),
        account_id,
        Some(current_session),
        "password_changed",
        now,
    )
    .await?;
    Ok(())
}
