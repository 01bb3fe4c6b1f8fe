//! The single-use tokens mail links carry, and the SQL of `email_tokens`: 256 random
//! bits, stored only as their SHA-256, each bound to a purpose, an account and the
//! address it was sent to. Spending one is one guarded statement, so a token works
//! once however many requests race with it.

use aws_lc_rs::digest::{digest, SHA256};
use sqlx::AnyPool;

/// What a token may do; a token of one purpose never serves another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
        }
    }
}

fn hash_of(token: &str) -> String {
    digest(&SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new token for `account_id` and `purpose`, sent to `email`, valid `ttl` seconds;
/// the account's earlier unspent tokens of that purpose stop working.
pub async fn issue(
    pool: &AnyPool,
    account_id: i64,
    purpose: Purpose,
    email: &str,
    ttl: i64,
    now: i64,
) -> Result<String, sqlx::Error> {
    let token = crate::random::token(32);
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM email_tokens WHERE account_id = $1 AND purpose = $2")
        .bind(account_id)
        .bind(purpose.as_str())
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO email_tokens (token_hash, account_id, purpose, email, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(hash_of(&token))
    .bind(account_id)
    .bind(purpose.as_str())
    .bind(email)
    .bind(now)
    .bind(now + ttl)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// Spends `token` for `purpose` if it is unspent and unexpired at `now`; the account
/// and the address it was sent to. `None` for anything else, all alike.
pub async fn spend(
    pool: &AnyPool,
    token: &str,
    purpose: Purpose,
    now: i64,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    if token.len() > 100 {
        return Ok(None);
    }
    sqlx::query_as(
        "UPDATE email_tokens SET used_at = $3 WHERE token_hash = $1 AND purpose = $2 \
         AND used_at IS NULL AND expires_at > $3 RETURNING account_id, email",
    )
    .bind(hash_of(token))
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(pool)
    .await
}
