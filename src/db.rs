//! The database: a current sqlx `AnyPool` behind rocket_db_pools' `Pool` trait, so the
//! fairing, the `databases` table of Rocket.toml and the `Connection<Db>` guard all
//! work, plus the migrations of each backend, applied at start-up.

use std::time::Duration;

use rocket::figment::Figment;
use rocket_db_pools::{Config, Database};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor};

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
        let pool = connect(&config).await?;
        migrate(&pool).await?;
        Ok(pool)
    }

    async fn get(&self) -> Result<Self::Connection, Self::Error> {
        Ok(self.pool.acquire().await?)
    }

    async fn close(&self) {
        self.pool.close().await;
    }
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

/// Applies the migrations of the pool's backend.
pub async fn migrate(db: &DbPool) -> Result<(), sqlx::migrate::MigrateError> {
    match db.backend {
        Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&db.pool).await,
        Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&db.pool).await,
    }
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

/// A URL with its password removed, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            match url[scheme_end + 3..at].split_once(':') {
                Some((user, _password)) => {
                    format!("{}://{user}:***@{}", &url[..scheme_end], &url[at + 1..])
                }
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
