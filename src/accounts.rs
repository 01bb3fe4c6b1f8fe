//! Accounts: the validated forms of usernames, emails and passwords, the `Account`
//! model, and the SQL of the `accounts` table.

use serde::Serialize;
use sqlx::{AnyPool, FromRow};
use unicode_normalization::UnicodeNormalization;

use crate::config::Settings;

/// A username as stored: trimmed and NFKC-normalised, so that look-alike forms (a
/// fullwidth `ａｄｍｉｎ`) collapse onto the plain one; `key` is the lower-cased form
/// that uniqueness and login use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    pub display: String,
    pub key: String,
}

impl Username {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 32;

    pub fn parse(input: &str) -> Result<Username, String> {
        let display: String = input.nfkc().collect::<String>().trim().to_string();
        let length = display.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&length) {
            return Err(format!(
                "must be between {} and {} characters",
                Self::MIN_CHARS,
                Self::MAX_CHARS
            ));
        }
        // No '@', so a login string is never both a username and an email.
        if !display
            .chars()
            .all(|c| c.is_alphanumeric() || "_-.".contains(c))
        {
            return Err("may only contain letters, digits, '_', '-' and '.'".into());
        }
        let key = login_key(&display);
        Ok(Username { display, key })
    }
}

/// An email address as stored (trimmed, NFKC) with its lower-cased key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub display: String,
    pub key: String,
}

impl Email {
    pub const MAX_BYTES: usize = 254;

    pub fn parse(input: &str) -> Result<Email, String> {
        let display: String = input.nfkc().collect::<String>().trim().to_string();
        if display.len() > Self::MAX_BYTES {
            return Err(format!("must be at most {} bytes", Self::MAX_BYTES));
        }
        let valid = match display.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !display.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if !valid {
            return Err("is not a valid email address".into());
        }
        let key = login_key(&display);
        Ok(Email { display, key })
    }
}

/// The form a username or email is looked up by: NFKC, trimmed, lower case.
pub fn login_key(input: &str) -> String {
    input.nfkc().collect::<String>().trim().to_lowercase()
}

/// Checks a new password against the configured length bounds: at least
/// `password_min_length` characters, at most `password_max_length` bytes (the bound
/// that caps hashing work).
pub fn check_new_password(password: &str, settings: &Settings) -> Result<(), String> {
    if password.chars().count() < settings.password_min_length {
        return Err(format!(
            "must be at least {} characters",
            settings.password_min_length
        ));
    }
    if password.len() > settings.password_max_length {
        return Err(format!(
            "must be at most {} bytes",
            settings.password_max_length
        ));
    }
    Ok(())
}

/// An account as the API shows it: never its hash.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub created_at: i64,
}

/// An account row with its password hash, for the login path only.
#[derive(Debug, Clone, FromRow)]
pub struct AccountRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub is_active: i64,
    pub is_staff: i64,
    pub is_superuser: i64,
    pub created_at: i64,
}

impl From<AccountRow> for Account {
    fn from(row: AccountRow) -> Account {
        Account {
            id: row.id,
            username: row.username,
            email: row.email,
            is_active: row.is_active != 0,
            is_staff: row.is_staff != 0,
            is_superuser: row.is_superuser != 0,
            created_at: row.created_at,
        }
    }
}

/// The columns of `AccountRow`, spliced into queries at compile time by `concat!`.
macro_rules! account_columns {
    () => {
        "id, username, email, password_hash, is_active, is_staff, is_superuser, created_at"
    };
}

/// Which unique field a new account collided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakenField {
    Username,
    Email,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{0:?} is already taken")]
    Taken(TakenField),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The fields of a new account.
pub struct NewAccount<'a> {
    pub username: &'a Username,
    pub email: &'a Email,
    pub password_hash: &'a str,
    pub is_staff: bool,
    pub is_superuser: bool,
}

pub async fn insert_account(
    pool: &AnyPool,
    new: &NewAccount<'_>,
    now: i64,
) -> Result<Account, CreateError> {
    let sql = concat!(
        "INSERT INTO accounts (username, username_key, email, email_key, password_hash, ",
        "is_active, is_staff, is_superuser, created_at, updated_at, password_changed_at) ",
        "VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $8, $8) RETURNING ",
        account_columns!()
    );
    let result = sqlx::query_as::<_, AccountRow>(sql)
        .bind(&new.username.display)
        .bind(&new.username.key)
        .bind(&new.email.display)
        .bind(&new.email.key)
        .bind(new.password_hash)
        .bind(i64::from(new.is_staff))
        .bind(i64::from(new.is_superuser))
        .bind(now)
        .fetch_one(pool)
        .await;
    match result {
        Ok(row) => Ok(row.into()),
        Err(error) => match crate::db::unique_violation(&error) {
            Some(which) if which.contains("username") => {
                Err(CreateError::Taken(TakenField::Username))
            }
            Some(_) => Err(CreateError::Taken(TakenField::Email)),
            None => Err(error.into()),
        },
    }
}

/// Finds an account by username or email, in any case or Unicode form.
pub async fn find_by_login(pool: &AnyPool, login: &str) -> Result<Option<AccountRow>, sqlx::Error> {
    let key = login_key(login);
    let sql = concat!(
        "SELECT ",
        account_columns!(),
        " FROM accounts WHERE username_key = $1 OR email_key = $1"
    );
    sqlx::query_as::<_, AccountRow>(sql)
        .bind(key)
        .fetch_optional(pool)
        .await
}

pub async fn find_by_id(pool: &AnyPool, id: i64) -> Result<Option<AccountRow>, sqlx::Error> {
    let sql = concat!(
        "SELECT ",
        account_columns!(),
        " FROM accounts WHERE id = $1"
    );
    sqlx::query_as::<_, AccountRow>(sql)
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn update_password_hash(
    pool: &AnyPool,
    id: i64,
    hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE accounts SET password_hash = $1, password_changed_at = $2, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Replaces a hash made with outdated parameters; the password itself is unchanged.
pub async fn upgrade_password_hash(
    pool: &AnyPool,
    id: i64,
    old: &str,
    new: &str,
) -> Result<(), sqlx::Error> {
    // Only if the hash is still the one that was verified, so a concurrent password
    // change is never overwritten by the old password's new hash.
    sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
        .bind(new)
        .bind(id)
        .bind(old)
        .execute(pool)
        .await?;
    Ok(())
}
