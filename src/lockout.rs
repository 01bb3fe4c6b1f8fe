//! The attempt budget of an account, shared by every place a secret is checked: the
//! password at login, a password re-entered by a signed-in session, a second-factor
//! code. Wrong secrets count against it (one guarded statement each), a lock stops
//! them all, and an admin's block stops everything. This is the one interface the
//! login flow ([`crate::auth`]) and two-factor authentication ([`crate::two_factor`])
//! share.

use crate::accounts::{self, AccountRow, Lock};
use crate::app::App;
use crate::audit::{audit, audit_own};
use crate::error::AppError;
use crate::events::EventKind;
use crate::password::Verdict;
use crate::sessions::ClientInfo;

/// Refuses a login to a blocked or locked account, whatever the password.
pub async fn check_login_allowed(
    app: &App,
    row: &AccountRow,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let refusal = if row.is_blocked() {
        AppError::AccountBlocked
    } else {
        match lock_refusal(row, app.now()) {
            Some(locked) => locked,
            None => return Ok(()),
        }
    };
    let detail = match refusal {
        AppError::AccountBlocked => "account_blocked",
        _ => "account_locked",
    };
    let detail = Some(detail.to_string());
    audit_own(app, EventKind::LoginFailed, row.id, detail, client).await;
    Err(refusal)
}

/// The 423 a lock in force at `now` calls for, if any.
pub fn lock_refusal(row: &AccountRow, now: i64) -> Option<AppError> {
    match row.lock(now) {
        Lock::Open => None,
        Lock::For(seconds) => Some(AppError::AccountLocked {
            retry_after: Some(seconds),
        }),
        Lock::UntilUnlocked => Some(AppError::AccountLocked { retry_after: None }),
    }
}

/// The refusal for an account a guarded update found locked after its row was read.
pub async fn lock_in_force(app: &App, account_id: i64) -> AppError {
    match accounts::find_by_id(app.pool(), account_id).await {
        // The lock may lapse between the update and this read: still refuse, briefly.
        Ok(Some(row)) => lock_refusal(&row, app.now()).unwrap_or(AppError::AccountLocked {
            retry_after: Some(1),
        }),
        Ok(None) => AppError::InvalidCredentials,
        Err(error) => error.into(),
    }
}

/// Counts a wrong secret (a password, later a one-time code) against the account and
/// locks it when the count reaches `lockout_max_attempts`. Returns the error to
/// answer: `AccountLocked` from the attempt that locks, else `InvalidCredentials`.
pub async fn record_failed_attempt(
    app: &App,
    row: &AccountRow,
    reason: &str,
    client: &ClientInfo,
) -> AppError {
    let now = app.now();
    // Internal errors pass through as such; callers map only the credential answers.
    let count = match accounts::record_failed_login(app.pool(), row.id, now).await {
        Ok(count) => count,
        // Deleted since it was read: there is nothing left to count against.
        Err(sqlx::Error::RowNotFound) => return AppError::InvalidCredentials,
        Err(error) => return error.into(),
    };
    let detail = Some(format!("{reason} (failed attempt {count})"));
    audit_own(app, EventKind::LoginFailed, row.id, detail, client).await;
    let max = app.settings.lockout.lockout_max_attempts;
    if max == 0 || count < max {
        return AppError::InvalidCredentials;
    }
    let until = app
        .settings
        .lockout
        .lockout_duration
        .map(|seconds| now + seconds);
    match accounts::lock_account(app.pool(), row.id, now, until).await {
        Ok(true) => {
            log::warn!(
                "account {} locked after {count} failed login attempts",
                row.id
            );
            let detail = Some(format!("after {count} failed attempts"));
            audit(app, EventKind::AccountLocked, row.id, None, detail, client).await;
        }
        Ok(false) => {}
        Err(error) => return error.into(),
    }
    AppError::AccountLocked {
        retry_after: until.map(|until| until - now),
    }
}

/// Re-checks the password of a signed-in account (password change, 2FA setup and
/// disable). Refused while the account is locked, and a wrong one counts towards the
/// lock like a failed login, so a stolen session cannot guess the password freely.
/// A wrong password is reported on `field` (422), or as the lock it caused (423).
pub async fn recheck_password(
    app: &App,
    row: &AccountRow,
    password: &str,
    field: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    if let Some(locked) = lock_refusal(row, app.now()) {
        return Err(locked);
    }
    let verdict = if password.len() > app.settings.passwords.password_max_length {
        Verdict::Mismatch
    } else {
        app.hasher
            .verify(password, Some(&row.password_hash))
            .await?
    };
    if verdict != Verdict::Mismatch {
        return Ok(());
    }
    Err(
        match record_failed_attempt(app, row, "wrong_password", client).await {
            refusal @ AppError::AccountLocked { .. } => refusal,
            refusal if refusal.is_internal() => refusal,
            _ => AppError::field(field, "is incorrect"),
        },
    )
}
