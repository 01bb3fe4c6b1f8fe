//! The SQL of two-factor authentication: the `totp_*` columns of `accounts` and the
//! `recovery_codes` table. Every state change is a guarded single statement (or one
//! transaction), so concurrent requests cannot both spend one code.

use sqlx::AnyPool;

/// Stores a new, unconfirmed TOTP secret for the session `session_id`, replacing an
/// earlier unconfirmed one. False when 2FA is already on (it must be disabled first).
pub async fn start_setup(
    pool: &AnyPool,
    account_id: i64,
    session_id: &str,
    sealed_secret: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE accounts SET totp_secret = $2, totp_enabled_at = NULL, totp_last_step = NULL, \
         totp_setup_session = $4, updated_at = $3 WHERE id = $1 AND totp_enabled_at IS NULL",
    )
    .bind(account_id)
    .bind(sealed_secret)
    .bind(now)
    .bind(session_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Switches 2FA on with the secret that was confirmed (if it is still the stored one,
/// started by `session_id`), spends the confirming code's step, and stores the recovery
/// codes' hashes, in one transaction. False when the setup changed meanwhile.
pub async fn enable(
    pool: &AnyPool,
    account_id: i64,
    session_id: &str,
    sealed_secret: &str,
    accepted_step: i64,
    recovery_hashes: &[String],
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE accounts SET totp_enabled_at = $3, totp_last_step = $4, updated_at = $3, \
         totp_setup_session = NULL WHERE id = $1 AND totp_secret = $2 \
         AND totp_enabled_at IS NULL AND totp_setup_session = $5",
    )
    .bind(account_id)
    .bind(sealed_secret)
    .bind(now)
    .bind(accepted_step)
    .bind(session_id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    insert_recovery_codes(&mut tx, account_id, recovery_hashes, now).await?;
    tx.commit().await?;
    Ok(true)
}

async fn insert_recovery_codes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    account_id: i64,
    hashes: &[String],
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut **tx)
        .await?;
    for hash in hashes {
        sqlx::query(
            "INSERT INTO recovery_codes (account_id, code_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(account_id)
        .bind(hash)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Replaces the account's recovery codes; the old ones stop working.
pub async fn replace_recovery_codes(
    pool: &AnyPool,
    account_id: i64,
    hashes: &[String],
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    insert_recovery_codes(&mut tx, account_id, hashes, now).await?;
    tx.commit().await
}

/// Records that the code of `step` was accepted, if no code of that step or a later
/// one was: true for exactly one of any number of concurrent uses of one code.
pub async fn accept_step(pool: &AnyPool, account_id: i64, step: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE accounts SET totp_last_step = $2 WHERE id = $1 AND totp_enabled_at IS NOT NULL \
         AND (totp_last_step IS NULL OR totp_last_step < $2)",
    )
    .bind(account_id)
    .bind(step)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Spends an unused recovery code: true for exactly one of concurrent uses.
pub async fn use_recovery_code(
    pool: &AnyPool,
    account_id: i64,
    code_hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE recovery_codes SET used_at = $3 \
         WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(account_id)
    .bind(code_hash)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() >= 1)
}

pub async fn recovery_codes_left(pool: &AnyPool, account_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL",
    )
    .bind(account_id)
    .fetch_one(pool)
    .await
}

/// Switches 2FA off: the secret and the recovery codes go. False when it was off.
pub async fn turn_off(
    pool: &AnyPool,
    account_id: i64,
    may_touch_staff: bool,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE accounts SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL, \
         totp_setup_session = NULL, updated_at = $2 WHERE id = $1 AND totp_enabled_at IS NOT NULL \
         AND (is_staff = 0 AND is_superuser = 0 OR $3 = 1)",
    )
    .bind(account_id)
    .bind(now)
    .bind(i64::from(may_touch_staff))
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// The sealed TOTP secrets of the accounts with 2FA on, in id order after `after`:
/// `(id, username, sealed secret)`, `limit` at a time (for `doctor`).
pub async fn enrolled_secrets(
    pool: &AnyPool,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, username, totp_secret FROM accounts WHERE totp_enabled_at IS NOT NULL \
         AND totp_secret IS NOT NULL AND id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}
