//! The database: a current sqlx `AnyPool` behind rocket_db_pools' `Pool` trait, so the
//! fairing, the `databases` table of Rocket.toml and the `Connection<Db>` guard all
//! work, plus the migrations of each backend, applied at start-up.

use std::time::Duration;

use rocket::figment::Figment;
use rocket_db_pools::{Config, Database};
use sqlx::any::AnyRow;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Row};

/// The two databases Gatehouse speaks; the URL's scheme chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// The app's database, as rocket_db_pools sees it. Route handlers may take
/// `Connection<Db>` for queries of their own.
#[derive(Database)]
#[database("gatehouse")]
pub struct Db(pub DbPool);

/// A newtype over sqlx's `AnyPool` that implements rocket_db_pools' `Pool`.
#[derive(Clone)]
pub struct DbPool {
    pub pool: AnyPool,
    pub backend: Backend,
}

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("database configuration: {0}")]
    Config(String),
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

#[rocket::async_trait]
impl rocket_db_pools::Pool for DbPool {
    type Connection = PoolConnection<Any>;
    type Error = PoolError;

    async fn init(figment: &Figment) -> Result<Self, Self::Error> {
        let config: Config = figment
            .extract()
            .map_err(|e| PoolError::Config(e.to_string()))?;
        // Migrations run once the features are known (see `feature::migrate`).
        connect(&config).await
    }

    async fn get(&self) -> Result<Self::Connection, Self::Error> {
        Ok(self.pool.acquire().await?)
    }

    /// Nothing here: Rocket calls this as its shutdown begins, while requests in flight
    /// (a login waiting for the hasher) still need connections. `serve` closes the
    /// pool once the server has stopped, grace period included.
    async fn close(&self) {}
}

/// Opens a pool for `config`; for SQLite the file is created and put in WAL mode.
pub async fn connect(config: &Config) -> Result<DbPool, PoolError> {
    sqlx::any::install_default_drivers();
    let backend = Backend::from_url(&config.url).ok_or_else(|| {
        PoolError::Config(format!(
            "unsupported database URL scheme in `{}` (use sqlite:// or postgres://)",
            redact_url(&config.url)
        ))
    })?;
    let url = match backend {
        // Without mode=rwc SQLite refuses to create the file on first run.
        Backend::Sqlite if !config.url.contains("mode=") && !config.url.contains(":memory:") => {
            let separator = if config.url.contains('?') { '&' } else { '?' };
            format!("{}{separator}mode=rwc", config.url)
        }
        _ => config.url.clone(),
    };
    let options: AnyConnectOptions = url.parse().map_err(|e: sqlx::Error| {
        PoolError::Config(format!("{} ({e})", redact_url(&config.url)))
    })?;
    // One direct connection first: the pool retries until its timeout and then only
    // says it timed out, where this reports the cause (refused, no such database).
    let timeout = Duration::from_secs(config.connect_timeout.max(1));
    match rocket::tokio::time::timeout(timeout, AnyConnection::connect_with(&options)).await {
        Ok(Ok(probe)) => {
            let _ = probe.close().await;
        }
        Ok(Err(error)) => return Err(error.into()),
        Err(_) => {
            return Err(PoolError::Config(format!(
                "no answer from {} within {} s",
                redact_url(&config.url),
                timeout.as_secs()
            )))
        }
    }
    let pool = AnyPoolOptions::new()
        .max_connections(config.max_connections.max(1) as u32)
        .min_connections(config.min_connections.unwrap_or(0))
        .acquire_timeout(Duration::from_secs(config.connect_timeout.max(1)))
        .idle_timeout(config.idle_timeout.map(Duration::from_secs))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL lets readers run beside the single writer; busy_timeout makes
                    // concurrent writers wait for the lock instead of failing at once.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    Ok(DbPool { pool, backend })
}

/// Gatehouse's own migrations for `backend` (versions below
/// [`crate::feature::FIRST_FEATURE_MIGRATION`]).
pub fn migrator(backend: Backend) -> sqlx::migrate::Migrator {
    match backend {
        Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
    }
}

/// Gatehouse's migrations this binary has that the database has not applied (all of
/// them on a database never migrated), lowest first.
pub async fn pending_migrations(db: &DbPool) -> Result<Vec<i64>, sqlx::Error> {
    let applied: Vec<i64> = match sqlx::query_scalar::<_, i64>(
        "SELECT version FROM _sqlx_migrations WHERE success = TRUE",
    )
    .fetch_all(&db.pool)
    .await
    {
        Ok(versions) => versions,
        // No table yet: nothing applied.
        Err(sqlx::Error::Database(_)) => Vec::new(),
        Err(error) => return Err(error),
    };
    Ok(migrator(db.backend)
        .iter()
        .map(|migration| migration.version)
        .filter(|version| !applied.contains(version))
        .collect())
}

/// False for text PostgreSQL cannot store or compare (it refuses NUL characters with
/// an error, where SQLite accepts them). Functions that take client text check it and
/// answer "no match", so a crafted `%00` never becomes a 500.
pub fn storable(text: &str) -> bool {
    !text.contains('\0')
}

/// True when `error` is a unique-constraint violation; returns the constraint's name
/// or, where the backend gives none (SQLite), its message, for the caller to inspect.
pub fn unique_violation(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation => Some(
            db.constraint()
                .map_or_else(|| db.message().to_string(), str::to_string),
        ),
        _ => None,
    }
}

/// A foreign key that no longer finds its row: what was referred to was deleted by a
/// concurrent request.
pub fn vanished_reference(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::ForeignKeyViolation)
}

/// The database cannot be reached or dropped the connection (a network cut, a
/// restart, no connection free within the pool's timeout, a lock held past
/// `busy_timeout`): the service is unavailable for now, not broken, and says so (503)
/// rather than failing (500).
pub fn unreachable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => match db.code() {
            // PostgreSQL's connection exceptions (08…), insufficient resources (53…:
            // too many connections, disk full) and operator interventions (57…: a
            // shutdown, a terminated backend, a cancelled statement).
            Some(state) if is_sqlstate(&state) => ["08", "53", "57"]
                .iter()
                .any(|class| state.starts_with(class)),
            // SQLite's SQLITE_BUSY and SQLITE_LOCKED, extended codes included: another
            // writer kept the lock past busy_timeout.
            Some(code) => code
                .parse::<u32>()
                .is_ok_and(|code| matches!(code & 0xff, 5 | 6)),
            None => false,
        },
        _ => false,
    }
}

/// A table or column this binary needs is not in the database: an instance started
/// with `migrate_on_start = false` before `migrate` ran. The service is not ready
/// (503 `schema_behind`), not broken.
pub fn schema_missing(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => match db.code() {
            Some(state) if is_sqlstate(&state) => matches!(&*state, "42P01" | "42703"),
            // SQLite says it only in words (SQLITE_ERROR is every other mistake too).
            Some(_) => ["no such table", "no such column"]
                .iter()
                .any(|words| db.message().starts_with(words)),
            None => false,
        },
        _ => false,
    }
}

/// PostgreSQL's codes are five-character SQLSTATEs; SQLite's are numbers of at most
/// four digits.
fn is_sqlstate(code: &str) -> bool {
    code.len() == 5
}

/// A statement PostgreSQL aborted to break a deadlock or a serialisation conflict:
/// a race the caller lost, to be answered as "changed meanwhile", not as a failure.
pub fn lost_a_race(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("40P01" | "40001")),
        _ => false,
    }
}

/// A URL with its password removed, for messages: the userinfo's and a `password`
/// (or `sslpassword`) query parameter's.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match (base.find("://"), base.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            match base[scheme_end + 3..at].split_once(':') {
                Some((user, _password)) => {
                    format!("{}://{user}:***@{}", &base[..scheme_end], &base[at + 1..])
                }
                None => base.to_string(),
            }
        }
        _ => base.to_string(),
    };
    let Some(query) = query else {
        return base;
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.to_ascii_lowercase().contains("password") => format!("{key}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_appear_in_redacted_urls() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db/app"),
            "postgres://app:***@db/app"
        );
        assert_eq!(
            redact_url("postgres://db/app?user=app&password=s3cret&sslmode=require"),
            "postgres://db/app?user=app&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://db/app?sslpassword=s3cret"),
            "postgres://db/app?sslpassword=***"
        );
        assert_eq!(redact_url("postgres://app@db/app"), "postgres://app@db/app");
        assert_eq!(redact_url("sqlite://gatehouse.db"), "sqlite://gatehouse.db");
    }
}

/// Reads one column of a row as a Rust type. Flags are stored as 0/1 integers (the
/// one type both backends decode alike through the Any driver) and read as `bool`.
pub trait Column: Sized {
    fn read(row: &AnyRow, name: &str) -> Result<Self, sqlx::Error>;
}

macro_rules! plain_columns {
    ($($ty:ty),*) => {
        $(impl Column for $ty {
            fn read(row: &AnyRow, name: &str) -> Result<Self, sqlx::Error> {
                row.try_get(name)
            }
        })*
    };
}

plain_columns!(i64, Option<i64>, String, Option<String>);

impl Column for bool {
    fn read(row: &AnyRow, name: &str) -> Result<Self, sqlx::Error> {
        Ok(row.try_get::<i64, _>(name)? != 0)
    }
}

/// `a.x, a.y, …` for the given table alias (`""` for none).
pub fn select_list(columns: &[&str], alias: &str) -> String {
    columns
        .iter()
        .map(|column| {
            if alias.is_empty() {
                (*column).to_string()
            } else {
                format!("{alias}.{column}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Declares a table's row type once: the struct, the list of columns its queries
/// select (`Row::COLUMNS`, `Row::select_list(alias)`) and its decoding, so a new column
/// is one line here plus its migrations. Every field's type implements [`Column`].
///
/// ```text
/// table_row! {
///     /// A note as stored.
///     pub struct NoteRow {
///         pub id: i64,
///         pub title: String,
///         pub pinned: bool,
///     }
/// }
/// ```
#[macro_export]
macro_rules! table_row {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty ),*
        }

        impl $name {
            /// The table's columns, in the struct's order.
            pub const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// The columns as a SELECT list, prefixed by `alias` if not empty.
            pub fn select_list(alias: &str) -> String {
                $crate::db::select_list(Self::COLUMNS, alias)
            }
        }

        impl<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> for $name {
            fn from_row(row: &'r sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
                Ok($name {
                    $( $field: <$ty as $crate::db::Column>::read(row, stringify!($field))? ),*
                })
            }
        }
    };
}
