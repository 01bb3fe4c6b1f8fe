//! Admin searches and listings of accounts, served by indexes whatever the table's size.

use super::*;

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
pub(super) fn has_trigram(key: &str) -> bool {
    key.as_bytes()
        .windows(3)
        .any(|run| run.iter().all(u8::is_ascii_alphanumeric))
}

/// `text` matched literally by LIKE (with `ESCAPE '\'`).
pub(super) fn like_literal(text: &str) -> String {
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
