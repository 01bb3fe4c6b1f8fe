//! The single-use tokens mail links carry, and the SQL of `email_tokens` and
//! `link_forms`: 256 random bits, stored only as their SHA-256, each bound to a
//! purpose, an account and the address it was sent to. Spending one is one guarded
//! statement, so a token works once however many requests race with it.
//!
//! A link page does not keep the link's token in its address: it exchanges it for a
//! form token (see [`exchange`]) that stands for it for [`FORM_TTL`] seconds, and a
//! form spends the link's token through it.

use aws_lc_rs::digest::{digest, SHA256};
use sqlx::AnyPool;

/// How long a link page's form works after the link was opened.
pub const FORM_TTL: i64 = 30 * 60;

/// What a token may do; a token of one purpose never serves another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    PasswordReset,
    /// Sent to the new address; the token's `email` is that new address.
    ChangeEmail,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::PasswordReset => "password_reset",
            Purpose::ChangeEmail => "change_email",
        }
    }

    /// Whether the token only works while the account still has the address it was
    /// sent to (a change of address voids the links sent to the old one).
    fn bound_to_current_address(self) -> bool {
        !matches!(self, Purpose::ChangeEmail)
    }
}

/// A token as a request presents it: the link's own, or a form token a link page
/// handed out for it.
#[derive(Debug, Clone, Copy)]
pub enum Presented<'a> {
    Link(&'a str),
    Form(&'a str),
}

/// What a valid token stands for.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Redeemed {
    pub account_id: i64,
    /// The address the link was sent to.
    pub email: String,
}

fn hash_of(token: &str) -> String {
    digest(&SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Our tokens are 43 characters; anything much longer is not one, and is not hashed.
fn plausible(token: &str) -> bool {
    !token.is_empty() && token.len() <= 100
}

/// The condition that a token row (`email_tokens`) is presented (`$1`, the hash of
/// the link's or a form's token), of purpose `$2`, unspent and unexpired at `$3`,
/// and, for a purpose bound to the address, sent to the account's current address.
fn valid_token(presented: Presented<'_>, purpose: Purpose) -> String {
    let presented = match presented {
        Presented::Link(_) => "token_hash = $1",
        Presented::Form(_) => {
            "token_hash = (SELECT f.token_hash FROM link_forms f \
             WHERE f.form_hash = $1 AND f.expires_at > $3)"
        }
    };
    let address = if purpose.bound_to_current_address() {
        " AND email = (SELECT a.email FROM accounts a WHERE a.id = email_tokens.account_id)"
    } else {
        ""
    };
    format!("{presented} AND purpose = $2 AND used_at IS NULL AND expires_at > $3{address}")
}

fn secret_of(presented: Presented<'_>) -> &str {
    match presented {
        Presented::Link(token) | Presented::Form(token) => token,
    }
}

/// At most this many live links per account and purpose: a new request leaves the
/// earlier links working (an anonymous request must not kill the owner's link), and
/// voids only the oldest beyond this.
pub const LIVE_LINKS: i64 = 3;

/// A new token for `account_id` and `purpose`, sent to `email`, valid `ttl` seconds;
/// the account's earlier unspent tokens of that purpose keep working, but for the
/// oldest beyond [`LIVE_LINKS`].
pub async fn issue(
    pool: &AnyPool,
    account_id: i64,
    purpose: Purpose,
    email: &str,
    ttl: i64,
    now: i64,
) -> Result<String, sqlx::Error> {
    let token = crate::random::token(32);
    let hash = hash_of(&token);
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO email_tokens (token_hash, account_id, purpose, email, created_at, expires_at, seq) \
         SELECT $1, $2, $3, $4, $5, $6, COALESCE(MAX(seq), 0) + 1 FROM email_tokens \
         WHERE account_id = $2 AND purpose = $3",
    )
    .bind(&hash)
    .bind(account_id)
    .bind(purpose.as_str())
    .bind(email)
    .bind(now)
    .bind(now + ttl)
    .execute(&mut *tx)
    .await?;
    // The new token is kept whatever the order of tokens made in the same second.
    sqlx::query(
        "DELETE FROM email_tokens WHERE account_id = $1 AND purpose = $2 AND used_at IS NULL \
         AND token_hash <> $3 AND token_hash NOT IN (\
           SELECT token_hash FROM email_tokens WHERE account_id = $1 AND purpose = $2 \
           AND used_at IS NULL AND token_hash <> $3 \
           ORDER BY seq DESC LIMIT $4)",
    )
    .bind(account_id)
    .bind(purpose.as_str())
    .bind(&hash)
    .bind(LIVE_LINKS - 1)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// What `presented` stands for if it is valid for `purpose` at `now`, without
/// spending it (to check a new password against its owner before the token goes).
pub async fn peek(
    pool: &AnyPool,
    presented: Presented<'_>,
    purpose: Purpose,
    now: i64,
) -> Result<Option<Redeemed>, sqlx::Error> {
    let sql = "SELECT account_id, email FROM email_tokens WHERE {valid}";
    redeem(pool, sql, presented, purpose, now).await
}

/// Spends `presented` for `purpose` if it is valid at `now`: what it stood for, or
/// `None` for anything else, all alike. The account's other links of that purpose
/// are voided with it: one was used, the rest are no longer needed.
pub async fn spend(
    pool: &AnyPool,
    presented: Presented<'_>,
    purpose: Purpose,
    now: i64,
) -> Result<Option<Redeemed>, sqlx::Error> {
    let sql = "UPDATE email_tokens SET used_at = $3 WHERE {valid} RETURNING account_id, email";
    let redeemed = redeem(pool, sql, presented, purpose, now).await?;
    if let Some(redeemed) = &redeemed {
        sqlx::query(
            "DELETE FROM email_tokens WHERE account_id = $1 AND purpose = $2 AND used_at IS NULL",
        )
        .bind(redeemed.account_id)
        .bind(purpose.as_str())
        .execute(pool)
        .await?;
    }
    Ok(redeemed)
}

/// Runs `sql`, whose `{valid}` becomes [`valid_token`]'s condition, for `presented`.
async fn redeem(
    pool: &AnyPool,
    sql: &str,
    presented: Presented<'_>,
    purpose: Purpose,
    now: i64,
) -> Result<Option<Redeemed>, sqlx::Error> {
    if !plausible(secret_of(presented)) {
        return Ok(None);
    }
    let sql = sql.replace("{valid}", &valid_token(presented, purpose));
    sqlx::query_as(&sql)
        .bind(hash_of(secret_of(presented)))
        .bind(purpose.as_str())
        .bind(now)
        .fetch_optional(pool)
        .await
}

/// A form token standing for the link token `token` for [`FORM_TTL`] seconds, if
/// that token is valid for `purpose` at `now`.
pub async fn exchange(
    pool: &AnyPool,
    token: &str,
    purpose: Purpose,
    now: i64,
) -> Result<Option<String>, sqlx::Error> {
    if !plausible(token) {
        return Ok(None);
    }
    let form = crate::random::token(32);
    let sql = format!(
        "INSERT INTO link_forms (form_hash, token_hash, expires_at) \
         SELECT $4, token_hash, $5 FROM email_tokens WHERE {}",
        valid_token(Presented::Link(token), purpose)
    );
    let done = sqlx::query(&sql)
        .bind(hash_of(token))
        .bind(purpose.as_str())
        .bind(now)
        .bind(hash_of(&form))
        .bind(now + FORM_TTL)
        .execute(pool)
        .await?;
    Ok((done.rows_affected() == 1).then_some(form))
}

/// Voids every unspent token of the account: a password change or reset ends what
/// whoever knew the old password may have asked for (a reset link, a change of
/// address to theirs).
pub async fn void_all(pool: &AnyPool, account_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM email_tokens WHERE account_id = $1")
        .bind(account_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes up to `batch` link forms expired before `cutoff` (pruning, in batches).
pub async fn delete_expired_forms(
    pool: &AnyPool,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM link_forms WHERE form_hash IN \
         (SELECT form_hash FROM link_forms WHERE expires_at < $1 LIMIT $2)",
    )
    .bind(cutoff)
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes up to `batch` link tokens expired before `cutoff` (their forms go with
/// them; pruning, in batches).
pub async fn delete_expired(pool: &AnyPool, cutoff: i64, batch: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM email_tokens WHERE token_hash IN \
         (SELECT token_hash FROM email_tokens WHERE expires_at < $1 LIMIT $2)",
    )
    .bind(cutoff)
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
