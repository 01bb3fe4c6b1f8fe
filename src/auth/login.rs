//! Signing in with a password: the attempt budget, the session it opens, and the
//! second step when the account has a second factor.

use super::*;

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

pub(super) async fn check_login(
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
    let due = crate::feature::hooks::second_factors_due(app, &row).await?;
    let tokens = if !due.is_empty() {
        // Only a completed login resets the count; the password alone is given back.
        attempt.give_back(app).await?;
        let mut tokens = start_second_factor(app, &row, remember, client).await?;
        tokens.methods = crate::feature::hooks::pending_methods(app, &row).await?;
        tokens
    } else {
        attempt.completed_login(app).await?;
        open_session(app, &row, remember, Proved::Password, client).await?
    };
    let version = row.password_version;
    password_unchanged_since(app, row.id, version, &tokens.session_id, client).await?;
    Ok(tokens)
}

/// How the holder of a new session proved themselves.
#[derive(Debug, Clone, Copy)]
pub enum Proved {
    Password,
    /// The password, then this second factor (`totp`, `recovery code`, `passkey`).
    SecondFactor(&'static str),
    /// A way that is both factors at once (a passkey with user verification).
    Alone(&'static str),
}

impl Proved {
    fn name(self) -> &'static str {
        match self {
            Proved::Password => "password",
            Proved::SecondFactor(method) | Proved::Alone(method) => method,
        }
    }

    fn detail(self) -> Option<String> {
        match self {
            Proved::Password => None,
            Proved::SecondFactor(method) => Some(format!("second factor: {method}")),
            Proved::Alone(way) => Some(format!("signed in with: {way}")),
        }
    }
}

/// Signs in an account that proved itself without its password (a passkey with user
/// verification is both factors): no second step follows. Blocked, inactive and
/// unverified accounts are refused as at a password login; the lockout guards
/// passwords and codes only, so a locked password does not lock this way in.
pub async fn sign_in_without_password(
    app: &App,
    row: &AccountRow,
    way: &'static str,
    remember: bool,
    client: &ClientInfo,
) -> Result<IssuedTokens, AppError> {
    let refusal = if row.is_blocked() {
        Some((
            AppError::AccountBlocked,
            "account_blocked",
            LoginOutcome::blocked,
        ))
    } else if !row.is_active {
        Some((
            AppError::AccountInactive,
            "account_inactive",
            LoginOutcome::refused,
        ))
    } else if app.settings.mail.email_verification_required && row.email_verified_at.is_none() {
        Some((
            AppError::EmailUnverified,
            "email_unverified",
            LoginOutcome::refused,
        ))
    } else {
        None
    };
    if let Some((error, reason, outcome)) = refusal {
        let detail = Some(format!("{reason} ({way})"));
        audit_own(app, EventKind::LoginFailed, row.id, detail, client).await;
        app.metrics.login(outcome);
        return Err(error);
    }
    let tokens = open_session(app, row, remember, Proved::Alone(way), client).await?;
    app.metrics.login(LoginOutcome::success);
    Ok(tokens)
}

/// Opens a complete session after a successful login and records it.
pub async fn open_session(
    app: &App,
    row: &AccountRow,
    remember: bool,
    proved: Proved,
    client: &ClientInfo,
) -> Result<IssuedTokens, AppError> {
    let account_id = row.id;
    let new = NewSession {
        account_id,
        persistent: remember,
        pending: false,
        ttl: session_ttl(app, remember),
        proved_by: Some(proved.name()),
        password_version: row.password_version,
    };
    let now = app.now();
    let session = sessions::create_session(app.pool(), new, client, now).await?;
    // The claims before anything is announced: a hook that fails leaves no live
    // session, no audit of a login and no mail behind.
    let custom = match app_claims(app, &session.id, row).await {
        Ok(custom) => custom,
        Err(error) => {
            if let Err(revoking) =
                revoke_session(app, account_id, &session.id, "claims_failed", None, client).await
            {
                log::error!("a session left without tokens: {}", revoking.with_causes());
            }
            return Err(error);
        }
    };
    let detail = proved.detail();
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
    issue_tokens(app, &session, &custom).await
}

/// The claims the parts and features add to `row`'s access tokens in the session
/// `session_id` (see [`crate::feature::Feature::claims`]).
pub(super) async fn app_claims(
    app: &App,
    session_id: &str,
    row: &AccountRow,
) -> Result<Map<String, Value>, AppError> {
    let subject = crate::feature::hooks::TokenSubject {
        session_id,
        account: row,
    };
    crate::feature::hooks::claims(app, &subject).await
}

/// Tells the account's owner of a sign-in from a device (user agent) none of its
/// earlier complete sessions used; not on its first sign-in ever. Best effort.
pub(super) async fn notice_if_new_device(
    app: &App,
    account_id: i64,
    session_id: &str,
    client: &ClientInfo,
) {
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
pub(super) fn session_ttl(app: &App, remember: bool) -> i64 {
    let sliding = if remember {
        app.settings.tokens.remember_ttl
    } else {
        app.settings.tokens.refresh_ttl
    };
    sliding.min(app.settings.bounds.session_max_lifetime)
}

/// The password step of a login with 2FA on: a pending session whose token only
/// reaches /2fa/verify and logout.
pub(super) async fn start_second_factor(
    app: &App,
    row: &AccountRow,
    remember: bool,
    client: &ClientInfo,
) -> Result<IssuedTokens, AppError> {
    let new = NewSession {
        account_id: row.id,
        persistent: remember,
        pending: true,
        ttl: app.settings.second_step.two_factor_pending_ttl,
        proved_by: None,
        password_version: row.password_version,
    };
    let session = sessions::create_session(app.pool(), new, client, app.now()).await?;
    audit_own(app, EventKind::SecondFactorRequested, row.id, None, client).await;
    issue_tokens(app, &session, &Map::new()).await
}
