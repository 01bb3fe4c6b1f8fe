//! Gatehouse's half of the seam between it and the app built on it. Your features
//! live in `src/features/` and implement [`Feature`]; `src/features/mod.rs` lists
//! them, and everything here reads that one list: [`crate::rocket`] mounts each
//! feature's stage and manages its navigation link, [`migrate`] runs its migrations,
//! the CLI adds its subcommand, and the test helper goes through [`crate::rocket`]
//! like everyone else.
//!
//! - Settings: a table of its own, `[default.<name>]` in Rocket.toml, each key
//!   overridable as `GATEHOUSE_<NAME>__<KEY>` (two underscores), read with
//!   [`Setup::section`].
//! - Migrations: a folder per backend in the feature's folder, versions from
//!   [`FIRST_FEATURE_MIGRATION`] on (the timestamps `sqlx migrate add` writes);
//!   Gatehouse's own stay below it, so a later Gatehouse migration never clashes.

use figment::Figment;
use rocket::fairing::AdHoc;
use serde::de::DeserializeOwned;
use sqlx::migrate::{MigrateError, Migrator};

use crate::app::App;
use crate::config::{ConfigError, Settings, ENV_PREFIX};
use crate::db::{Backend, DbPool};
use crate::error::AppError;
use crate::web::visitor::NavLink;

/// The lowest migration version a feature may use; Gatehouse's own are below it.
pub const FIRST_FEATURE_MIGRATION: i64 = 10_000;

/// Names a feature cannot take: Rocket's own configuration keys, Gatehouse's settings
/// table, CLI commands, page roots and `/api` paths. `cargo xtask new-feature` reads
/// this list too (one name per line, quoted).
const RESERVED_NAMES: &[&str] = &[
    // Rocket's configuration keys.
    "address",
    "port",
    "workers",
    "max_blocking",
    "ident",
    "ip_header",
    "proxy_proto_header",
    "limits",
    "temp_dir",
    "keep_alive",
    "tls",
    "mtls",
    "secret_key",
    "shutdown",
    "log_level",
    "cli_colors",
    "databases",
    "gatehouse",
    // The CLI's commands.
    "serve",
    "create_superuser",
    "accounts",
    "mail",
    "migrate",
    "keys",
    "prune",
    "doctor",
    "help",
    // Gatehouse's own parts.
    "two_factor",
    // Page roots and /api paths.
    "api",
    "static",
    "login",
    "logout",
    "register",
    "account",
    "admin",
    "reauthenticate",
    "forgot-password",
    "reset-password",
    "verify-email",
    "confirm-email",
    "email",
    "health",
    "metrics",
    "auth",
    "docs",
    "ws",
    "openapi",
];

/// One feature of the app built on Gatehouse: its routes and pages, settings,
/// migrations, navigation link and CLI subcommand. Only `name` and `stage` are needed.
#[rocket::async_trait]
pub trait Feature: Send + Sync + 'static {
    /// A short lower-case name (letters, digits, `_`): its settings table, its
    /// environment prefix and its CLI subcommand.
    fn name(&self) -> &'static str;

    /// Reads and checks the feature's settings, and returns the fairing that mounts
    /// its routes and manages its state. A bad setting stops start-up with a sentence.
    fn stage(&self, setup: &Setup<'_>) -> Result<AdHoc, ConfigError>;

    /// The defaults of its settings section as a JSON object, so the docs check
    /// (`tests/api/config.rs`) can hold Rocket.toml and the configuration reference to them.
    fn default_settings(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// The feature's migrations for `backend`, if it has tables.
    fn migrator(&self, _backend: Backend) -> Option<Migrator> {
        None
    }

    /// A link in the pages' navigation, shown to signed-in visitors.
    fn nav_link(&self) -> Option<NavLink> {
        None
    }

    /// The feature's part of the API's OpenAPI document (`/api/openapi.json`): its
    /// routes' `#[utoipa::path]` annotations gathered by `#[derive(utoipa::OpenApi)]`.
    /// A test holds the document to the mounted `/api` routes, so every API route of a
    /// feature must be in it.
    fn openapi(&self) -> Option<utoipa::openapi::OpenApi> {
        None
    }

    /// The feature's CLI subcommand, named after the feature.
    fn command(&self) -> Option<clap::Command> {
        None
    }

    /// Runs the subcommand on the app opened on its database; an error is printed
    /// as its sentence and the process exits 1.
    async fn run_command(
        &self,
        _app: &App,
        _setup: &Setup<'_>,
        _matches: &clap::ArgMatches,
    ) -> Result<(), AppError> {
        Ok(())
    }
}

/// What a feature is set up with.
pub struct Setup<'a> {
    pub figment: &'a Figment,
    pub settings: &'a Settings,
    /// Whether the pages are served (`cookie` among the token locations); a feature
    /// mounts its own pages only then.
    pub pages: bool,
}

impl Setup<'_> {
    /// The feature's settings table `[<profile>.<name>]`, over the type's defaults.
    /// Unknown keys are refused if `T` says `#[serde(deny_unknown_fields)]`.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, ConfigError> {
        if !self.figment.contains(name) {
            return Ok(T::default());
        }
        self.figment.extract_inner(name).map_err(|error| {
            let lines: Vec<String> = error
                .into_iter()
                .map(|e| {
                    // The path may carry the section's own name at either end.
                    let mut path: Vec<&str> = e.path.iter().map(String::as_str).collect();
                    if path.first() == Some(&name) {
                        path.remove(0);
                    }
                    if path.len() > 1 && path.last() == Some(&name) {
                        path.pop();
                    }
                    let key = path.join(".");
                    format!("`{name}.{key}` ({}): {}", env_name(name, &key), e.kind)
                })
                .collect();
            ConfigError::Figment(lines.join("; "))
        })
    }

    /// The error for a bad value of the feature's setting `key`.
    pub fn invalid(&self, name: &str, key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            setting: format!("{name}.{key}"),
            env: env_name(name, key),
            reason: reason.into(),
        }
    }
}

/// `GATEHOUSE_NOTES__MAX_PER_ACCOUNT` for the key `max_per_account` of `notes`.
pub fn env_name(feature: &str, key: &str) -> String {
    format!(
        "{ENV_PREFIX}{}__{}",
        feature.to_uppercase(),
        key.to_uppercase()
    )
}

/// Checks the registered features: well-formed, distinct names that clash with
/// nothing of Rocket's or Gatehouse's.
pub fn check_names(features: &[&'static dyn Feature]) -> Result<(), ConfigError> {
    let mut seen = Vec::new();
    for feature in features {
        let name = feature.name();
        let well_formed = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let problem = if !well_formed {
            "must be lower-case letters, digits and '_', starting with a letter"
        } else if RESERVED_NAMES.contains(&name) {
            "is taken by Rocket's or Gatehouse's own settings or commands"
        } else if seen.contains(&name) {
            "is registered twice"
        } else {
            seen.push(name);
            continue;
        };
        return Err(ConfigError::Feature(format!(
            "the feature name `{name}` {problem} (src/features/mod.rs)"
        )));
    }
    Ok(())
}

/// `spa_path` names no page root, API path or feature of ours: the app is served
/// beneath them all, so a clash would hide it.
pub fn check_spa_path(path: &str, features: &[&'static dyn Feature]) -> Result<(), ConfigError> {
    let segment = path.trim_start_matches('/');
    let taken = RESERVED_NAMES.contains(&segment)
        || ["password", "well-known", ".well-known"].contains(&segment)
        || features.iter().any(|feature| feature.name() == segment);
    if taken {
        return Err(crate::config::invalid(
            "spa_path",
            format!(
                "`{path}` is taken by a page, the API or a feature; choose another, such as /app"
            ),
        ));
    }
    Ok(())
}

/// Applies Gatehouse's migrations, then each feature's, in the order of the list.
/// Each set ignores the others' rows in the shared `_sqlx_migrations` table.
pub async fn migrate(db: &DbPool, features: &[&'static dyn Feature]) -> Result<(), MigrateError> {
    let mut own = crate::db::migrator(db.backend);
    own.set_ignore_missing(true);
    own.run(&db.pool).await?;
    crate::accounts::backfill_username_skeletons(&db.pool).await?;
    let mut seen: Vec<i64> = Vec::new();
    for feature in features {
        let Some(mut migrator) = feature.migrator(db.backend) else {
            continue;
        };
        for migration in migrator.iter() {
            if migration.version < FIRST_FEATURE_MIGRATION || seen.contains(&migration.version) {
                return Err(MigrateError::Execute(sqlx::Error::Configuration(
                    format!(
                        "migration {} of the feature `{}` must be numbered from {FIRST_FEATURE_MIGRATION} \
                         (a timestamp, as `sqlx migrate add` writes) and differ from every other feature's",
                        migration.version,
                        feature.name()
                    )
                    .into(),
                )));
            }
            seen.push(migration.version);
        }
        migrator.set_ignore_missing(true);
        migrator.run(&db.pool).await?;
    }
    Ok(())
}
