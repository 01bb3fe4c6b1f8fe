//! The attempt budget of an account, shared by every place a secret is checked: the
//! password at login, a password re-entered by a signed-in session, a second-factor
//! code. Each check begins by reserving its attempt in one guarded statement
//! ([`begin_attempt`]), which refuses while the account is locked or blocked, or
//! while the verified failures and the attempts in flight already make the budget;
//! only then is the secret checked. So however many guesses arrive at once, at most
//! `lockout_max_attempts` are checked per lock period, and a refused guess is answered
//! the same whether it was right or not. Attempts in flight are not failures: only a
//! verified failure counts towards the lock, and only the failure that reaches the
//! threshold declares it, so right passwords sent together never lock an account.
//! This is the one interface the login flow ([`crate::auth`]) and two-factor
//! authentication ([`crate::two_factor`]) share.

use crate::accounts::{self, AccountRow, Lock};
use crate::app::App;
use crate::audit::{audit, audit_own};
use crate::error::AppError;
use crate::events::{self, EventKind, NewEvent};
use crate::password::{policy, HashTicket, Verdict};
use crate::sessions::ClientInfo;

/// An attempt reserved on an account, whose secret may now be checked. Say how it
/// ended with [`Attempt::failed`], [`Attempt::completed_login`] or
/// [`Attempt::give_back`]. One dropped unsettled (an internal error on its way) is
/// given back in the background: its secret was never found wrong, and a reservation
/// left in flight would shrink the owner's budget until it lapsed.
#[derive(Debug)]
#[must_use = "an attempt must be settled: failed, completed_login or give_back"]
pub struct Attempt {
    account_id: i64,
    /// Set until the attempt is settled.
    unsettled: Option<sqlx::AnyPool>,
}

impl Attempt {
    fn settle(mut self) -> i64 {
        self.unsettled = None;
        self.account_id
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        let (Some(pool), Ok(runtime)) = (
            self.unsettled.take(),
            rocket::tokio::runtime::Handle::try_current(),
        ) else {
            return;
        };
        let account_id = self.account_id;
        runtime.spawn(async move {
            if let Err(error) = accounts::give_back_attempt(&pool, account_id).await {
                log::warn!("an unsettled attempt on account {account_id} stays in flight: {error}");
            }
        });
    }
}

/// Reserves an attempt on `row`'s account, or refuses it (blocked, locked, or the
/// budget in flight) before any secret is looked at: the refusal depends only on the
/// stored state, so a right secret refused is answered exactly like a wrong one.
pub async fn begin_attempt(
    app: &App,
    row: &AccountRow,
    client: &ClientInfo,
) -> Result<Attempt, AppError> {
    if !row.is_blocked() {
        let max = app.settings.lockout.lockout_max_attempts;
        if accounts::reserve_attempt(app.pool(), row.id, app.now(), max).await? {
            return Ok(Attempt {
                account_id: row.id,
                unsettled: Some(app.pool().clone()),
            });
        }
    }
    Err(refusal(app, row.id, client).await)
}

/// Why an attempt on `account_id` was refused, from the row as stored now. A block
/// or a lock is recorded as one more repeat on the audit row of the one in force; a
/// budget taken by attempts in flight is no failure and no lock: 429, try again in a
/// second.
async fn refusal(app: &App, account_id: i64, client: &ClientInfo) -> AppError {
    let row = match accounts::find_by_id(app.pool(), account_id).await {
        Ok(Some(row)) => row,
        // Deleted meanwhile: as if the login named no account.
        Ok(None) => return AppError::InvalidCredentials,
        Err(error) => return error.into(),
    };
    let now = app.now();
    let (refusal, period) = match (row.blocked_at, lock_refusal(&row, now), row.locked_at) {
        (Some(blocked_at), _, _) => (
            AppError::AccountBlocked,
            format!("blocked:{account_id}:{blocked_at}"),
        ),
        (None, Some(locked), Some(locked_at)) => {
            (locked, format!("locked:{account_id}:{locked_at}"))
        }
        _ => return AppError::RateLimited { retry_after: 1 },
    };
    let detail = match refusal {
        AppError::AccountBlocked => "account_blocked",
        _ => "account_locked",
    };
    let event = NewEvent {
        kind: EventKind::LoginFailed,
        account_id: Some(account_id),
        actor_id: Some(account_id),
        detail: Some(format!("{detail} (refused before checking)")),
        client,
    };
    events::record_repeat(app.pool(), event, &period, now).await;
    refusal
}

/// The reason an attempt failed on a wrong one-time or recovery code.
pub const SECOND_FACTOR_FAILURE: &str = "wrong_otp";

impl Attempt {
    /// The secret was wrong: one verified failure. Returns the answer: the lock in
    /// force (423, with the time left from the stored lock end) or
    /// `InvalidCredentials`. The failure that reaches the threshold declares the lock
    /// and audits it.
    pub async fn failed(self, app: &App, reason: &str, client: &ClientInfo) -> AppError {
        let account_id = self.settle();
        if reason == SECOND_FACTOR_FAILURE {
            app.metrics.second_factor_failure();
        }
        let now = app.now();
        let lockout = &app.settings.lockout;
        let until = lockout.lockout_duration.map(|seconds| now + seconds);
        let max = lockout.lockout_max_attempts;
        let failure = match accounts::record_failure(app.pool(), account_id, now, max, until).await
        {
            Ok(failure) => failure,
            Err(error) => return error.into(),
        };
        let number = failure.number;
        let detail = Some(format!("{reason} (failed attempt {number})"));
        audit_own(app, EventKind::LoginFailed, account_id, detail, client).await;
        if failure.locked_at.is_none() {
            return AppError::InvalidCredentials;
        }
        // Only the failure that reached the threshold declared the lock.
        if failure.locked_at == Some(now) && number == max {
            app.metrics.lockout();
            log::warn!("account {account_id} locked after {number} failed attempts");
            let detail = Some(format!("after {number} failed attempts"));
            audit(
                app,
                EventKind::AccountLocked,
                account_id,
                None,
                detail,
                client,
            )
            .await;
        }
        AppError::AccountLocked {
            retry_after: failure.locked_until.map(|until| (until - now).max(1)),
        }
    }

    /// The secret was right and a login is complete: the count starts again.
    pub async fn completed_login(self, app: &App) -> Result<(), AppError> {
        accounts::clear_failed_logins(app.pool(), self.settle()).await?;
        Ok(())
    }

    /// The secret was right but ends no login (the password step of a 2FA login, a
    /// re-entered password or code): the attempt is settled, no more.
    pub async fn give_back(self, app: &App) -> Result<(), AppError> {
        accounts::give_back_attempt(app.pool(), self.settle()).await?;
        Ok(())
    }
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

/// Checks `password` against the account's hash, on `ticket`'s place in the hashing
/// queue; true when right. A hash made before passwords were normalised is also tried
/// with the password as typed (only when normalising changes it), and a right password
/// is then re-hashed in its normalised form, as is one whose hash has outdated
/// parameters.
pub async fn check_password(
    app: &App,
    ticket: HashTicket,
    row: &AccountRow,
    password: &str,
) -> Result<bool, AppError> {
    let mut verdict = ticket.verify(password, Some(&row.password_hash)).await?;
    if !row.password_normalized {
        verdict = match verdict {
            Verdict::Mismatch if policy::normalize(password) != password => {
                match ticket.verify_as_typed(password, &row.password_hash).await? {
                    Verdict::Mismatch => Verdict::Mismatch,
                    _ => Verdict::MatchNeedsRehash,
                }
            }
            Verdict::Mismatch => Verdict::Mismatch,
            _ => Verdict::MatchNeedsRehash,
        };
    }
    if verdict == Verdict::MatchNeedsRehash {
        upgrade_hash(app, row, password).await;
    }
    Ok(verdict != Verdict::Mismatch)
}

/// Stores a fresh hash of a right password; a failure only delays the upgrade.
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

/// Re-checks the password of a signed-in account (password change, 2FA setup and
/// disable) as one attempt on its budget, so a stolen session cannot guess the
/// password freely. A wrong password is reported on `field` (422), or as the lock it
/// set (423).
pub async fn recheck_password(
    app: &App,
    row: &AccountRow,
    password: &str,
    field: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    // A queue slot first, so a busy server never spends an attempt it cannot check.
    let ticket = app.hasher.ticket()?;
    let attempt = begin_attempt(app, row, client).await?;
    let right = password.len() <= app.settings.passwords.password_max_length
        && check_password(app, ticket, row, password).await?;
    if right {
        return attempt.give_back(app).await;
    }
    Err(match attempt.failed(app, "wrong_password", client).await {
        AppError::InvalidCredentials => AppError::field(field, "is incorrect"),
        refusal => refusal,
    })
}
