//! Gatehouse's half of the seam between it and the app built on it. Your features
//! live in `src/features/` and implement [`Feature`]; Gatehouse's own parts (two-factor,
//! admin) live in `src/parts/` and implement it too. `src/parts/mod.rs` and
//! `src/features/mod.rs` list them, and [`crate::installed`] joins the two lists:
//! [`crate::rocket`] mounts each stage and manages the navigation links, [`migrate`]
//! runs the migrations, the CLI adds the subcommands, and the flows call the
//! [`hooks`] through the app state.
//!
//! - Settings: a table of its own, `[default.<name>]` in Rocket.toml, each key
//!   overridable as `GATEHOUSE_<NAME>__<KEY>` (two underscores), read with
//!   [`Setup::section`].
//! - Migrations: a folder per backend in the feature's folder, versions from
//!   [`FIRST_FEATURE_MIGRATION`] on (the timestamps `sqlx migrate add` writes);
//!   Gatehouse's own stay below it, so a later Gatehouse migration never clashes.

pub mod hooks;

use figment::providers::Serialized;
use figment::Figment;
use rocket::fairing::AdHoc;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sqlx::migrate::{MigrateError, Migrator};

use crate::accounts::AccountRow;
use crate::app::App;
use crate::config::{ConfigError, Profile, Settings, ENV_PREFIX};
use crate::db::{Backend, DbPool};
use crate::error::AppError;
use crate::registry::Registry;
use crate::web::visitor::NavLink;
use hooks::{Checkup, SecondFactor, SectionContext, Slot, TokenSubject};

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
    "passkeys",
    "identity_providers",
    "organizations",
    "api_keys",
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

/// One feature of the app built on Gatehouse, or one of Gatehouse's own parts: its
/// routes and pages, settings, migrations, navigation link and CLI subcommand, and the
/// hooks the flows call (see [`hooks`]). Only `name` and `stage` are needed.
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
    fn openapi(&self, _setup: &Setup<'_>) -> Option<utoipa::openapi::OpenApi> {
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

    /// The keys it reads from the `gatehouse` table (a part's, whose settings keep
    /// Gatehouse's names), with their defaults for `profile`, as a JSON object: the
    /// unknown-key check and the configuration reference's check learn them here.
    fn gatehouse_settings(&self, _profile: Profile) -> Value {
        Value::Null
    }

    /// Puts its shared state in the registry when the app state opens (the server's
    /// and every CLI command's), read back with `app.registry.get::<T>()`.
    fn start(&self, _setup: &Setup<'_>, _registry: &mut Registry) -> Result<(), ConfigError> {
        Ok(())
    }

    /// Claims it adds to the access tokens of `subject` (at login, after a second
    /// factor, at each refresh, and in introspection). Registered and Gatehouse's own
    /// claims are dropped; over [`crate::tokens::MAX_CUSTOM_CLAIMS_BYTES`], all of its
    /// own are (and logged), never another's.
    async fn claims(
        &self,
        _app: &App,
        _subject: &TokenSubject<'_>,
    ) -> Result<Map<String, Value>, AppError> {
        Ok(Map::new())
    }

    /// The second factor it offers, if any.
    fn second_factor(&self) -> Option<&'static dyn SecondFactor> {
        None
    }

    /// Its HTML for a page `slot` (sign-in buttons on the login page, a section of
    /// the account page or of the admin account view), rendered from its own askama
    /// template. `None` shows nothing.
    async fn section(
        &self,
        _app: &App,
        _slot: Slot,
        _context: &SectionContext<'_>,
    ) -> Result<Option<String>, AppError> {
        Ok(None)
    }

    /// The path of the one script its sections of `slot` use (served by its own route,
    /// under a version-stamped path). A page showing such a section loads it (`defer`)
    /// and allows scripts from this origin; pages without stay script-free, and the
    /// sections must work without it.
    fn page_script(&self, _slot: Slot) -> Option<&'static str> {
        None
    }

    /// Whether `account` can sign in through it (a passkey, an identity provider),
    /// so no part removes the last way in (see [`hooks::keeps_a_way_in`]).
    async fn signs_in(&self, _app: &App, _account: &AccountRow) -> Result<bool, AppError> {
        Ok(false)
    }

    /// Side effects after an account was deleted (files, caches, outside services).
    /// Its rows are gone already: every foreign key to `accounts` cascades.
    async fn account_deleted(&self, _app: &App, _account_id: i64) -> Result<(), AppError> {
        Ok(())
    }

    /// The account's data it holds, for the account's export (`GET /api/auth/me/export`).
    async fn export(&self, _app: &App, _account: &AccountRow) -> Result<Option<Value>, AppError> {
        Ok(None)
    }

    /// What `doctor` should report about it (a key that no longer opens what it sealed).
    async fn doctor(&self, _app: &App) -> Result<Option<Checkup>, AppError> {
        Ok(None)
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
    /// The settings profile (debug or release).
    pub fn profile(&self) -> Profile {
        Profile::of(self.figment)
    }

    /// A part's keys out of the `gatehouse` table, over `defaults` (what
    /// [`Feature::gatehouse_settings`] gives); other keys of the table are ignored.
    pub fn gatehouse<T: DeserializeOwned + serde::Serialize>(
        &self,
        defaults: T,
    ) -> Result<T, ConfigError> {
        Figment::from(Serialized::defaults(defaults))
            .merge(self.figment.focus("gatehouse"))
            .select(self.figment.profile().clone())
            .extract()
            .map_err(crate::config::describe_figment_error)
    }

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

/// Checks the registered parts and features: well-formed, distinct names; a
/// feature's may not clash with anything of Rocket's or Gatehouse's, parts included.
pub fn check_names(
    parts: &[&'static dyn Feature],
    features: &[&'static dyn Feature],
) -> Result<(), ConfigError> {
    let mut seen: Vec<&str> = Vec::new();
    let all = parts
        .iter()
        .map(|p| (true, p))
        .chain(features.iter().map(|f| (false, f)));
    for (is_part, feature) in all {
        let name = feature.name();
        let well_formed = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let problem = if !well_formed {
            "must be lower-case letters, digits and '_', starting with a letter"
        } else if !is_part && RESERVED_NAMES.contains(&name) {
            "is taken by Rocket's or Gatehouse's own settings, commands or parts"
        } else if seen.contains(&name) {
            "is registered twice"
        } else {
            seen.push(name);
            continue;
        };
        let list = if is_part {
            "src/parts/mod.rs"
        } else {
            "src/features/mod.rs"
        };
        return Err(ConfigError::Feature(format!(
            "the {} name `{name}` {problem} ({list})",
            if is_part { "part" } else { "feature" }
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
