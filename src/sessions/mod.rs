//! Sessions: one row per login (per device), the SQL of the `sessions` table, and the
//! refresh-generation bookkeeping behind token rotation.

pub mod announcements;
pub mod cache;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, FromRow};

use crate::accounts::AccountRow;
use crate::db::Column;

/// Longest user agent kept; the rest of a header is dropped, not an error.
pub const MAX_USER_AGENT_CHARS: usize = 512;

crate::table_row! {
    #[derive(Debug, Clone)]
    pub struct SessionRow {
        pub id: String,
        pub account_id: i64,
        pub created_at: i64,
        pub last_used_at: i64,
        pub expires_at: i64,
        /// "Remember me": the longer lifetime.
        pub persistent: bool,
        pub refresh_generation: i64,
        pub rotated_at: i64,
        pub user_agent: Option<String>,
        pub ip: Option<String>,
        pub revoked_at: Option<i64>,
        /// Waiting for its second factor.
        pub two_factor_pending: bool,
        pub otp_failures: i64,
        /// When and how the holder last proved themselves (migration 0013).
        pub proved_at: Option<i64>,
        pub proved_by: Option<String>,
    }
}

/// A session as the owner sees it in `GET /api/auth/sessions`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "id": "q8Wv2nT0bYkL5xR3mZs9Aw",
    "created_at": 1767225600,
    "last_used_at": 1767229200,
    "expires_at": 1767312000,
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "ip": "203.0.113.7",
    "current": true
})))]
pub struct SessionView {
    /// The session's id (for `DELETE /api/auth/sessions/{id}`).
    pub id: String,
    /// When it signed in, in unix seconds.
    pub created_at: i64,
    /// When it was last used (a request or a refresh; recorded now and then), in unix
    /// seconds.
    pub last_used_at: i64,
    /// When it ends unless refreshed, in unix seconds.
    pub expires_at: i64,
    /// The browser or app that signed in (at most 512 characters).
    pub user_agent: Option<String>,
    /// The address it signed in from.
    pub ip: Option<String>,
    /// The session of this request.
    pub current: bool,
}

impl SessionRow {
    pub fn view(&self, current_session: &str) -> SessionView {
        SessionView {
            id: self.id.clone(),
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            expires_at: self.expires_at,
            user_agent: self.user_agent.clone(),
            ip: self.ip.clone(),
            current: self.id == current_session,
        }
    }
}

/// What the request guards need, read in one indexed look-up: the session's state and
/// its account.
#[derive(Debug, Clone)]
pub struct SessionWithAccount {
    pub expires_at: i64,
    pub last_used_at: i64,
    pub revoked_at: Option<i64>,
    pub two_factor_pending: bool,
    pub proved_at: Option<i64>,
    pub account: AccountRow,
}

impl<'r> FromRow<'r, AnyRow> for SessionWithAccount {
    fn from_row(row: &'r AnyRow) -> Result<Self, sqlx::Error> {
        Ok(SessionWithAccount {
            expires_at: Column::read(row, "session_expires_at")?,
            last_used_at: Column::read(row, "session_last_used_at")?,
            revoked_at: Column::read(row, "session_revoked_at")?,
            two_factor_pending: Column::read(row, "session_two_factor_pending")?,
            proved_at: Column::read(row, "session_proved_at")?,
            account: AccountRow::from_row(row)?,
        })
    }
}

/// Where a login came from.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// At most `MAX_USER_AGENT_CHARS` characters, wherever it is stored.
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The request that acted (see `web::requests`); `None` from the CLI.
    pub request_id: Option<String>,
}

impl ClientInfo {
    /// A client whose user agent is cut to `MAX_USER_AGENT_CHARS` characters, so no
    /// header can make a session or an audit row large.
    pub fn new(user_agent: Option<&str>, ip: Option<String>) -> ClientInfo {
        ClientInfo {
            user_agent: user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect()),
            ip,
            request_id: None,
        }
    }
}

/// How a new session starts.
#[derive(Debug, Clone, Copy)]
pub struct NewSession {
    pub account_id: i64,
    /// "Remember me": the longer lifetime, kept across the second factor.
    pub persistent: bool,
    /// Opened by the password alone; waits for the second factor.
    pub pending: bool,
    pub ttl: i64,
    /// How the login proved its holder (`password`, `totp`, `recovery_code`); `None`
    /// for a pending session, which proves nothing yet.
    pub proved_by: Option<&'static str>,
    /// The account's password version the login checked.
    pub password_version: i64,
}

pub async fn create_session(
    pool: &AnyPool,
    new: NewSession,
    client: &ClientInfo,
    now: i64,
) -> Result<SessionRow, sqlx::Error> {
    let id = crate::random::token(16);
    // Cut again: a ClientInfo may be built by hand (the CLI, a feature).
    let user_agent = client
        .user_agent
        .as_ref()
        .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect::<String>());
    let sql = format!(
        "INSERT INTO sessions (id, account_id, created_at, last_used_at, expires_at, persistent, \
         refresh_generation, rotated_at, user_agent, ip, two_factor_pending, proved_at, proved_by, \
         password_version) \
         VALUES ($1, $2, $3, $3, $4, $5, 0, $3, $6, $7, $8, $9, $10, $11) RETURNING {}",
        SessionRow::select_list("")
    );
    sqlx::query_as::<_, SessionRow>(&sql)
        .bind(id)
        .bind(new.account_id)
        .bind(now)
        .bind(now + new.ttl)
        .bind(i64::from(new.persistent))
        .bind(user_agent)
        .bind(client.ip.clone())
        .bind(i64::from(new.pending))
        .bind(new.proved_by.map(|_| now))
        .bind(new.proved_by)
        .bind(new.password_version)
        .fetch_one(pool)
        .await
}

/// Records that the holder of the live, complete session `id` proved themselves now
/// (`by`: password, totp, recovery_code). False when the session is no longer live.
pub async fn mark_proved(
    pool: &AnyPool,
    id: &str,
    by: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sessions SET proved_at = $2, proved_by = $3 \
         WHERE id = $1 AND revoked_at IS NULL AND two_factor_pending = 0 AND expires_at > $2",
    )
    .bind(id)
    .bind(now)
    .bind(by)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn find_session(pool: &AnyPool, id: &str) -> Result<Option<SessionRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {} FROM sessions WHERE id = $1",
        SessionRow::select_list("")
    );
    sqlx::query_as::<_, SessionRow>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The guards' read: one primary-key look-up joined to the account's primary key.
pub async fn find_session_with_account(
    pool: &AnyPool,
    id: &str,
) -> Result<Option<SessionWithAccount>, sqlx::Error> {
    // The account's columns come from `AccountRow` itself, so a new one is read here
    // too without anyone having to remember this query.
    let sql = format!(
        "SELECT s.expires_at AS session_expires_at, s.last_used_at AS session_last_used_at, \
         s.revoked_at AS session_revoked_at, s.two_factor_pending AS session_two_factor_pending, \
         s.proved_at AS session_proved_at, {} FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.id = $1",
        AccountRow::select_list("a")
    );
    sqlx::query_as::<_, SessionWithAccount>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Moves a live session from refresh generation `from` to `from + 1`, sliding its
/// expiry. False when another request rotated it first or it was revoked meanwhile:
/// the compare-and-set on the generation makes concurrent refreshes rotate only once.
pub async fn rotate_refresh(
    pool: &AnyPool,
    id: &str,
    from: i64,
    expires_at: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sessions SET refresh_generation = refresh_generation + 1, rotated_at = $1, \
         last_used_at = $1, expires_at = $2 \
         WHERE id = $3 AND refresh_generation = $4 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(expires_at)
    .bind(id)
    .bind(from)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Counts a second-factor code on a pending session before it is checked (a right one
/// spends the session, so the count is that of wrong codes); returns the count, or
/// `None` when the session has had its `max` codes, has ended or is gone.
pub async fn reserve_otp_attempt(
    pool: &AnyPool,
    id: &str,
    max: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE sessions SET otp_failures = otp_failures + 1 \
         WHERE id = $1 AND two_factor_pending = 1 AND revoked_at IS NULL AND otp_failures < $2 \
         RETURNING otp_failures",
    )
    .bind(id)
    .bind(max)
    .fetch_optional(pool)
    .await
}

/// Ends a pending session whose second factor was accepted; its successor is a new
/// session. The password version its password step checked, for exactly one caller
/// however many race to complete it, and only while the account's password is still
/// that version (a reset between the two steps ends the login).
pub async fn spend_pending_session(
    pool: &AnyPool,
    id: &str,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE sessions SET revoked_at = $2, revoke_reason = 'second_factor_completed' \
         WHERE id = $1 AND two_factor_pending = 1 AND revoked_at IS NULL \
         AND password_version = \
         (SELECT a.password_version FROM accounts a WHERE a.id = sessions.account_id) \
         RETURNING password_version",
    )
    .bind(id)
    .bind(now)
    .fetch_optional(pool)
    .await
}

/// Records use of a session; callers throttle it so reads stay reads.
pub async fn touch_session(pool: &AnyPool, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE id = $2 AND last_used_at < $1")
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Revokes one session, whoever owns it. True when it was live until now.
pub async fn revoke_session(
    pool: &AnyPool,
    id: &str,
    reason: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes one of `account_id`'s own live sessions. False when there is no such
/// session for that account, so nobody can revoke another account's session.
pub async fn revoke_own_session(
    pool: &AnyPool,
    account_id: i64,
    id: &str,
    reason: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    if !crate::db::storable(id) {
        return Ok(false);
    }
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoke_reason = $2 \
         WHERE id = $3 AND account_id = $4 AND revoked_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(reason)
    .bind(id)
    .bind(account_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every live session of `account_id` except `keep` (if given); returns how many.
pub async fn revoke_other_sessions(
    pool: &AnyPool,
    account_id: i64,
    keep: Option<&str>,
    reason: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoke_reason = $2 \
         WHERE account_id = $3 AND revoked_at IS NULL AND id <> $4",
    )
    .bind(now)
    .bind(reason)
    .bind(account_id)
    .bind(keep.unwrap_or(""))
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Ends the account's oldest live sessions beyond the newest `keep`, in one statement
/// (concurrent logins each keep the same newest set); returns the ids it ended.
pub async fn end_sessions_beyond(
    pool: &AnyPool,
    account_id: i64,
    keep: i64,
    now: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE sessions SET revoked_at = $1, revoke_reason = 'session_limit' \
         WHERE account_id = $2 AND revoked_at IS NULL AND expires_at > $1 \
         AND two_factor_pending = 0 AND id NOT IN (\
           SELECT id FROM sessions WHERE account_id = $2 AND revoked_at IS NULL \
           AND expires_at > $1 AND two_factor_pending = 0 \
           ORDER BY created_at DESC, id DESC LIMIT $3) \
         RETURNING id",
    )
    .bind(now)
    .bind(account_id)
    .bind(keep)
    .fetch_all(pool)
    .await
}

/// Deletes sessions that ended (expired or were revoked) before `ended_before`;
/// returns how many.
pub async fn delete_ended_sessions(
    pool: &AnyPool,
    ended_before: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions \
         WHERE revoked_at < $1 OR (revoked_at IS NULL AND expires_at < $1) LIMIT $2)",
    )
    .bind(ended_before)
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// The account's sessions that are neither revoked nor expired, newest first.
pub async fn list_live_sessions(
    pool: &AnyPool,
    account_id: i64,
    now: i64,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {} FROM sessions WHERE account_id = $1 AND revoked_at IS NULL \
         AND expires_at > $2 AND two_factor_pending = 0 ORDER BY created_at DESC, id",
        SessionRow::select_list("")
    );
    sqlx::query_as::<_, SessionRow>(&sql)
        .bind(account_id)
        .bind(now)
        .fetch_all(pool)
        .await
}

impl From<SessionWithAccount> for cache::SessionState {
    fn from(found: SessionWithAccount) -> cache::SessionState {
        cache::SessionState {
            expires_at: found.expires_at,
            last_used_at: found.last_used_at,
            revoked: found.revoked_at.is_some(),
            pending: found.two_factor_pending,
            proved_at: found.proved_at,
            account_blocked: found.account.is_blocked(),
            account: found.account.into(),
        }
    }
}

/// Whether any complete session of the account but `session_id` came from the user
/// agent `agent` (`""` for none): `None` when the account had no other complete
/// session at all (its first sign-in is no news to tell).
pub async fn device_seen(
    pool: &AnyPool,
    account_id: i64,
    session_id: &str,
    agent: &str,
) -> Result<Option<bool>, sqlx::Error> {
    let (earlier, same): (i64, i64) = sqlx::query_as(
        "SELECT \
         (SELECT COUNT(*) FROM sessions WHERE account_id = $1 AND id <> $2 \
          AND two_factor_pending = 0), \
         (SELECT COUNT(*) FROM sessions WHERE account_id = $1 AND id <> $2 \
          AND two_factor_pending = 0 AND COALESCE(user_agent, '') = $3)",
    )
    .bind(account_id)
    .bind(session_id)
    .bind(agent)
    .fetch_one(pool)
    .await?;
    Ok((earlier > 0).then_some(same > 0))
}
