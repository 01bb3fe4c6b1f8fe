//! Accounts: the validated forms of usernames, emails and passwords, the `Account`
//! model, and the SQL of the `accounts` table.

use serde::Serialize;
use sqlx::{AnyPool, FromRow};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use unicode_security::{RestrictionLevel, RestrictionLevelDetection};

use crate::db::{Backend, DbPool};
use crate::text::TextRule;

/// A username as stored: trimmed and NFKC-normalised, so that look-alike forms (a
/// fullwidth `ａｄｍｉｎ`) collapse onto the plain one; `key` is the lower-cased form
/// that uniqueness and login use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    pub display: String,
    pub key: String,
    /// The UTS #39 confusable skeleton (see [`skeleton_of`]): look-alikes share it.
    pub skeleton: String,
}

impl Username {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 32;

    pub fn parse(input: &str) -> Result<Username, String> {
        // By bytes before NFKC, which can expand one character into eighteen.
        if input.len() > Self::MAX_CHARS * 16 {
            return Err(format!(
                "must be between {} and {} characters",
                Self::MIN_CHARS,
                Self::MAX_CHARS
            ));
        }
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
        // UTS #39 "highly restrictive": one script, or Latin with Han and Japanese
        // kana, or Han with Hangul or Bopomofo; never Latin mixed with Cyrillic or Greek.
        if !display
            .as_str()
            .check_restriction_level(RestrictionLevel::HighlyRestrictive)
        {
            return Err("must not mix letters of different scripts".into());
        }
        let key = login_key(&display);
        let skeleton = skeleton_of(&display);
        Ok(Username {
            display,
            key,
            skeleton,
        })
    }
}

/// The UTS #39 skeleton of a username as displayed, lower-cased, after dropping its
/// accents and other combining marks and its separators (`.`, `_`, `-`): `сосо`
/// (Cyrillic) and `coco`, `paypaI` (capital i) and `paypal`, `alicẹ` and `alice`,
/// `pay-pal` and `paypal` map to one string. It is taken of the displayed form because
/// that is what people compare; names that differ only in case already share a key.
/// Stricter than UTS #39 alone on purpose: `josé` and `jose` are one name here.
pub fn skeleton_of(display: &str) -> String {
    let bare: String = display
        .nfd()
        .filter(|c| c.general_category() != GeneralCategory::NonspacingMark && !"._-".contains(*c))
        .collect();
    unicode_security::skeleton(&bare)
        .collect::<String>()
        .to_lowercase()
}

/// An email address as stored (trimmed, NFKC) with its lower-cased key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub display: String,
    pub key: String,
    /// The key an account stored before domains were mapped would have for this
    /// address (its domain in Unicode); the same as `key` for ASCII domains. Such an
    /// account still holds the address: nobody else may take it.
    pub legacy_key: String,
}

impl Email {
    pub const MAX_BYTES: usize = 254;

    pub fn parse(input: &str) -> Result<Email, String> {
        if input.len() > Self::MAX_BYTES * 4 {
            return Err(format!("must be at most {} bytes", Self::MAX_BYTES));
        }
        let display: String = input.nfkc().collect::<String>().trim().to_string();
        if display.len() > Self::MAX_BYTES {
            return Err(format!("must be at most {} bytes", Self::MAX_BYTES));
        }
        let valid = match display.split_once('@') {
            Some((local, domain)) => {
                // The domain's dots and labels are checked once it is mapped (an
                // ideographic full stop is a dot too).
                !local.is_empty()
                    && !domain.contains('@')
                    && !display.chars().any(|c| {
                        c.is_whitespace()
                            || crate::text::is_hidden(c)
                            // A bare address only: mail must go where the key says, so
                            // no display name (`Name <a@b>`), comment or list.
                            || "<>()[],;:\"\\".contains(c)
                    })
            }
            None => false,
        };
        if !valid {
            return Err("is not a valid email address".into());
        }
        let display = Self::with_mapped_domain(&display)?;
        if display.len() > Self::MAX_BYTES {
            return Err(format!("must be at most {} bytes", Self::MAX_BYTES));
        }
        let key = login_key(&display);
        let legacy_key = match key.rsplit_once('@') {
            Some((local, domain)) => {
                login_key(&format!("{local}@{}", idna::domain_to_unicode(domain).0))
            }
            None => key.clone(),
        };
        Ok(Email {
            display,
            key,
            legacy_key,
        })
    }

    /// The address with its domain mapped by UTS #46 and kept in its ASCII form
    /// (`xn--` labels), so one domain has one spelling, a look-alike shows as what it
    /// is, and mail needs no SMTPUTF8. Refused when a label, decoded, mixes scripts
    /// the way a look-alike does (UTS #39 "highly restrictive", as usernames) or is
    /// made of letters that all look like ASCII ones (`аррӏе` in Cyrillic).
    fn with_mapped_domain(address: &str) -> Result<String, String> {
        let invalid = || "is not a valid email address".to_string();
        let (local, domain) = address.rsplit_once('@').ok_or_else(invalid)?;
        // RFC 5321's limit: mail to a longer local part is refused on the way out.
        if local.len() > 64 {
            return Err(invalid());
        }
        let (decoded, errors) = idna::domain_to_unicode(domain);
        if errors.is_err() || !decoded.contains('.') || decoded.split('.').any(str::is_empty) {
            return Err(invalid());
        }
        for label in decoded.split('.') {
            if !label.check_restriction_level(RestrictionLevel::HighlyRestrictive) {
                return Err("must not mix letters of different scripts in its domain".into());
            }
            if !label.is_ascii() && unicode_security::skeleton(label).all(|c| c.is_ascii()) {
                return Err("must not have a domain that looks like another one".into());
            }
        }
        let ascii = idna::domain_to_ascii_strict(&decoded).map_err(|_| invalid())?;
        // A top-level label of digits is an address literal, not a domain.
        if ascii
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(invalid());
        }
        Ok(format!("{local}@{ascii}"))
    }
}

/// The key a typed login (username or email) is looked up by: every spelling that
/// finds one account gives one key, so limits keyed by it cannot be dodged.
pub fn lookup_key(login: &str) -> String {
    if login_key(login).contains('@') {
        email_lookup_key(login)
    } else {
        login_key(login)
    }
}

/// The key a typed address is looked up by: that of the address as [`Email::parse`]
/// would store it (its domain mapped), or the plain login key of anything else.
pub fn email_lookup_key(input: &str) -> String {
    Email::parse(input.trim()).map_or_else(|_| login_key(input), |email| email.key)
}

/// How a person likes to be called, shown instead of the username where set: NFC,
/// trimmed, at most 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const RULE: TextRule = TextRule {
        max_chars: 100,
        min_chars: 0,
        multiline: false,
    };

    /// `Ok(None)` for empty or blank input, which leaves the name unset.
    pub fn parse(input: &str) -> Result<Option<DisplayName>, String> {
        let text = Self::RULE.clean(input)?;
        Ok((!text.is_empty()).then_some(DisplayName(text)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The form a username or email is looked up by: NFKC, trimmed, lower case.
pub fn login_key(input: &str) -> String {
    input.nfkc().collect::<String>().trim().to_lowercase()
}

/// An account as the API shows it: never its hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "id": 42,
    "username": "alice",
    "email": "alice@example.com",
    "display_name": "Alice Liddell",
    "is_active": true,
    "is_staff": false,
    "is_superuser": false,
    "created_at": 1767225600,
    "email_verified": true,
    "email_verified_at": 1767225900
})))]
pub struct Account {
    pub id: i64,
    /// As typed at registration (NFKC, trimmed); sign-in ignores case.
    pub username: String,
    pub email: String,
    /// How the person likes to be called; null when unset.
    pub display_name: Option<String>,
    /// False: deactivated by an admin; it cannot sign in.
    pub is_active: bool,
    /// May use the admin API.
    pub is_staff: bool,
    /// Staff who may also change roles and delete accounts.
    pub is_superuser: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// The owner followed a verification link sent to `email`.
    pub email_verified: bool,
    /// When, in unix seconds; null while unverified.
    pub email_verified_at: Option<i64>,
}

crate::table_row! {
    /// An account row with its password hash and its lockout and block state, for the
    /// flows and the admin views; never serialised as a whole. A new column of
    /// `accounts` is one line here (and one in `Account` if clients should see it).
    #[derive(Debug, Clone)]
    pub struct AccountRow {
        pub id: i64,
        pub username: String,
        pub email: String,
        pub display_name: Option<String>,
        pub password_hash: String,
        /// The hash was made from the NFKC form (see migration 0006).
        pub password_normalized: bool,
        pub is_active: bool,
        pub is_staff: bool,
        pub is_superuser: bool,
        pub created_at: i64,
        /// Set by every password change (not by a re-hash of the same password).
        pub password_changed_at: Option<i64>,
        /// Raised by every password change (migration 0012).
        pub password_version: i64,
        pub failed_logins: i64,
        pub locked_at: Option<i64>,
        pub locked_until: Option<i64>,
        pub blocked_at: Option<i64>,
        pub block_reason: Option<String>,
        pub blocked_by: Option<i64>,
        /// The sealed TOTP secret (see `two_factor`), set from setup on.
        pub totp_secret: Option<String>,
        /// The session that started an unconfirmed enrolment (see migration 0009).
        pub totp_setup_session: Option<String>,
        /// When the owner proved the address is theirs (migration 0010).
        pub email_verified_at: Option<i64>,
        /// When 2FA was switched on; `None` while off or only set up.
        pub totp_enabled_at: Option<i64>,
        pub totp_last_step: Option<i64>,
    }
}

/// Whether a login may be attempted now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    Open,
    /// Locked for this many more seconds.
    For(i64),
    /// Locked until an admin unlocks it.
    UntilUnlocked,
}

impl AccountRow {
    /// The names a new password of this account must not contain.
    pub fn owner(&self) -> crate::password::policy::Owner<'_> {
        crate::password::policy::Owner {
            username: &self.username,
            email: &self.email,
        }
    }

    pub fn is_blocked(&self) -> bool {
        self.blocked_at.is_some()
    }

    /// The lock in force at `now`; a lock whose time has passed is open.
    pub fn lock(&self, now: i64) -> Lock {
        match (self.locked_at, self.locked_until) {
            (None, _) => Lock::Open,
            (Some(_), None) => Lock::UntilUnlocked,
            (Some(_), Some(until)) if until > now => Lock::For(until - now),
            (Some(_), Some(_)) => Lock::Open,
        }
    }
}

impl From<AccountRow> for Account {
    fn from(row: AccountRow) -> Account {
        Account {
            id: row.id,
            username: row.username,
            email: row.email,
            display_name: row.display_name,
            is_active: row.is_active,
            is_staff: row.is_staff,
            is_superuser: row.is_superuser,
            created_at: row.created_at,
            email_verified: row.email_verified_at.is_some(),
            email_verified_at: row.email_verified_at,
        }
    }
}

/// An account as the admin API shows it: the public fields plus lock and block state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "id": 42,
    "username": "alice",
    "email": "alice@example.com",
    "display_name": "Alice Liddell",
    "is_active": true,
    "is_staff": false,
    "is_superuser": false,
    "created_at": 1767225600,
    "email_verified": true,
    "email_verified_at": 1767225900,
    "failed_logins": 0,
    "locked": false,
    "locked_until": null,
    "blocked": true,
    "block_reason": "Sent spam to other members",
    "blocked_at": 1767312000,
    "blocked_by": 1,
    "two_factor_enabled": false
})))]
pub struct AccountDetail {
    #[serde(flatten)]
    pub account: Account,
    /// Verified failures of a secret (password or code) counting towards a lock.
    pub failed_logins: i64,
    pub locked: bool,
    /// When the lock lapses; null while unlocked or when only an admin can unlock.
    pub locked_until: Option<i64>,
    pub blocked: bool,
    /// The reason the blocking admin gave; null while not blocked.
    pub block_reason: Option<String>,
    /// When, in unix seconds; null while not blocked.
    pub blocked_at: Option<i64>,
    /// The admin who blocked it; null for the CLI, or while not blocked.
    pub blocked_by: Option<i64>,
    pub two_factor_enabled: bool,
}

impl AccountDetail {
    pub fn new(row: AccountRow, now: i64) -> AccountDetail {
        let lock = row.lock(now);
        AccountDetail {
            failed_logins: row.failed_logins,
            locked: lock != Lock::Open,
            locked_until: match lock {
                Lock::For(seconds) => Some(now + seconds),
                Lock::Open | Lock::UntilUnlocked => None,
            },
            blocked: row.blocked_at.is_some(),
            block_reason: row.block_reason.clone(),
            blocked_at: row.blocked_at,
            blocked_by: row.blocked_by,
            two_factor_enabled: row.totp_enabled_at.is_some(),
            account: row.into(),
        }
    }
}

/// Which unique field a new account collided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakenField {
    Username,
    Email,
}

impl TakenField {
    pub fn name(self) -> &'static str {
        match self {
            TakenField::Username => "username",
            TakenField::Email => "email",
        }
    }
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
    pub display_name: Option<&'a DisplayName>,
    pub password_hash: &'a str,
    pub is_staff: bool,
    pub is_superuser: bool,
    /// Created with its address already verified (a superuser made by the CLI).
    pub email_verified: bool,
}

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

/// How long an attempt stays reserved at most: far longer than any check (the
/// hashing queue's wait and one hash), short enough that a crash frees it soon.
pub const IN_FLIGHT_SECONDS: i64 = 30;

/// The in-flight count as of `$2` (a lapsed count is none).
const IN_FLIGHT: &str =
    "(CASE WHEN attempts_in_flight_until > $2 THEN attempts_in_flight ELSE 0 END)";
/// The verified failures as of `$2`: a lapsed lock starts the count again.
const FAILURES: &str = "(CASE WHEN locked_at IS NULL THEN failed_logins ELSE 0 END)";
/// One in-flight attempt settled.
const SETTLED: &str =
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

/// The condition, on the row an UPDATE or DELETE targets, that it is not the last
/// active superuser: it is none, or another active, unblocked superuser exists. On
/// PostgreSQL the statement locks that other superuser's row, so two superusers
/// removing each other at once are serialised (or one is aborted as a deadlock, which
/// [`crate::db::lost_a_race`] recognises) and the second sees the first's change.
fn not_the_last_superuser(backend: Backend) -> &'static str {
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
fn regular_unless(param: &str) -> String {
    format!("(is_staff = 0 AND is_superuser = 0 OR {param} = 1)")
}

/// Whether a guarded statement changed its row, counting a lost race (a deadlock
/// PostgreSQL broke) as not changed.
fn applied(result: Result<sqlx::any::AnyQueryResult, sqlx::Error>) -> Result<bool, sqlx::Error> {
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

/// Most matches a listing counts: past it the total only says "at least this many",
/// so counting never reads more than this many rows.
pub const COUNT_LIMIT: i64 = 10_000;

/// An admin search, in login-key form, of at least [`AccountSearch::MIN_CHARS`]
/// characters: it matches anywhere in the username or the email, served by a trigram
/// index (FTS5 on SQLite, pg_trgm on PostgreSQL). pg_trgm only indexes runs of
/// letters and digits, so on PostgreSQL a search without three of them in a row
/// (`@@@`, `1@s`) matches the start of the keys instead, served by their pattern
/// indexes. Nothing is ever found by reading every account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountSearch {
    All,
    Contains(String),
}

impl AccountSearch {
    pub const MIN_CHARS: usize = 3;

    /// `None` for a search too short to be served by an index.
    pub fn of(search: &str) -> Option<AccountSearch> {
        let key = login_key(search);
        match key.chars().count() {
            0 => Some(AccountSearch::All),
            n if n < Self::MIN_CHARS => None,
            _ => Some(AccountSearch::Contains(key)),
        }
    }

    /// The FROM and WHERE of the matching accounts (the pattern, if any, is `$1`), the
    /// column that orders them by id, and the pattern to bind.
    fn sql(&self, backend: Backend) -> (&'static str, &'static str, Option<String>) {
        const ALL: &str = "accounts WHERE TRUE";
        const LIKE: &str = "accounts WHERE (username_key LIKE $1 ESCAPE '\\' \
                            OR email_key LIKE $1 ESCAPE '\\')";
        // FTS5 hands its matches over in rowid order, so a page stops early.
        const MATCH: &str = "accounts_search JOIN accounts ON accounts.id = accounts_search.rowid \
                             WHERE accounts_search MATCH $1";
        match (self, backend) {
            (AccountSearch::All, _) => (ALL, "accounts.id", None),
            (AccountSearch::Contains(key), Backend::Sqlite) => (
                MATCH,
                "accounts_search.rowid",
                Some(format!("\"{}\"", key.replace('"', "\"\""))),
            ),
            (AccountSearch::Contains(key), Backend::Postgres) if has_trigram(key) => (
                LIKE,
                "accounts.id",
                Some(format!("%{}%", like_literal(key))),
            ),
            (AccountSearch::Contains(key), Backend::Postgres) => {
                (LIKE, "accounts.id", Some(format!("{}%", like_literal(key))))
            }
        }
    }
}

/// Whether pg_trgm can serve `%key%`: three ASCII letters or digits in a row (what
/// counts as a letter beyond ASCII depends on the database's locale).
fn has_trigram(key: &str) -> bool {
    key.as_bytes()
        .windows(3)
        .any(|run| run.iter().all(u8::is_ascii_alphanumeric))
}

/// `text` matched literally by LIKE (with `ESCAPE '\'`).
fn like_literal(text: &str) -> String {
    let mut literal = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            literal.push('\\');
        }
        literal.push(c);
    }
    literal
}

/// Up to `limit` accounts matching `search` with ids above `after`, oldest first,
/// `offset` of them skipped. The cost follows the page, not the table: keyset paging
/// (`after`) at any depth, and offsets bounded by the caller.
pub async fn search_accounts(
    db: &DbPool,
    search: &AccountSearch,
    after: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<AccountRow>, sqlx::Error> {
    if let AccountSearch::Contains(key) = search {
        if !crate::db::storable(key) {
            return Ok(Vec::new());
        }
    }
    let (from_where, id, pattern) = search.sql(db.backend);
    let first = if pattern.is_some() { 2 } else { 1 };
    let sql = format!(
        "SELECT {} FROM {from_where} AND {id} > ${first} ORDER BY {id} LIMIT ${} OFFSET ${}",
        AccountRow::select_list("accounts"),
        first + 1,
        first + 2
    );
    let mut query = sqlx::query_as::<_, AccountRow>(&sql);
    if let Some(pattern) = pattern {
        query = query.bind(pattern);
    }
    query
        .bind(after)
        .bind(limit)
        .bind(offset)
        .fetch_all(&db.pool)
        .await
}

/// How many accounts match `search`, counted up to [`COUNT_LIMIT`] + 1 (more than
/// the limit means "more than that").
pub async fn count_accounts(db: &DbPool, search: &AccountSearch) -> Result<i64, sqlx::Error> {
    if let AccountSearch::Contains(key) = search {
        if !crate::db::storable(key) {
            return Ok(0);
        }
    }
    let (from_where, _, pattern) = search.sql(db.backend);
    let sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM {from_where} LIMIT {}) AS matches",
        COUNT_LIMIT + 1
    );
    let mut query = sqlx::query_scalar(&sql);
    if let Some(pattern) = pattern {
        query = query.bind(pattern);
    }
    query.fetch_one(&db.pool).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_nfkc_trimmed_and_keyed_in_lower_case() {
        let name = Username::parse("  ＡｌｉｃＥ ").unwrap();
        assert_eq!(name.display, "AlicE");
        assert_eq!(name.key, "alice");
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        for bad in ["al ice", "al@ice", "al/ice", "al\u{0}ice"] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Username::parse("bob_the-builder.2").is_ok());
        // Refused by its size before NFKC would expand it (U+FDFA is 18 characters).
        assert!(Username::parse(&"\u{FDFA}".repeat(10_000)).is_err());
    }

    #[test]
    fn usernames_keep_to_one_script_and_look_alikes_share_a_skeleton() {
        let mixed = Username::parse("r\u{043e}ot").unwrap_err();
        assert!(mixed.contains("scripts"), "{mixed}");
        for fine in [
            "алиса",
            "κώστας",
            "山田_taro",
            "たなか",
            "bob.smith-2",
            "josé",
        ] {
            assert!(Username::parse(fine).is_ok(), "{fine}");
        }
        let latin = Username::parse("coco").unwrap();
        let cyrillic = Username::parse("\u{0441}\u{043e}\u{0441}\u{043e}").unwrap();
        assert_ne!(latin.key, cyrillic.key);
        assert_eq!(latin.skeleton, cyrillic.skeleton);
        assert_eq!(
            Username::parse("Paypal").unwrap().skeleton,
            Username::parse("paypaI").unwrap().skeleton,
            "a capital I is a small l"
        );
        let alice = Username::parse("alice").unwrap().skeleton;
        for look_alike in [
            "alic\u{1eb9}",
            "\u{1ea1}lice",
            "alic\u{117}",
            "ali\u{e7}e",
            "alic\u{e9}",
            "a.lice",
            "al_ice",
            "alice-",
        ] {
            assert_eq!(
                Username::parse(look_alike).unwrap().skeleton,
                alice,
                "{look_alike}"
            );
        }
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        let email = Email::parse(" Alice@Example.COM ").unwrap();
        assert_eq!(
            email.display, "Alice@example.com",
            "the domain in one spelling"
        );
        assert_eq!(email.key, "alice@example.com");
        for bad in [
            "alice",
            "@example.com",
            "alice@example",
            "alice@.example.com",
            "alice@example.com.",
            "al ice@example.com",
            "a@b@example.com",
            "alice@exa\u{7}mple.com",
            "alice\u{202E}@example.com",
            "ali\u{200B}ce@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn domains_are_mapped_by_uts46_and_look_alike_labels_refused() {
        let mapped = Email::parse("ann@B\u{dc}CHER.example").unwrap();
        assert_eq!(mapped.display, "ann@xn--bcher-kva.example");
        assert_eq!(
            mapped.key,
            Email::parse("ann@XN--BCHER-KVA.example").unwrap().key
        );
        assert_eq!(email_lookup_key("ANN@b\u{fc}cher.example"), mapped.key);
        // UTS #46 ignores variation selectors and maps the ideographic full stop.
        assert_eq!(
            email_lookup_key("ann@b\u{fc}ch\u{fe00}er\u{3002}example"),
            mapped.key
        );
        // "pаypal" with a Cyrillic а, typed or as its xn-- form.
        for look_alike in ["bob@p\u{430}ypal.com", "bob@xn--pypal-4ve.com"] {
            assert!(
                Email::parse(look_alike).unwrap_err().contains("scripts"),
                "{look_alike}"
            );
        }
        // Whole-script look-alikes of ASCII names, typed or encoded.
        for look_alike in [
            "ceo@\u{430}\u{440}\u{440}\u{4cf}\u{435}.com",
            "ceo@xn--80ak6aa92e.com",
        ] {
            assert!(
                Email::parse(look_alike).unwrap_err().contains("looks like"),
                "{look_alike}"
            );
        }
        for bad in [
            "a@b..c",
            "a@-a-.com",
            "a@exa_mple.com",
            "bob@xn--zz.example",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(
            Email::parse("li@\u{4f8b}\u{3048}.example").is_ok(),
            "Han and kana"
        );
    }

    #[test]
    fn a_login_finds_the_same_key_whichever_form_is_typed() {
        assert_eq!(login_key("ＡＬＩＣＥ"), login_key("alice"));
        assert_eq!(login_key(" Alice@Example.com"), "alice@example.com");
    }

    #[test]
    fn display_names_are_optional_nfc_and_single_line() {
        assert_eq!(DisplayName::parse("  ").unwrap(), None);
        let name = DisplayName::parse(" Ame\u{301}lie ").unwrap().unwrap();
        assert_eq!(name.as_str(), "Am\u{e9}lie");
        assert!(DisplayName::parse(&"x".repeat(101)).is_err());
        assert!(DisplayName::parse("two\nlines").is_err());
        assert!(DisplayName::parse("rtl\u{202E}").is_err());
    }

    #[test]
    fn a_lock_is_open_once_its_time_has_passed() {
        let row = |locked_at, locked_until| AccountRow {
            id: 1,
            username: "a".into(),
            email: "a@example.com".into(),
            display_name: None,
            password_hash: String::new(),
            password_normalized: true,
            is_active: true,
            is_staff: false,
            is_superuser: false,
            created_at: 0,
            password_changed_at: None,
            password_version: 0,
            failed_logins: 0,
            locked_at,
            locked_until,
            blocked_at: None,
            block_reason: None,
            blocked_by: None,
            totp_secret: None,
            totp_setup_session: None,
            email_verified_at: None,
            totp_enabled_at: None,
            totp_last_step: None,
        };
        assert_eq!(row(None, None).lock(100), Lock::Open);
        assert_eq!(row(Some(50), None).lock(100), Lock::UntilUnlocked);
        assert_eq!(row(Some(50), Some(160)).lock(100), Lock::For(60));
        assert_eq!(row(Some(50), Some(100)).lock(100), Lock::Open);
    }
}
