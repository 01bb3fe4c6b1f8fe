//! The SQL of passkeys: the user handles, the passkeys and the ceremonies in
//! progress. Every change of security state is one guarded statement (or one
//! transaction that a guarded update opens): a ceremony is taken once, a counter only
//! moves forward, and the per-account limit holds under concurrent requests.

use sqlx::{AnyPool, Row};

/// A passkey as the account holder sees it, and what checking it needs.
#[derive(Debug, Clone)]
pub struct PasskeyRow {
    pub id: i64,
    pub account_id: i64,
    pub credential_id: String,
    pub name: String,
    /// webauthn-rs's serialised passkey.
    pub credential: String,
    pub sign_count: i64,
    pub backed_up: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

const COLUMNS: &str = "id, account_id, credential_id, name, credential, sign_count, \
                       backed_up, created_at, last_used_at";

fn passkey(row: sqlx::any::AnyRow) -> Result<PasskeyRow, sqlx::Error> {
    Ok(PasskeyRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        credential_id: row.try_get("credential_id")?,
        name: row.try_get("name")?,
        credential: row.try_get("credential")?,
        sign_count: row.try_get("sign_count")?,
        backed_up: row.try_get::<i64, _>("backed_up")? != 0,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

/// The account's user handle, made (from `fresh`) on first use. Two first uses at
/// once both end with the one that was stored.
pub async fn user_handle(
    pool: &AnyPool,
    account_id: i64,
    fresh: &str,
) -> Result<String, sqlx::Error> {
    sqlx::query(
        "INSERT INTO passkey_users (account_id, user_handle, passkeys) VALUES ($1, $2, 0) \
         ON CONFLICT (account_id) DO NOTHING",
    )
    .bind(account_id)
    .bind(fresh)
    .execute(pool)
    .await?;
    sqlx::query_scalar("SELECT user_handle FROM passkey_users WHERE account_id = $1")
        .bind(account_id)
        .fetch_one(pool)
        .await
}

/// The account a user handle names, if any.
pub async fn account_of_handle(
    pool: &AnyPool,
    user_handle: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT account_id FROM passkey_users WHERE user_handle = $1")
        .bind(user_handle)
        .fetch_optional(pool)
        .await
}

/// The account's passkeys, oldest first.
pub async fn list(pool: &AnyPool, account_id: i64) -> Result<Vec<PasskeyRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM passkeys WHERE account_id = $1 ORDER BY id");
    sqlx::query(&sql)
        .bind(account_id)
        .try_map(passkey)
        .fetch_all(pool)
        .await
}

/// How many passkeys the account has.
pub async fn count(pool: &AnyPool, account_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE account_id = $1")
        .bind(account_id)
        .fetch_one(pool)
        .await
}

/// The passkey with this credential id, and the account its owner's user handle
/// names (the owner's, unless `user_handle` is another account's or nobody's).
pub async fn find_by_credential_and_handle(
    pool: &AnyPool,
    credential_id: &str,
    user_handle: &str,
) -> Result<Option<(PasskeyRow, Option<i64>)>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS}, (SELECT account_id FROM passkey_users WHERE user_handle = $2) \
         AS handle_account FROM passkeys WHERE credential_id = $1"
    );
    sqlx::query(&sql)
        .bind(credential_id)
        .bind(user_handle)
        .try_map(|row: sqlx::any::AnyRow| {
            let handle_account: Option<i64> = row.try_get("handle_account")?;
            Ok((passkey(row)?, handle_account))
        })
        .fetch_optional(pool)
        .await
}

/// The passkey with this credential id, whoever owns it.
pub async fn find_by_credential(
    pool: &AnyPool,
    credential_id: &str,
) -> Result<Option<PasskeyRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM passkeys WHERE credential_id = $1");
    sqlx::query(&sql)
        .bind(credential_id)
        .try_map(passkey)
        .fetch_optional(pool)
        .await
}

/// One of the account's passkeys.
pub async fn find(
    pool: &AnyPool,
    account_id: i64,
    id: i64,
) -> Result<Option<PasskeyRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM passkeys WHERE id = $1 AND account_id = $2");
    sqlx::query(&sql)
        .bind(id)
        .bind(account_id)
        .try_map(passkey)
        .fetch_optional(pool)
        .await
}

/// A passkey to store.
pub struct NewPasskey<'a> {
    pub account_id: i64,
    pub credential_id: &'a str,
    pub name: &'a str,
    pub credential: &'a str,
    pub sign_count: i64,
    pub backed_up: bool,
}

/// Why a passkey was not stored.
pub enum AddRefused {
    /// The account has `max` passkeys already.
    Full,
    /// The credential is registered already (to this account or another).
    Known,
}

/// Stores a passkey if the account has fewer than `max`: the count is taken by one
/// guarded update in the same transaction as the insert.
pub async fn add(
    pool: &AnyPool,
    new: NewPasskey<'_>,
    max: i64,
    now: i64,
) -> Result<Result<PasskeyRow, AddRefused>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let counted = sqlx::query(
        "UPDATE passkey_users SET passkeys = passkeys + 1 WHERE account_id = $1 AND passkeys < $2",
    )
    .bind(new.account_id)
    .bind(max)
    .execute(&mut *tx)
    .await?;
    if counted.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(Err(AddRefused::Full));
    }
    let sql = format!(
        "INSERT INTO passkeys (account_id, credential_id, name, credential, sign_count, \
         backed_up, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (credential_id) DO NOTHING RETURNING {COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(new.account_id)
        .bind(new.credential_id)
        .bind(new.name)
        .bind(new.credential)
        .bind(new.sign_count)
        .bind(i64::from(new.backed_up))
        .bind(now)
        .try_map(passkey)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Ok(Err(AddRefused::Known));
    };
    tx.commit().await?;
    Ok(Ok(row))
}

/// Renames one of the account's passkeys. False when it has no such passkey.
pub async fn rename(
    pool: &AnyPool,
    account_id: i64,
    id: i64,
    name: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE passkeys SET name = $3 WHERE id = $1 AND account_id = $2")
        .bind(id)
        .bind(account_id)
        .bind(name)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Why a passkey was not removed.
#[derive(Debug, PartialEq, Eq)]
pub enum RemoveRefused {
    /// The account has no such passkey.
    Missing,
    /// It is the account's last way in.
    LastWayIn,
}

/// Removes one of the account's passkeys, keeping at least `keep` (1 when passkeys
/// are the account's only way in). The guarded update of the count locks the
/// account's row, so two removals at once cannot both take the last two.
pub async fn remove(
    pool: &AnyPool,
    account_id: i64,
    id: i64,
    keep: i64,
) -> Result<Result<PasskeyRow, RemoveRefused>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let counted = sqlx::query(
        "UPDATE passkey_users SET passkeys = passkeys - 1 WHERE account_id = $1 AND passkeys > $2",
    )
    .bind(account_id)
    .bind(keep)
    .execute(&mut *tx)
    .await?;
    if counted.rows_affected() != 1 {
        tx.rollback().await?;
        let exists = find(pool, account_id, id).await?.is_some();
        return Ok(Err(if exists {
            RemoveRefused::LastWayIn
        } else {
            RemoveRefused::Missing
        }));
    }
    let sql = format!("DELETE FROM passkeys WHERE id = $1 AND account_id = $2 RETURNING {COLUMNS}");
    let row = sqlx::query(&sql)
        .bind(id)
        .bind(account_id)
        .try_map(passkey)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Ok(Err(RemoveRefused::Missing));
    };
    tx.commit().await?;
    Ok(Ok(row))
}

/// Removes every passkey of the account (an admin's reset). How many there were.
pub async fn remove_all(pool: &AnyPool, account_id: i64) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // The count's row first, as `add` and `remove` lock it: the same order, no deadlock.
    sqlx::query("UPDATE passkey_users SET passkeys = 0 WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query("DELETE FROM passkeys WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// Records a successful use: the new counter, backup state and serialised passkey,
/// only if the counter moves forward from what is stored (or both are 0, as synced
/// passkeys report). False when it does not: a clone, or a passkey removed meanwhile.
pub async fn record_use(
    pool: &AnyPool,
    id: i64,
    counter: i64,
    backed_up: bool,
    credential: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE passkeys SET sign_count = $2, backed_up = $3, credential = $4, \
         last_used_at = $5 WHERE id = $1 AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))",
    )
    .bind(id)
    .bind(counter)
    .bind(i64::from(backed_up))
    .bind(credential)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A ceremony to keep until its finish.
pub struct NewCeremony<'a> {
    pub id: &'a str,
    pub purpose: &'a str,
    pub account_id: Option<i64>,
    pub session_id: Option<&'a str>,
    pub state: &'a str,
    pub expires_at: i64,
}

/// Drops the ceremonies that expired by `now` (an index keeps that cheap).
pub async fn drop_expired_ceremonies(pool: &AnyPool, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// Keeps a ceremony's state. False when `max_anonymous` ceremonies of no session
/// wait already and this is one (expired ones included until they are dropped).
pub async fn keep_ceremony(
    pool: &AnyPool,
    ceremony: NewCeremony<'_>,
    max_anonymous: i64,
) -> Result<bool, sqlx::Error> {
    // A bound on storage, not security state: a race may pass it by a few rows.
    let done = sqlx::query(
        "INSERT INTO passkey_ceremonies (id, purpose, account_id, session_id, state, expires_at) \
         SELECT $1, $2, $3, $4, $5, $6 WHERE $4 IS NOT NULL OR \
         (SELECT COUNT(*) FROM passkey_ceremonies WHERE session_id IS NULL) < $7",
    )
    .bind(ceremony.id)
    .bind(ceremony.purpose)
    .bind(ceremony.account_id)
    .bind(ceremony.session_id)
    .bind(ceremony.state)
    .bind(ceremony.expires_at)
    .bind(max_anonymous)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A ceremony that was taken: its state and whom it was started for.
pub struct TakenCeremony {
    pub account_id: Option<i64>,
    pub state: String,
}

/// Takes a ceremony of `purpose`, started by `session_id` (or by no session), that
/// has not expired: one statement deletes it, so only one finish ever gets it.
pub async fn take_ceremony(
    pool: &AnyPool,
    id: &str,
    purpose: &str,
    session_id: Option<&str>,
    now: i64,
) -> Result<Option<TakenCeremony>, sqlx::Error> {
    let row = sqlx::query(
        "DELETE FROM passkey_ceremonies WHERE id = $1 AND purpose = $2 AND expires_at > $3 \
         AND ((session_id IS NULL AND $4 IS NULL) OR session_id = $4) \
         RETURNING account_id, state",
    )
    .bind(id)
    .bind(purpose)
    .bind(now)
    .bind(session_id)
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(TakenCeremony {
            account_id: row.try_get("account_id")?,
            state: row.try_get("state")?,
        })
    })
    .transpose()
}
