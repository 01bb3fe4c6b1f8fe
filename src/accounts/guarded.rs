//! Changes an administrator makes (block, unblock, roles, delete), each one guarded
//! statement that never leaves the app without an active superuser.

use super::*;

/// The condition, on the row an UPDATE or DELETE targets, that it is not the last
/// active superuser: it is none, or another active, unblocked superuser exists. On
/// PostgreSQL the statement locks that other superuser's row, so two superusers
/// removing each other at once are serialised (or one is aborted as a deadlock, which
/// [`crate::db::lost_a_race`] recognises) and the second sees the first's change.
pub(super) fn not_the_last_superuser(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "(NOT (is_superuser = 1 AND is_active = 1 AND blocked_at IS NULL) OR EXISTS (\
             SELECT 1 FROM accounts other WHERE other.id <> accounts.id AND other.is_superuser = 1 \
             AND other.is_active = 1 AND other.blocked_at IS NULL))"
        }
        Backend::Postgres => {
            "(NOT (is_superuser = 1 AND is_active = 1 AND blocked_at IS NULL) OR EXISTS (\
             SELECT 1 FROM accounts other WHERE other.id <> accounts.id AND other.is_superuser = 1 \
             AND other.is_active = 1 AND other.blocked_at IS NULL ORDER BY other.id FOR UPDATE))"
        }
    }
}

/// The condition that the row is a regular account, unless the actor may act on
/// staff (`$n` bound to 1 for a superuser or the CLI).
pub(super) fn regular_unless(param: &str) -> String {
    format!("(is_staff = 0 AND is_superuser = 0 OR {param} = 1)")
}

/// Whether a guarded statement changed its row, counting a lost race (a deadlock
/// PostgreSQL broke) as not changed.
pub(super) fn applied(
    result: Result<sqlx::any::AnyQueryResult, sqlx::Error>,
) -> Result<bool, sqlx::Error> {
    match result {
        Ok(done) => Ok(done.rows_affected() == 1),
        Err(error) if crate::db::lost_a_race(&error) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Blocks an account that is not blocked yet, in one statement that leaves alone a
/// staff account (unless `may_touch_staff`) and the last active superuser, whatever
/// changed since the caller looked. True when blocked.
pub async fn block_account(
    db: &DbPool,
    id: i64,
    blocked_by: Option<i64>,
    reason: &str,
    may_touch_staff: bool,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "UPDATE accounts SET blocked_at = $2, block_reason = $3, blocked_by = $4, updated_at = $2 \
         WHERE id = $1 AND blocked_at IS NULL AND {} AND {}",
        regular_unless("$5"),
        not_the_last_superuser(db.backend)
    );
    let done = sqlx::query(&sql)
        .bind(id)
        .bind(now)
        .bind(reason)
        .bind(blocked_by)
        .bind(i64::from(may_touch_staff))
        .execute(&db.pool)
        .await;
    applied(done)
}

/// How many active, unblocked superusers there are (for the message of a refusal).
pub async fn count_active_superusers(pool: &AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM accounts WHERE is_superuser = 1 AND is_active = 1 \
         AND blocked_at IS NULL",
    )
    .fetch_one(pool)
    .await
}

/// Lifts a block; true when the account was blocked (and, unless `may_touch_staff`,
/// is a regular account).
pub async fn unblock_account(
    pool: &AnyPool,
    id: i64,
    may_touch_staff: bool,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "UPDATE accounts SET blocked_at = NULL, block_reason = NULL, blocked_by = NULL, \
         updated_at = $2 WHERE id = $1 AND blocked_at IS NOT NULL AND {}",
        regular_unless("$3")
    );
    let done = sqlx::query(&sql)
        .bind(id)
        .bind(now)
        .bind(i64::from(may_touch_staff))
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The three flags of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags {
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
}

impl AccountRow {
    pub fn flags(&self) -> Flags {
        Flags {
            is_active: self.is_active,
            is_staff: self.is_staff,
            is_superuser: self.is_superuser,
        }
    }
}

/// Sets the flags if they are still `expected`, so a decision taken on what the caller
/// read is never applied to an account that changed meanwhile, and never to the last
/// active superuser if the change takes that away. True when updated.
pub async fn update_flags(
    db: &DbPool,
    id: i64,
    expected: Flags,
    new: Flags,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let guard = if new.is_superuser && new.is_active {
        ""
    } else {
        not_the_last_superuser(db.backend)
    };
    let sql = format!(
        "UPDATE accounts SET is_active = $2, is_staff = $3, is_superuser = $4, updated_at = $5 \
         WHERE id = $1 AND is_active = $6 AND is_staff = $7 AND is_superuser = $8 {}{guard}",
        if guard.is_empty() { "" } else { "AND " }
    );
    let done = sqlx::query(&sql)
        .bind(id)
        .bind(i64::from(new.is_active))
        .bind(i64::from(new.is_staff))
        .bind(i64::from(new.is_superuser))
        .bind(now)
        .bind(i64::from(expected.is_active))
        .bind(i64::from(expected.is_staff))
        .bind(i64::from(expected.is_superuser))
        .execute(&db.pool)
        .await;
    applied(done)
}

/// Deletes an account; its sessions go with it (ON DELETE CASCADE). True when it existed.
/// Deletes the account unless it is the last active superuser. True when deleted.
pub async fn delete_account(db: &DbPool, id: i64) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "DELETE FROM accounts WHERE id = $1 AND {}",
        not_the_last_superuser(db.backend)
    );
    let done = sqlx::query(&sql).bind(id).execute(&db.pool).await;
    applied(done)
}
