//! The SQL of the `accounts` table for creating, finding and changing an account.

use super::*;

pub async fn insert_account(
    pool: &AnyPool,
    new: &NewAccount<'_>,
    now: i64,
) -> Result<Account, CreateError> {
    let sql = format!(
        "INSERT INTO accounts (username, username_key, email, email_key, password_hash, \
         is_active, is_staff, is_superuser, created_at, updated_at, password_changed_at, \
         display_name, password_normalized, username_skeleton, email_verified_at) \
         SELECT $1, $2, $3, $4, $5, 1, $6, $7, $8, $8, $8, $9, 1, $10, $11 \
         WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE email_key = $12) RETURNING {}",
        AccountRow::select_list("")
    );
    let result = sqlx::query_as::<_, AccountRow>(&sql)
        .bind(&new.username.display)
        .bind(&new.username.key)
        .bind(&new.email.display)
        .bind(&new.email.key)
        .bind(new.password_hash)
        .bind(i64::from(new.is_staff))
        .bind(i64::from(new.is_superuser))
        .bind(now)
        .bind(new.display_name.map(DisplayName::as_str))
        .bind(&new.username.skeleton)
        .bind(new.email_verified.then_some(now))
        .bind(&new.email.legacy_key)
        .fetch_optional(pool)
        .await;
    match result {
        Ok(Some(row)) => Ok(row.into()),
        // An account from before domains were mapped holds the address.
        Ok(None) => Err(CreateError::Taken(TakenField::Email)),
        Err(error) => match crate::db::unique_violation(&error) {
            // A look-alike of an existing username is as taken as the username itself.
            Some(which) if which.contains("username") => {
                Err(CreateError::Taken(TakenField::Username))
            }
            Some(_) => Err(CreateError::Taken(TakenField::Email)),
            None => Err(error.into()),
        },
    }
}

/// The data step of migration 0008: skeletons for accounts made before it, oldest
/// first. An account whose skeleton an older one already holds keeps none (it works as
/// before) and is named in the log, each start-up, until an admin renames or removes it.
pub async fn backfill_username_skeletons(pool: &AnyPool) -> Result<(), sqlx::Error> {
    let missing: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, username FROM accounts WHERE username_skeleton IS NULL ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    for (id, username) in missing {
        let filled = sqlx::query(
            "UPDATE accounts SET username_skeleton = $1 WHERE id = $2 AND username_skeleton IS NULL",
        )
        .bind(skeleton_of(&username))
        .bind(id)
        .execute(pool)
        .await;
        match filled {
            Ok(_) => {}
            Err(error) if crate::db::unique_violation(&error).is_some() => log::warn!(
                "account {id} ({username}) looks like an older account's username; it keeps working, \
                 but consider renaming it"
            ),
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Marks the address verified if it is still `email` (a link sent to an address the
/// account has since left verifies nothing). True when marked now.
pub async fn mark_email_verified(
    pool: &AnyPool,
    id: i64,
    email: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE accounts SET email_verified_at = $3, updated_at = $3 \
         WHERE id = $1 AND email = $2 AND email_verified_at IS NULL",
    )
    .bind(id)
    .bind(email)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Finds an account by username or email, in any case or Unicode form.
pub async fn find_by_login(pool: &AnyPool, login: &str) -> Result<Option<AccountRow>, sqlx::Error> {
    if !crate::db::storable(login) {
        return Ok(None);
    }
    // $2: the key as typed, which an address stored before domains were mapped has.
    let sql = format!(
        "SELECT {} FROM accounts WHERE username_key = $1 OR email_key = $1 OR email_key = $2 \
         ORDER BY CASE WHEN email_key = $2 AND email_key <> $1 THEN 1 ELSE 0 END LIMIT 1",
        AccountRow::select_list("")
    );
    sqlx::query_as::<_, AccountRow>(&sql)
        .bind(lookup_key(login))
        .bind(login_key(login))
        .fetch_optional(pool)
        .await
}

/// Finds an account by its email only (password reset), in any case or Unicode form.
pub async fn find_by_email(pool: &AnyPool, email: &str) -> Result<Option<AccountRow>, sqlx::Error> {
    if !crate::db::storable(email) {
        return Ok(None);
    }
    let sql = format!(
        "SELECT {} FROM accounts WHERE email_key = $1 OR email_key = $2 \
         ORDER BY CASE WHEN email_key = $1 THEN 0 ELSE 1 END LIMIT 1",
        AccountRow::select_list("")
    );
    sqlx::query_as::<_, AccountRow>(&sql)
        .bind(email_lookup_key(email))
        .bind(login_key(email))
        .fetch_optional(pool)
        .await
}

/// The account's password version (see migration 0012); `None`: no account.
pub async fn password_version(pool: &AnyPool, id: i64) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT password_version FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Whether an account has the address whose key is `email_key`.
pub async fn email_taken(pool: &AnyPool, email: &Email) -> Result<bool, sqlx::Error> {
    let found: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM accounts WHERE email_key = $1 OR email_key = $2 LIMIT 1")
            .bind(&email.key)
            .bind(&email.legacy_key)
            .fetch_optional(pool)
            .await?;
    Ok(found.is_some())
}

/// Gives the account a new address, verified as of `now` (its owner followed a link
/// sent there). False when the account is gone, blocked or inactive, or another
/// account took the address meanwhile (the unique key decides, so two confirmations cannot both win).
pub async fn change_email(
    pool: &AnyPool,
    id: i64,
    email: &Email,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE accounts SET email = $2, email_key = $3, email_verified_at = $4, updated_at = $4 \
         WHERE id = $1 AND is_active = 1 AND blocked_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM accounts other WHERE other.email_key = $5 AND other.id <> $1)",
    )
    .bind(id)
    .bind(&email.display)
    .bind(&email.key)
    .bind(now)
    .bind(&email.legacy_key)
    .execute(pool)
    .await;
    match done {
        Ok(done) => Ok(done.rows_affected() == 1),
        Err(error) if crate::db::unique_violation(&error).is_some() => Ok(false),
        Err(error) => Err(error),
    }
}

pub async fn find_by_id(pool: &AnyPool, id: i64) -> Result<Option<AccountRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {} FROM accounts WHERE id = $1",
        AccountRow::select_list("")
    );
    sqlx::query_as::<_, AccountRow>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Sets a new password whatever it was (a reset by link, an admin or the CLI).
pub async fn update_password_hash(
    pool: &AnyPool,
    id: i64,
    hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE accounts SET password_hash = $1, password_normalized = 1, \
         password_changed_at = $2, updated_at = $2, password_version = password_version + 1 \
         WHERE id = $3",
    )
    .bind(hash)
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Sets a new password only while the password is still at `version`, the one its
/// owner just proved: a reset that landed meanwhile wins. True when set.
pub async fn change_password_hash(
    pool: &AnyPool,
    id: i64,
    version: i64,
    hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE accounts SET password_hash = $1, password_normalized = 1, \
         password_changed_at = $2, updated_at = $2, password_version = password_version + 1 \
         WHERE id = $3 AND password_version = $4",
    )
    .bind(hash)
    .bind(now)
    .bind(id)
    .bind(version)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces a hash made with outdated parameters, or from the password as typed
/// rather than its normalised form; the password itself is unchanged.
pub async fn upgrade_password_hash(
    pool: &AnyPool,
    id: i64,
    old: &str,
    new: &str,
) -> Result<(), sqlx::Error> {
    // Only if the hash is still the one that was verified, so a concurrent password
    // change is never overwritten by the old password's new hash.
    sqlx::query(
        "UPDATE accounts SET password_hash = $1, password_normalized = 1 \
         WHERE id = $2 AND password_hash = $3",
    )
    .bind(new)
    .bind(id)
    .bind(old)
    .execute(pool)
    .await?;
    Ok(())
}

/// Sets or clears the display name; true when the account exists.
pub async fn update_display_name(
    pool: &AnyPool,
    id: i64,
    name: Option<&DisplayName>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE accounts SET display_name = $1, updated_at = $2 WHERE id = $3")
        .bind(name.map(DisplayName::as_str))
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
