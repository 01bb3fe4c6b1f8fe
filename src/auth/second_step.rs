//! The second step of a login, whatever second factor completes it: the pending
//! session the password step opened, its own attempt limit
//! (`two_factor_max_attempts`), and the complete session that replaces it. The
//! factors themselves are the parts' (see [`crate::feature::hooks::SecondFactor`]).

use super::*;
use crate::feature::hooks;
use crate::lockout;

/// The second step of a login: the pending session `session_id` and a code. Success
/// spends the pending session and opens a complete one under a new id; it is the only
/// place a 2FA login resets the failed-login counter.
pub async fn complete_login(
    app: &App,
    session_id: &str,
    code: &str,
    client: &ClientInfo,
) -> Result<IssuedTokens, AppError> {
    app.rate_limits.by_address(Limit::Login, client).await?;
    let now = app.now();
    let session = sessions::find_session(app.pool(), session_id)
        .await?
        .filter(|s| s.two_factor_pending && s.revoked_at.is_none() && s.expires_at > now)
        .ok_or(AppError::SessionRevoked)?;
    let row = accounts::find_by_id(app.pool(), session.account_id)
        .await?
        .ok_or(AppError::SessionRevoked)?;
    let factor = hooks::code_factor(app, &row).await?;
    let refusal = if row.is_blocked() {
        Some(AppError::AccountBlocked)
    } else if !row.is_active {
        Some(AppError::AccountInactive)
    } else if factor.is_none() {
        // Reset by an admin meanwhile: start again, now with the password alone.
        Some(AppError::SessionRevoked)
    } else {
        None
    };
    let (Some(factor), None) = (factor, refusal.as_ref()) else {
        end_pending(app, &session.id, row.id, "login_refused", client).await?;
        return Err(refusal.unwrap_or(AppError::SessionRevoked));
    };
    app.rate_limits
        .by_account(Limit::LoginAccount, row.id)
        .await?;
    // Codes that cannot be checked at all (a key that changed) take no attempt: the
    // holder is not at fault.
    factor.ready(app, &row).await?;
    // The code is counted on the account and on the session before it is checked.
    let attempt = match lockout::begin_attempt(app, &row, client).await {
        Ok(attempt) => attempt,
        // The account's budget is in flight: try again in a second, same login.
        Err(busy @ AppError::RateLimited { .. }) => return Err(busy),
        Err(refusal) => {
            end_pending(app, &session.id, row.id, "login_refused", client).await?;
            return Err(refusal);
        }
    };
    let max = app.settings.second_step.two_factor_max_attempts;
    let Some(number) = sessions::reserve_otp_attempt(app.pool(), &session.id, max).await? else {
        attempt.give_back(app).await?;
        return Err(AppError::SessionRevoked);
    };
    let Some(method) = factor.spend_code(app, &row, code, client).await? else {
        return Err(wrong_login_code(app, attempt, &session.id, number, &row, client).await?);
    };
    let Some(checked_version) =
        sessions::spend_pending_session(app.pool(), &session.id, now).await?
    else {
        // A parallel request completed (or ended) this login first, or the password
        // changed since its password step.
        attempt.give_back(app).await?;
        return Err(AppError::SessionRevoked);
    };
    app.session_cache.forget_session(&session.id);
    attempt.completed_login(app).await?;
    let proved = Proved::SecondFactor(method);
    let tokens = open_session(app, &row, session.persistent, proved, client).await?;
    password_unchanged_since(app, row.id, checked_version, &tokens.session_id, client).await?;
    Ok(tokens)
}

/// Completes the pending login `session_id` with a second factor its part checked
/// itself (`method`: a passkey's assertion, made for this pending session). Nothing
/// is counted: an assertion cannot be guessed.
pub async fn complete_login_proved(
    app: &App,
    session_id: &str,
    method: &'static str,
    client: &ClientInfo,
) -> Result<IssuedTokens, AppError> {
    let now = app.now();
    let session = sessions::find_session(app.pool(), session_id)
        .await?
        .filter(|s| s.two_factor_pending && s.revoked_at.is_none() && s.expires_at > now)
        .ok_or(AppError::SessionRevoked)?;
    let row = accounts::find_by_id(app.pool(), session.account_id)
        .await?
        .ok_or(AppError::SessionRevoked)?;
    let refusal = if row.is_blocked() {
        Some(AppError::AccountBlocked)
    } else if !row.is_active {
        Some(AppError::AccountInactive)
    } else {
        None
    };
    if let Some(refusal) = refusal {
        end_pending(app, &session.id, row.id, "login_refused", client).await?;
        return Err(refusal);
    }
    let Some(checked_version) =
        sessions::spend_pending_session(app.pool(), &session.id, now).await?
    else {
        return Err(AppError::SessionRevoked);
    };
    app.session_cache.forget_session(&session.id);
    accounts::forget_failures(app.pool(), row.id).await?;
    let proved = Proved::SecondFactor(method);
    let tokens = open_session(app, &row, session.persistent, proved, client).await?;
    password_unchanged_since(app, row.id, checked_version, &tokens.session_id, client).await?;
    Ok(tokens)
}

/// Settles a wrong code on a pending login (attempt `number` on the session) and gives
/// the answer: how many tries are left, or the revoked session, or the lock.
async fn wrong_login_code(
    app: &App,
    attempt: lockout::Attempt,
    session_id: &str,
    number: i64,
    row: &AccountRow,
    client: &ClientInfo,
) -> Result<AppError, AppError> {
    let account_answer = attempt
        .failed(app, lockout::SECOND_FACTOR_FAILURE, client)
        .await;
    match account_answer {
        AppError::AccountLocked { .. } => {
            end_pending(app, session_id, row.id, "account_locked", client).await?;
            return Ok(account_answer);
        }
        ref error if error.is_internal() => return Err(account_answer),
        _ => {}
    }
    let left = app.settings.second_step.two_factor_max_attempts - number;
    if left <= 0 {
        end_pending(app, session_id, row.id, "too_many_wrong_codes", client).await?;
        return Ok(AppError::SessionRevoked);
    }
    Ok(AppError::InvalidOtp {
        attempts_left: Some(left),
    })
}

async fn end_pending(
    app: &App,
    session_id: &str,
    account_id: i64,
    reason: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    revoke_session(app, account_id, session_id, reason, None, client).await?;
    Ok(())
}
