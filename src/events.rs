//! The audit trail: one `auth_events` row per security event (logins, locks, blocks,
//! role and password changes, revocations), and the SQL of that table.
//!
//! Recording is best effort: a failed insert is logged and the action it describes
//! still stands, so a full disk cannot turn into a denial of every login.

use serde::Serialize;
use sqlx::{AnyPool, FromRow};

use crate::sessions::{ClientInfo, MAX_USER_AGENT_CHARS};

/// What happened. Stored as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    AccountCreated,
    LoginSucceeded,
    /// The detail says why: wrong_password, unknown_login, account_locked,
    /// account_blocked or account_inactive.
    LoginFailed,
    AccountLocked,
    AccountUnlocked,
    AccountBlocked,
    AccountUnblocked,
    RolesChanged,
    AccountActivated,
    AccountDeactivated,
    /// By the owner, who knew the old password.
    PasswordChanged,
    /// By an admin or the CLI, or through a reset link (detail "by link").
    PasswordReset,
    /// One session; the detail is the reason (logout, refresh_token_reused, …).
    SessionRevoked,
    /// Several sessions at once; the detail is the reason and the count.
    SessionsRevoked,
    AccountDeleted,
    /// The password of a 2FA account was right; a pending session awaits the code.
    SecondFactorRequested,
    TwoFactorEnabled,
    /// By the account holder.
    TwoFactorDisabled,
    /// By an admin or the CLI, for a user who lost their device.
    TwoFactorReset,
    RecoveryCodeUsed,
    RecoveryCodesRegenerated,
    /// A message could not be delivered; the detail names its purpose and the error.
    MailFailed,
    EmailVerified,
    /// A reset link was sent (asked for by someone who knew the address).
    PasswordResetRequested,
    /// A change of address was asked for; the detail is the new address.
    EmailChangeRequested,
    /// The new address confirmed its link; the detail is the old address.
    EmailChanged,
    /// A session's holder proved themselves again; the detail says how.
    Reauthenticated,
    /// A part's or feature's own event, by its snake_case name (`passkey_added`).
    Part(&'static str),
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Part(name) => name,
            EventKind::AccountCreated => "account_created",
            EventKind::LoginSucceeded => "login_succeeded",
            EventKind::LoginFailed => "login_failed",
            EventKind::AccountLocked => "account_locked",
            EventKind::AccountUnlocked => "account_unlocked",
            EventKind::AccountBlocked => "account_blocked",
            EventKind::AccountUnblocked => "account_unblocked",
            EventKind::RolesChanged => "roles_changed",
            EventKind::AccountActivated => "account_activated",
            EventKind::AccountDeactivated => "account_deactivated",
            EventKind::PasswordChanged => "password_changed",
            EventKind::PasswordReset => "password_reset",
            EventKind::SessionRevoked => "session_revoked",
            EventKind::SessionsRevoked => "sessions_revoked",
            EventKind::AccountDeleted => "account_deleted",
            EventKind::SecondFactorRequested => "second_factor_requested",
            EventKind::TwoFactorEnabled => "two_factor_enabled",
            EventKind::TwoFactorDisabled => "two_factor_disabled",
            EventKind::TwoFactorReset => "two_factor_reset",
            EventKind::RecoveryCodeUsed => "recovery_code_used",
            EventKind::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            EventKind::MailFailed => "mail_failed",
            EventKind::EmailVerified => "email_verified",
            EventKind::PasswordResetRequested => "password_reset_requested",
            EventKind::EmailChangeRequested => "email_change_requested",
            EventKind::EmailChanged => "email_changed",
            EventKind::Reauthenticated => "reauthenticated",
        }
    }
}

/// An event about to be recorded.
pub struct NewEvent<'a> {
    pub kind: EventKind,
    /// The account the event is about; `None` for a login naming no account.
    pub account_id: Option<i64>,
    /// Who acted: the account itself, an admin, or `None` for the CLI.
    pub actor_id: Option<i64>,
    pub detail: Option<String>,
    pub client: &'a ClientInfo,
}

/// A recorded event, as `GET /api/admin/accounts/{id}/events` shows it.
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
#[schema(examples(json!({
    "id": 1207,
    "kind": "account_blocked",
    "account_id": 42,
    "actor_id": 1,
    "detail": "Sent spam to other members",
    "ip": "198.51.100.23",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "created_at": 1767312000,
    "repeats": 1,
    "last_at": null,
    "request_id": "Zk3u9QmW1xTq7LbV2nRp4g"
})))]
pub struct Event {
    pub id: i64,
    /// What happened, in snake_case: `account_created`, `login_succeeded`,
    /// `login_failed`, `account_locked`, `account_blocked`, `password_changed`,
    /// `session_revoked`, `two_factor_enabled`, …
    pub kind: String,
    pub account_id: Option<i64>,
    pub actor_id: Option<i64>,
    /// More about it: a reason, a count, an address (see the kind).
    pub detail: Option<String>,
    /// The client's address.
    pub ip: Option<String>,
    /// The client's user agent (at most 512 characters).
    pub user_agent: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// How many attempts this row stands for: more than one only for the attempts
    /// refused during one lock or block, the latest at `last_at`.
    pub repeats: i64,
    pub last_at: Option<i64>,
    /// The request that caused it (`X-Request-Id`); for a repeated row, the first's.
    /// `None` for the CLI's actions.
    pub request_id: Option<String>,
}

/// Records `event`; a failure is logged, never returned (see the module note).
pub async fn record(pool: &AnyPool, event: NewEvent<'_>, now: i64) {
    insert(pool, event, None, now).await;
}

/// Records `event` as one more repeat of the row of `period` (see migration 0005),
/// inserting that row the first time: refused attempts cost no row each. The row keeps
/// the client of the first.
pub async fn record_repeat(pool: &AnyPool, event: NewEvent<'_>, period: &str, now: i64) {
    insert(pool, event, Some(period), now).await;
}

/// One statement for both: without a period the key is NULL, which never conflicts,
/// so the row is simply inserted.
async fn insert(pool: &AnyPool, event: NewEvent<'_>, period: Option<&str>, now: i64) {
    let inserted = sqlx::query(
        "INSERT INTO auth_events \
         (account_id, actor_id, kind, detail, ip, user_agent, created_at, period_key, last_at, \
         request_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (period_key) DO UPDATE SET repeats = auth_events.repeats + 1, \
         last_at = excluded.last_at",
    )
    .bind(event.account_id)
    .bind(event.actor_id)
    .bind(event.kind.as_str())
    .bind(event.detail.as_deref())
    .bind(event.client.ip.as_deref())
    .bind(bounded_user_agent(event.client))
    .bind(now)
    .bind(period)
    .bind(period.map(|_| now))
    .bind(event.client.request_id.as_deref())
    .execute(pool)
    .await;
    if let Err(error) = inserted {
        log::error!(
            "could not record the {} event of account {:?}: {error}",
            event.kind.as_str(),
            event.account_id
        );
    }
}

/// The user agent cut to the stored bound, whoever built the `ClientInfo`.
fn bounded_user_agent(client: &ClientInfo) -> Option<String> {
    client
        .user_agent
        .as_ref()
        .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect())
}

/// Deletes the events recorded before `before` (a repeated row counts from its latest
/// repeat); returns how many.
pub async fn delete_events_before(
    pool: &AnyPool,
    before: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    // `created_at` (indexed) is never after `last_at`: it narrows the search.
    let done = sqlx::query(
        "DELETE FROM auth_events WHERE id IN (SELECT id FROM auth_events \
         WHERE created_at < $1 AND COALESCE(last_at, created_at) < $1 LIMIT $2)",
    )
    .bind(before)
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// One page of the account's events, newest first.
pub async fn list_for_account(
    pool: &AnyPool,
    account_id: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<Event>, sqlx::Error> {
    sqlx::query_as::<_, Event>(
        "SELECT id, kind, account_id, actor_id, detail, ip, user_agent, created_at, repeats, \
         last_at, request_id \
         FROM auth_events WHERE account_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3",
    )
    .bind(account_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}

/// How many events the account has.
pub async fn count_for_account(pool: &AnyPool, account_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM auth_events WHERE account_id = $1")
        .bind(account_id)
        .fetch_one(pool)
        .await
}
