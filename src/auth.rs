//! The authentication flows (register, login, refresh, password change, and checking
//! an access token), written against the domain modules and free of HTTP: the API
//! and the pages both call these and map `AppError` to their own answers.

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

/// What `register` needs, as the user typed it.
pub struct Registration<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    /// Optional; empty leaves it unset.
    pub display_name: Option<&'a str>,
    /// An SPA's target for the verification link (see `link_allowlist`).
    pub redirect_to: Option<&'a str>,
}

/// A registration's input, validated.
pub struct ValidRegistration {
    pub username: Username,
    pub email: Email,
    pub display_name: Option<DisplayName>,
}

/// Validates the input and creates an account (not staff, not superuser).
pub async fn register(
    app: &App,
    input: &Registration<'_>,
    client: &ClientInfo,
) -> Result<Account, AppError> {
    if !app.settings.service.registration_open {
        return Err(AppError::RegistrationClosed);
    }
    app.rate_limits.by_address(Limit::Register, client).await?;
    let target = crate::email::check_link_target(app, input.redirect_to)?;
    let account = create_account(app, input, false, None, client).await?;
    // The account stands whatever happens to the message (it can be sent again).
    match accounts::find_by_id(app.pool(), account.id).await {
        Ok(Some(row)) => {
            if let Err(error) = crate::email::verification::send(app, &row, target.as_deref()).await
            {
                log::warn!("no verification link for account {}: {error}", account.id);
            }
        }
        Ok(None) => {}
        Err(error) => log::warn!("no verification link for account {}: {error}", account.id),
    }
    Ok(account)
}

/// Creates an account, staff and superuser when `superuser`, and records who did it
/// (`actor_id` `None` for self-registration and the CLI).
pub async fn create_account(
    app: &App,
    input: &Registration<'_>,
    superuser: bool,
    actor_id: Option<i64>,
    client: &ClientInfo,
) -> Result<Account, AppError> {
    let valid = validate_registration(app, input).await?;
    let hash = app.hasher.hash(input.password).await?;
    let new = NewAccount {
        username: &valid.username,
        email: &valid.email,
        display_name: valid.display_name.as_ref(),
        password_hash: &hash,
        is_staff: superuser,
        is_superuser: superuser,
        email_verified: superuser,
    };
    let account = accounts::insert_account(app.pool(), &new, app.now()).await?;
    let detail = superuser.then(|| "superuser".to_string());
    audit(
        app,
        EventKind::AccountCreated,
        account.id,
        actor_id,
        detail,
        client,
    )
    .await;
    Ok(account)
}

/// Checks every field, reporting all problems at once.
pub async fn validate_registration(
    app: &App,
    input: &Registration<'_>,
) -> Result<ValidRegistration, AppError> {
    let mut errors = FieldErrors::new();
    let username = Username::parse(input.username)
        .map_err(|e| errors.insert("username".into(), e))
        .ok();
    let email = Email::parse(input.email)
        .map_err(|e| errors.insert("email".into(), e))
        .ok();
    let display_name = DisplayName::parse(input.display_name.unwrap_or(""))
        .map_err(|e| errors.insert("display_name".into(), e))
        .ok()
        .flatten();
    let owner = Owner {
        username: input.username,
        email: input.email,
    };
    if let Some(objection) = objection_to_password(app, input.password, &owner).await? {
        errors.insert("password".into(), objection);
    }
    match (username, email) {
        (Some(username), Some(email)) if errors.is_empty() => Ok(ValidRegistration {
            username,
            email,
            display_name,
        }),
        _ => Err(AppError::Validation(errors)),
    }
}

/// What the password policy (see [`crate::password::policy`]) has against a new
/// password, if anything, then the breach check when it is on. The estimate runs on
/// the hashing threads, within their queue's bound (503 `server_busy` past it).
pub async fn objection_to_password(
    app: &App,
    password: &str,
    owner: &Owner<'_>,
) -> Result<Option<String>, AppError> {
    let typed = password.to_owned();
    let (username, email) = (owner.username.to_owned(), owner.email.to_owned());
    let settings = app.settings.passwords.clone();
    let ticket = app.hasher.ticket()?;
    let verdict = ticket
        .run(move || {
            let owner = Owner {
                username: &username,
                email: &email,
            };
            policy::check(&typed, &owner, &settings)
        })
        .await?
        .unwrap_or_else(|| {
            log::warn!("the password strength estimate failed on a new password");
            Err("could not be checked; please choose another".into())
        });
    if let Err(objection) = verdict {
        return Ok(Some(objection));
    }
    if let Some(check) = &app.breach_check {
        let times = check.times_breached(&policy::normalize(password)).await;
        if times > 0 {
            return Ok(Some(format!(
                "appears in known data breaches ({times} time{}); choose another",
                if times == 1 { "" } else { "s" }
            )));
        }
    }
    Ok(None)
}

/// Checks a login and password and opens a session. An unknown login and a wrong
/// password give the same error after the same argon2 work. The attempt is counted
/// before the password is checked (see [`crate::lockout`]): a blocked or locked account
/// is refused without looking at the password, so guessing learns nothing.
pub async fn login(
    app: &App,
    login: &str,
    password: &str,
    remember: bool,
    client: &ClientInfo,
) -> Result<IssuedTokens, AppError> {
    let result = check_login(app, login, password, remember, client).await;
    let outcome = match &result {
        Ok(tokens) if tokens.two_factor_required => Some(LoginOutcome::second_factor),
        Ok(_) => Some(LoginOutcome::success),
        // Counted where the two causes are still told apart.
        Err(AppError::InvalidCredentials) => None,
        Err(AppError::AccountLocked { .. }) => Some(LoginOutcome::locked),
        Err(AppError::AccountBlocked) => Some(LoginOutcome::blocked),
        Err(AppError::RateLimited { .. }) => Some(LoginOutcome::rate_limited),
        Err(_) => Some(LoginOutcome::refused),
    };
    if let Some(outcome) = outcome {
        app.metrics.login(outcome);
    }
    match &result {
        Ok(tokens) => tracing::debug!(
            request_id = client.request_id.as_deref(),
            second_factor = tokens.two_factor_required,
            "login accepted"
        ),
        Err(error) => tracing::debug!(
            request_id = client.request_id.as_deref(),
            code = error.describe().code,
            "login refused"
        ),
    }
    result
}

async fn check_login(
    app: &App,
    login: &str,
    password: &str,
    remember: bool,
    client: &ClientInfo,
) -> Result<IssuedTokens, AppError> {
    // Over-long input is refused before hashing, so nobody can make argon2 chew on
    // megabytes; the answer depends only on the input, so it reveals no account.
    if password.len() > app.settings.passwords.password_max_length || login.len() > 1024 {
        app.metrics.login(LoginOutcome::refused);
        return Err(AppError::InvalidCredentials);
    }
    app.rate_limits.by_address(Limit::Login, client).await?;
    // Per login as typed, whether or not it names an account: keyed by the account,
    // a refusal for one spelling would tell which other spelling is the same account.
    app.rate_limits
        .by_login(Limit::LoginAccount, &accounts::lookup_key(login))
        .await?;
    let row = accounts::find_by_login(app.pool(), login).await?;
    // A place in the hashing queue before the attempt is counted: a busy server
    // answers 503 at once and never spends an attempt it cannot check.
    let ticket = app.hasher.ticket()?;
    let Some(row) = row else {
        ticket.verify(password, None).await?;
        let event = NewEvent {
            kind: EventKind::LoginFailed,
            account_id: None,
            actor_id: None,
            detail: Some("unknown_login".into()),
            client,
        };
        events::record(app.pool(), event, app.now()).await;
        app.metrics.login(LoginOutcome::unknown_login);
        return Err(AppError::InvalidCredentials);
    };
    let attempt = begin_attempt(app, &row, client).await?;
    if !check_password(app, ticket, &row, password).await? {
        let answer = attempt.failed(app, "wrong_password", client).await;
        if matches!(answer, AppError::InvalidCredentials) {
            app.metrics.login(LoginOutcome::wrong_password);
        }
        return Err(answer);
    }
    if !row.is_active {
        attempt.give_back(app).await?;
        let detail = Some("account_inactive".into());
        audit_own(app, EventKind::LoginFailed, row.id, detail, client).await;
        return Err(AppError::AccountInactive);
    }
    if app.settings.mail.email_verification_required && row.email_verified_at.is_none() {
        attempt.give_back(app).await?;
        let detail = Some("email_unverified".into());
        audit_own(app, EventKind::LoginFailed, row.id, detail, client).await;
        return Err(AppError::EmailUnverified);
    }
    let tokens = if app.settings.two_factor.two_factor_enabled && row.totp_enabled_at.is_some() {
        // Only a completed login resets the count; the password alone is given back.
        attempt.give_back(app).await?;
        start_second_factor(app, &row, remember, client).await?
    } else {
        attempt.completed_login(app).await?;
        open_session(app, &row, remember, None, client).await?
    };
    let version = row.password_version;
    password_unchanged_since(app, row.id, version, &tokens.session_id, client).await?;
    Ok(tokens)
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

/// Opens a complete session after a successful login (`method` names the second
/// factor, if one was used) and records it.
pub async fn open_session(
    app: &App,
    row: &AccountRow,
    remember: bool,
    method: Option<&'static str>,
    client: &ClientInfo,
) -> Result<IssuedTokens, AppError> {
    let account_id = row.id;
    let new = NewSession {
        account_id,
        persistent: remember,
        pending: false,
        ttl: session_ttl(app, remember),
        proved_by: Some(method.unwrap_or("password")),
        password_version: row.password_version,
    };
    let now = app.now();
    let session = sessions::create_session(app.pool(), new, client, now).await?;
    let detail = method.map(|m| format!("second factor: {m}"));
    audit_own(app, EventKind::LoginSucceeded, account_id, detail, client).await;
    notice_if_new_device(app, account_id, &session.id, client).await;
    let keep = app.settings.bounds.max_sessions_per_account;
    let ended = sessions::end_sessions_beyond(app.pool(), account_id, keep, now).await?;
    if !ended.is_empty() {
        for id in &ended {
            app.session_cache.forget_session(id);
        }
        let detail = Some(format!("session_limit ({})", ended.len()));
        audit_own(app, EventKind::SessionsRevoked, account_id, detail, client).await;
    }
    issue_tokens(app, &session, &app_claims(row)).await
}

/// Registration through the pages: the account, and a session for it (the visitor has
/// just chosen the password), unless `email_verification_required` has them verify
/// the address first. The API's registration answers 201 without a session.
pub async fn register_and_sign_in(
    app: &App,
    input: &Registration<'_>,
    client: &ClientInfo,
) -> Result<(Account, Option<IssuedTokens>), AppError> {
    let account = register(app, input, client).await?;
    if app.settings.mail.email_verification_required {
        return Ok((account, None));
    }
    let row = accounts::find_by_id(app.pool(), account.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let tokens = open_session(app, &row, false, None, client).await?;
    Ok((account, Some(tokens)))
}

/// The app's own claims for `row`'s access tokens (see `features::claims`), cleaned.
fn app_claims(row: &AccountRow) -> Map<String, Value> {
    crate::tokens::custom_claims(crate::features::claims::access_token_claims(row), row.id)
}

/// Tells the account's owner of a sign-in from a device (user agent) none of its
/// earlier complete sessions used; not on its first sign-in ever. Best effort.
async fn notice_if_new_device(app: &App, account_id: i64, session_id: &str, client: &ClientInfo) {
    let mail = &app.settings.mail;
    if !mail.enabled() || !mail.notices.new_device {
        return;
    }
    let agent = client.user_agent.as_deref().unwrap_or("");
    match sessions::device_seen(app.pool(), account_id, session_id, agent).await {
        Ok(Some(false)) => match accounts::find_by_id(app.pool(), account_id).await {
            Ok(Some(row)) => {
                let room = crate::email::Mailroom::of(app);
                crate::email::notices::send(&room, &row, Notice::NewDevice, client);
            }
            Ok(None) => {}
            Err(error) => log::warn!("no new-device notice: {error}"),
        },
        Ok(_) => {}
        Err(error) => log::warn!("no new-device notice: {error}"),
    }
}

/// How long a new session lives before a refresh: the sliding lifetime, never past
/// the absolute `session_max_lifetime`.
fn session_ttl(app: &App, remember: bool) -> i64 {
    let sliding = if remember {
        app.settings.tokens.remember_ttl
    } else {
        app.settings.tokens.refresh_ttl
    };
    sliding.min(app.settings.bounds.session_max_lifetime)
}

/// The password step of a login with 2FA on: a pending session whose token only
/// reaches /2fa/verify and logout.
async fn start_second_factor(
    app: &App,
    row: &AccountRow,
    remember: bool,
    client: &ClientInfo,
) -> Result<IssuedTokens, AppError> {
    let new = NewSession {
        account_id: row.id,
        persistent: remember,
        pending: true,
        ttl: app.settings.two_factor.two_factor_pending_ttl,
        proved_by: None,
        password_version: row.password_version,
    };
    let session = sessions::create_session(app.pool(), new, client, app.now()).await?;
    audit_own(app, EventKind::SecondFactorRequested, row.id, None, client).await;
    issue_tokens(app, &session, &Map::new()).await
}

/// Mints the access token (with the app's own claims, `custom`) and the session's
/// current refresh token. The refresh token is a function of the session row alone, so
/// re-minting it yields the same token.
pub async fn issue_tokens(
    app: &App,
    session: &SessionRow,
    custom: &Map<String, Value>,
) -> Result<IssuedTokens, AppError> {
    let now = app.now();
    app.keys.keep_fresh(app.pool(), now).await;
    let settings = &app.settings;
    let pending = session.two_factor_pending;
    // A pending session's token lives no longer than the session itself.
    let access_ttl = if pending {
        settings
            .tokens
            .access_ttl
            .min(session.expires_at - now)
            .max(1)
    } else {
        settings.tokens.access_ttl
    };
    let access = app.keys.claims(
        TokenKind::Access,
        session.account_id,
        &session.id,
        now,
        now + access_ttl,
    );
    let access_token = app
        .keys
        .encode_access(&access, custom)
        .map_err(|error| AppError::internal("signing an access token", error))?;
    if pending {
        return Ok(IssuedTokens {
            access_token,
            refresh_token: None,
            two_factor_required: true,
            expires_in: access_ttl,
            refresh_expires_in: (session.expires_at - now).max(0),
            persistent: session.persistent,
            session_id: session.id.clone(),
        });
    }
    let mut refresh = app.keys.claims(
        TokenKind::Refresh,
        session.account_id,
        &session.id,
        session.rotated_at,
        session.expires_at,
    );
    refresh.gen = Some(session.refresh_generation);
    Ok(IssuedTokens {
        access_token,
        refresh_token: Some(app.keys.encode_refresh(&refresh)),
        two_factor_required: false,
        expires_in: settings.tokens.access_ttl,
        refresh_expires_in: (session.expires_at - now).max(0),
        persistent: session.persistent,
        session_id: session.id.clone(),
    })
}

/// Exchanges a refresh token for a new pair, rotating the session's generation.
///
/// The previous generation is honoured for `refresh_grace` seconds after a rotation
/// and answered with the same current pair, so tabs refreshing at once all stay
/// signed in; any older token, or the previous one after the grace, is a replay and
/// revokes the whole session.
pub async fn refresh(
    app: &App,
    token: &str,
    client: &ClientInfo,
) -> Result<IssuedTokens, AppError> {
    app.rate_limits.by_address(Limit::Refresh, client).await?;
    let now = app.now();
    let claims = app.keys.decode(token, TokenKind::Refresh, now)?;
    let presented = claims.gen.unwrap_or(-1);
    // Two passes at most: losing the rotation race to a parallel refresh puts the
    // token one generation behind, which the second pass answers.
    for _ in 0..2 {
        let (session, account) = live_session_of(app, &claims, now).await?;
        let custom = app_claims(&account);
        let current = session.refresh_generation;
        if presented == current {
            // Sliding, but never past the session's absolute end.
            let absolute_end = session.created_at + app.settings.bounds.session_max_lifetime;
            let expires_at = (now + session_ttl(app, session.persistent)).min(absolute_end);
            if sessions::rotate_refresh(app.pool(), &session.id, current, expires_at, now).await? {
                let rotated = SessionRow {
                    refresh_generation: current + 1,
                    rotated_at: now,
                    last_used_at: now,
                    expires_at,
                    ..session
                };
                return issue_tokens(app, &rotated, &custom).await;
            }
            continue;
        }
        if presented == current - 1 && now - session.rotated_at <= app.settings.tokens.refresh_grace
        {
            return issue_tokens(app, &session, &custom).await;
        }
        if presented < current {
            revoke_session(
                app,
                session.account_id,
                &session.id,
                "refresh_token_reused",
                None,
                client,
            )
            .await?;
            log::warn!(
                "refresh token reuse on session of account {}: session revoked",
                session.account_id
            );
            return Err(AppError::TokenReused);
        }
        // A generation ahead of the session's was never issued.
        return Err(AppError::InvalidToken);
    }
    Err(AppError::TokenReused)
}

/// The session a refresh token names, if it is still live and its account active, with
/// that account.
/// A blocked account is named as such, even though its sessions were revoked, so the
/// client can tell its user why.
async fn live_session_of(
    app: &App,
    claims: &Claims,
    now: i64,
) -> Result<(SessionRow, AccountRow), AppError> {
    let session = sessions::find_session(app.pool(), &claims.sid)
        .await?
        .ok_or(AppError::SessionRevoked)?;
    if session.account_id != claims.account_id() {
        return Err(AppError::InvalidToken);
    }
    let account = accounts::find_by_id(app.pool(), session.account_id)
        .await?
        .ok_or(AppError::SessionRevoked)?;
    if account.is_blocked() {
        return Err(AppError::AccountBlocked);
    }
    if session.revoked_at.is_some() {
        return Err(AppError::SessionRevoked);
    }
    if session.two_factor_pending {
        return Err(AppError::TwoFactorRequired);
    }
    if now > session.expires_at + app.settings.tokens.leeway {
        return Err(AppError::TokenExpired);
    }
    // The absolute end is the server's own clock against its own record: no leeway.
    if now >= session.created_at + app.settings.bounds.session_max_lifetime {
        return Err(AppError::TokenExpired);
    }
    if !account.is_active {
        return Err(AppError::AccountInactive);
    }
    Ok((session, account))
}

/// Checks an access token and the state of its session: the token must verify and
/// the session must be neither revoked nor expired. The state comes from the session
/// cache or, when it has no fresh entry, from one indexed read.
pub async fn authenticate(app: &App, token: &str) -> Result<Authenticated, AppError> {
    let now = app.now();
    app.keys.keep_fresh(app.pool(), now).await;
    let claims = app.keys.decode(token, TokenKind::Access, now)?;
    let mut state = match app.session_cache.get(&claims.sid, app.now_ms()) {
        Some(state) => state,
        None => {
            let read = app.session_cache.begin_read();
            let found = sessions::find_session_with_account(app.pool(), &claims.sid)
                .await?
                .ok_or(AppError::SessionRevoked)?;
            let state = SessionState::from(found);
            app.session_cache
                .put(&claims.sid, state.clone(), app.now_ms(), read);
            state
        }
    };
    if state.account.id != claims.account_id() {
        return Err(AppError::InvalidToken);
    }
    // Blocking revokes every session too; this check also catches a session opened
    // by a login that was already past its checks when the block landed.
    if state.account_blocked {
        return Err(AppError::AccountBlocked);
    }
    if state.revoked || now > state.expires_at + app.settings.tokens.leeway {
        return Err(AppError::SessionRevoked);
    }
    if now - state.last_used_at >= TOUCH_INTERVAL_SECONDS {
        match sessions::touch_session(app.pool(), &claims.sid, now).await {
            Ok(()) => {
                state.last_used_at = now;
                app.session_cache.touch(&claims.sid, now);
            }
            Err(error) => log::warn!("could not record session use: {error}"),
        }
    }
    Ok(Authenticated {
        session_id: claims.sid,
        account: state.account,
        pending: state.pending,
        proved_at: state.proved_at,
        token: VerifiedToken::new(token),
    })
}

/// What `POST /api/auth/introspect` tells a service about an access token (RFC 7662):
/// `None` when it is not active (unknown, forged, expired, of an ended or pending
/// session, of a blocked or inactive account).
pub async fn introspect(app: &App, token: &str) -> Result<Option<Value>, AppError> {
    let found = match authenticate(app, token).await {
        Ok(found) if !found.pending && found.account.is_active => found,
        Ok(_) => return Ok(None),
        Err(error) if error.is_internal() => return Err(error),
        Err(_) => return Ok(None),
    };
    // RFC 7662: past its `exp` a token is inactive, whatever leeway the guards allow.
    let claims = match app
        .keys
        .decode_ignoring_expiry(token, TokenKind::Access, app.now())
    {
        Ok(claims) if app.now() <= claims.exp => claims,
        _ => return Ok(None),
    };
    // The app's claims as the account is now, not as the token was minted.
    let row = accounts::find_by_id(app.pool(), found.account.id)
        .await?
        .ok_or(AppError::SessionRevoked)?;
    let mut answer = app_claims(&row);
    for (name, value) in [
        ("active", Value::Bool(true)),
        ("token_type", "access_token".into()),
        ("sub", claims.sub.clone().into()),
        ("sid", claims.sid.clone().into()),
        ("username", found.account.username.clone().into()),
        ("iss", claims.iss.clone().into()),
        ("aud", claims.aud.clone().into()),
        ("iat", claims.iat.into()),
        ("exp", claims.exp.into()),
    ] {
        answer.insert(name.into(), value);
    }
    Ok(Some(Value::Object(answer)))
}

/// Revokes one session and forgets its cached state, so it stops working at once.
/// `actor_id` is who asked (`None` when the system did, as on token reuse).
pub async fn revoke_session(
    app: &App,
    account_id: i64,
    session_id: &str,
    reason: &str,
    actor_id: Option<i64>,
    client: &ClientInfo,
) -> Result<bool, AppError> {
    let revoked = sessions::revoke_session(app.pool(), session_id, reason, app.now()).await?;
    app.session_cache.forget_session(session_id);
    if revoked {
        let detail = Some(reason.to_string());
        audit(
            app,
            EventKind::SessionRevoked,
            account_id,
            actor_id,
            detail,
            client,
        )
        .await;
    }
    Ok(revoked)
}

/// Ends the session a token names: an access or a refresh token, even expired, so a
/// client whose access token lapsed (an SPA idle for a while) can still log out with
/// its refresh token. A token of an ended session changes nothing and is no error.
pub async fn logout(app: &App, token: &str, client: &ClientInfo) -> Result<(), AppError> {
    let claims = app
        .keys
        .decode_ignoring_expiry(token, TokenKind::Access, app.now())
        .or_else(|_| {
            app.keys
                .decode_ignoring_expiry(token, TokenKind::Refresh, app.now())
        })?;
    let account_id = claims.account_id();
    match sessions::find_session(app.pool(), &claims.sid).await? {
        Some(session) if session.account_id == account_id => {
            revoke_session(
                app,
                account_id,
                &session.id,
                "logout",
                Some(account_id),
                client,
            )
            .await?;
            Ok(())
        }
        Some(_) => Err(AppError::InvalidToken),
        None => Ok(()),
    }
}

/// Revokes one of the account's own sessions; false when it has no such live session.
pub async fn revoke_own_session(
    app: &App,
    account_id: i64,
    session_id: &str,
    client: &ClientInfo,
) -> Result<bool, AppError> {
    let reason = "revoked_by_owner";
    let revoked =
        sessions::revoke_own_session(app.pool(), account_id, session_id, reason, app.now()).await?;
    app.session_cache.forget_session(session_id);
    if revoked {
        let detail = Some(reason.to_string());
        audit_own(app, EventKind::SessionRevoked, account_id, detail, client).await;
    }
    Ok(revoked)
}

/// Revokes every session of the account but `keep`, forgetting their cached state.
pub async fn revoke_other_sessions(
    app: &App,
    account_id: i64,
    keep: Option<&str>,
    reason: &str,
    actor_id: Option<i64>,
    client: &ClientInfo,
) -> Result<u64, AppError> {
    let count =
        sessions::revoke_other_sessions(app.pool(), account_id, keep, reason, app.now()).await?;
    app.session_cache.forget_account(account_id);
    if count > 0 {
        let detail = Some(format!("{reason} ({count})"));
        audit(
            app,
            EventKind::SessionsRevoked,
            account_id,
            actor_id,
            detail,
            client,
        )
        .await;
    }
    Ok(count)
}

/// Sets (or, with an empty name, clears) the account's display name and returns the
/// account as it is now.
pub async fn update_display_name(
    app: &App,
    account_id: i64,
    display_name: &str,
) -> Result<Account, AppError> {
    let name = DisplayName::parse(display_name).map_err(|e| AppError::field("display_name", e))?;
    if !accounts::update_display_name(app.pool(), account_id, name.as_ref(), app.now()).await? {
        return Err(AppError::SessionRevoked);
    }
    // Guards hand out the cached account: it must show the new name at once.
    app.session_cache.forget_account(account_id);
    let row = accounts::find_by_id(app.pool(), account_id)
        .await?
        .ok_or(AppError::SessionRevoked)?;
    Ok(row.into())
}

/// Changes the password after checking the current one, then revokes the account's
/// other sessions: whoever else knew the old password is signed out.
pub async fn change_password(
    app: &App,
    account_id: i64,
    current_session: &str,
    current_password: &str,
    new_password: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    app.rate_limits.by_address(Limit::Password, client).await?;
    let row = accounts::find_by_id(app.pool(), account_id)
        .await?
        .ok_or(AppError::SessionRevoked)?;
    if let Some(objection) = objection_to_password(app, new_password, &row.owner()).await? {
        return Err(AppError::field("new_password", objection));
    }
    recheck_password(app, &row, current_password, "current_password", client).await?;
    let hash = app.hasher.hash(new_password).await?;
    let version = row.password_version;
    if !accounts::change_password_hash(app.pool(), account_id, version, &hash, app.now()).await? {
        return Err(AppError::Conflict(
            "the password was changed meanwhile (a reset?); log in again",
        ));
    }
    link_tokens::void_all(app.pool(), account_id).await?;
    audit_own(app, EventKind::PasswordChanged, account_id, None, client).await;
    notices::send(&Mailroom::of(app), &row, Notice::PasswordChanged, client);
    revoke_other_sessions(
        app,
        account_id,
        Some(current_session),
        "password_changed",
        Some(account_id),
        client,
    )
    .await?;
    Ok(())
}

/// Sets a new password without the old one (an admin's reset, the CLI) and signs the
/// account out everywhere.
pub async fn reset_password(
    app: &App,
    account_id: i64,
    new_password: &str,
    actor_id: Option<i64>,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let row = accounts::find_by_id(app.pool(), account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if let Some(objection) = objection_to_password(app, new_password, &row.owner()).await? {
        return Err(AppError::field("password", objection));
    }
    let hash = app.hasher.hash(new_password).await?;
    accounts::update_password_hash(app.pool(), account_id, &hash, app.now()).await?;
    link_tokens::void_all(app.pool(), account_id).await?;
    notices::send(&Mailroom::of(app), &row, Notice::PasswordChanged, client);
    audit(
        app,
        EventKind::PasswordReset,
        account_id,
        actor_id,
        None,
        client,
    )
    .await;
    revoke_other_sessions(app, account_id, None, "password_reset", actor_id, client).await?;
    Ok(())
}
