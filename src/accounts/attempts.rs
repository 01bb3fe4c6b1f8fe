//! The login attempt budget on the account's row: reserved, settled and locked, each
//! in one guarded statement, so bursts and several instances count exactly.

use super::*;

/// How long an attempt stays reserved at most: far longer than any check (the
/// hashing queue's wait and one hash), short enough that a crash frees it soon.
pub const IN_FLIGHT_SECONDS: i64 = 30;

/// The in-flight count as of `$2` (a lapsed count is none).
pub(super) const IN_FLIGHT: &str =
    "(CASE WHEN attempts_in_flight_until > $2 THEN attempts_in_flight ELSE 0 END)";
/// The verified failures as of `$2`: a lapsed lock starts the count again.
pub(super) const FAILURES: &str = "(CASE WHEN locked_at IS NULL THEN failed_logins ELSE 0 END)";

/// One in-flight attempt settled.
pub(super) const SETTLED: &str =
    "attempts_in_flight = CASE WHEN attempts_in_flight > 0 THEN attempts_in_flight - 1 ELSE 0 END";

/// Reserves an attempt before its secret is checked, in one statement that refuses
/// (`None`) while the account is blocked, a lock is in force, or the verified
/// failures and the attempts in flight already make `max` (when not 0). So however
/// many requests arrive at once, and on however many instances, at most `max` are
/// ever checked per lock period. A lapsed lock starts the count again.
pub async fn reserve_attempt(
    pool: &AnyPool,
    id: i64,
    now: i64,
    max: i64,
) -> Result<bool, sqlx::Error> {
    // Every expression reads the row as it was before this update.
    let sql = format!(
        "UPDATE accounts SET failed_logins = {FAILURES}, locked_at = NULL, locked_until = NULL, \
         attempts_in_flight = {IN_FLIGHT} + 1, attempts_in_flight_until = $2 + $4 \
         WHERE id = $1 AND blocked_at IS NULL AND (locked_at IS NULL OR locked_until <= $2) \
         AND ($3 = 0 OR {FAILURES} + {IN_FLIGHT} < $3)"
    );
    let done = sqlx::query(&sql)
        .bind(id)
        .bind(now)
        .bind(max)
        .bind(IN_FLIGHT_SECONDS)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The failures verified on an account after one more, and the lock in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromRow)]
pub struct Failure {
    #[sqlx(rename = "failed_logins")]
    pub number: i64,
    pub locked_at: Option<i64>,
    pub locked_until: Option<i64>,
}

/// Settles an in-flight attempt as a verified failure, in one statement; the failure
/// that brings the count to `max` (when not 0) sets the lock, until `until` (`None`:
/// until an admin unlocks).
pub async fn record_failure(
    pool: &AnyPool,
    id: i64,
    now: i64,
    max: i64,
    until: Option<i64>,
) -> Result<Failure, sqlx::Error> {
    const LOCKS: &str = "(locked_at IS NULL AND $3 > 0 AND failed_logins + 1 >= $3)";
    let sql = format!(
        "UPDATE accounts SET {SETTLED}, failed_logins = failed_logins + 1, \
         locked_at = CASE WHEN {LOCKS} THEN $2 ELSE locked_at END, \
         locked_until = CASE WHEN {LOCKS} THEN $4 ELSE locked_until END \
         WHERE id = $1 RETURNING failed_logins, locked_at, locked_until"
    );
    sqlx::query_as::<_, Failure>(&sql)
        .bind(id)
        .bind(now)
        .bind(max)
        .bind(until)
        .fetch_one(pool)
        .await
}

/// A login completed by a proof outside the attempt budget (a passkey finishing a
/// pending login): the verified failures start again, as after a code. A lock in
/// force stays, and attempts in flight are left to settle themselves.
pub async fn forget_failures(pool: &AnyPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE accounts SET failed_logins = 0 WHERE id = $1 AND locked_at IS NULL")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Settles an in-flight attempt whose secret proved right but which ends no login
/// (the password step of a 2FA login, a re-entered password or code).
pub async fn give_back_attempt(pool: &AnyPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("UPDATE accounts SET {SETTLED} WHERE id = $1"))
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Clears the counter and any lock that ends by itself: a password reset. A lock
/// without an end stays for an administrator to lift.
pub async fn clear_failed_logins_after_reset(pool: &AnyPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE accounts SET failed_logins = 0, \
         locked_at = CASE WHEN locked_until IS NULL THEN locked_at ELSE NULL END, \
         locked_until = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Settles an in-flight attempt as a completed login: the counter and any lock are
/// cleared (its attempt was within the budget when it was reserved).
pub async fn clear_failed_logins(pool: &AnyPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE accounts SET failed_logins = 0, locked_at = NULL, locked_until = NULL, {SETTLED} \
         WHERE id = $1"
    ))
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Clears the counter and any lock: an admin's unlock. Unless `may_touch_staff`, only
/// a regular account. True when the account was there to unlock.
pub async fn unlock_account(
    pool: &AnyPool,
    id: i64,
    may_touch_staff: bool,
) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "UPDATE accounts SET failed_logins = 0, locked_at = NULL, locked_until = NULL, \
         attempts_in_flight = 0 WHERE id = $1 AND {}",
        regular_unless("$2")
    );
    let done = sqlx::query(&sql)
        .bind(id)
        .bind(i64::from(may_touch_staff))
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
