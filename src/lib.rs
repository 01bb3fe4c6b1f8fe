//! Gatehouse: accounts and authentication for Rocket apps, done right from day one.
//!
//! A guided tour, in the order a request meets the code:
//! - [`config`]: the settings in sections, read from Rocket.toml and `GATEHOUSE_*`;
//! - [`db`]: the pool (SQLite or PostgreSQL through sqlx's Any driver), Gatehouse's
//!   migrations and `table_row!`;
//! - [`guards`]: the request guards apps put on their own routes; [`web::visitor`]:
//!   the page guards (`SignedIn`, `StaffPage`, `CsrfForm`);
//! - [`api`] and [`web`]: the JSON routes and the pages;
//! - [`error`]: the one error type, and what each error means to every boundary;
//! - [`auth`]: the flows (register, login and its second step, refresh, password
//!   change, profile), free of HTTP, with [`lockout`] (the attempt budget passwords
//!   and second factors share) and [`audit`]; [`admin`]: account administration and
//!   its rules, for the admin part and the CLI;
//! - [`accounts`], [`sessions`], [`events`] (the audit trail): the models and the SQL
//!   of their tables; [`text`] and [`paging`]: rules shared with features;
//! - [`tokens`] (JWT) and [`password`] (argon2): the cryptography;
//! - [`cli`]: the command line of the binary;
//! - [`feature`]: the seam (the `Feature` trait and its [`feature::hooks`]);
//!   [`parts`]: Gatehouse's own parts built on it (two-factor, admin); [`features`]:
//!   the app's own (`notes`, the worked example); [`registry`]: their shared state;
//!   [`prelude`]: the one import a feature needs, and [`fields`]: the rules of a
//!   feature's typed fields.
//!
//! [`rocket`] builds the whole app, parts and features included, from a figment;
//! `main`, the CLI and the tests all go through it. This file is the one place that
//! names both lists ([`installed`]).

#![forbid(unsafe_code)]

#[macro_use]
extern crate rocket;

pub mod accounts;
pub mod admin;
pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cookies;
pub mod db;
pub mod email;
pub mod error;
pub mod events;
pub mod feature;
pub mod features;
pub mod fields;
pub mod guards;
pub mod lockout;
pub mod logs;
pub mod mail;
pub mod metrics;
pub mod paging;
pub mod parts;
pub mod password;
pub mod prelude;
pub mod pruning;
pub mod random;
pub mod rate_limit;
pub mod reauthentication;
pub mod registry;
pub mod sealing;
pub mod sessions;
pub mod sockets;
pub mod text;
pub mod tokens;
pub mod web;

use std::collections::BTreeMap;
use std::sync::Arc;

use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::{Build, Rocket};
use rocket_db_pools::Database;

use crate::app::App;
use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, Profile, Settings};
use crate::db::Db;
use crate::feature::{hooks::Installed, Feature, Setup};
use crate::password::Hasher;
use crate::web::visitor::Navigation;

pub use crate::config::figment;

/// Gatehouse's parts, then the app's features: the one list everything else reads.
pub fn installed() -> Vec<&'static dyn Feature> {
    let mut all = parts::all();
    all.extend(features::all());
    all
}

/// Every key of the `gatehouse` table with its default for `profile`: the core's and
/// the parts' (see [`Feature::gatehouse_settings`]).
pub fn setting_defaults(profile: Profile) -> BTreeMap<String, serde_json::Value> {
    let mut all = config::defaults(profile);
    for part in installed() {
        if let serde_json::Value::Object(keys) = part.gatehouse_settings(profile) {
            all.extend(keys);
        }
    }
    all
}

/// Builds the app from `figment` with the real clock.
pub fn rocket(figment: Figment) -> Result<Rocket<Build>, ConfigError> {
    rocket_with_clock(figment, Arc::new(SystemClock))
}

/// Builds the app with the given clock (tests pass a `ManualClock`). Settings are
/// validated here, before anything starts, so a bad one is reported as a sentence.
pub fn rocket_with_clock(
    figment: Figment,
    clock: Arc<dyn Clock>,
) -> Result<Rocket<Build>, ConfigError> {
    rocket_with(figment, clock, Vec::new())
}

/// Builds the app with `extra` features after the listed ones: how the seam's tests
/// install a probe that records every hook call.
pub fn rocket_with(
    figment: Figment,
    clock: Arc<dyn Clock>,
    extra: Vec<&'static dyn Feature>,
) -> Result<Rocket<Build>, ConfigError> {
    let settings = Arc::new(settings(&figment)?);
    let mail = settings.mail.enabled();
    let pages = settings.accepts(config::TokenLocation::Cookie);
    let https = settings.cookies.cookie_secure;
    let metrics = settings.observability.metrics_enabled;
    let mut features = installed();
    let mut own = features::all();
    own.extend(extra.iter().copied());
    features.extend(extra);
    feature::check_names(&parts::all(), &own)?;
    feature::check_spa_path(&settings.spa.spa_path, &features)?;
    let setup = Setup {
        figment: &figment,
        settings: &settings,
        pages,
    };
    let stages = features
        .iter()
        .map(|feature| feature.stage(&setup))
        .collect::<Result<Vec<_>, _>>()?;
    let navigation = Navigation(features.iter().filter_map(|f| f.nav_link()).collect());
    let listed = features.clone();
    let api_document = settings
        .service
        .api_docs
        .then(|| api::docs::document(&setup, &features));
    let cors = api::cors::CorsHeaders::new(&settings.cors);
    let spa = settings
        .spa
        .spa_dir
        .clone()
        .map(|dir| (settings.spa.spa_path.clone(), web::spa::routes(dir)));
    let mut rocket = rocket::custom(figment.clone())
        .attach(Db::init())
        .attach(AdHoc::try_on_ignite(
            "Gatehouse state",
            move |rocket| async move {
                let Some(db) = Db::fetch(&rocket) else {
                    return Err(rocket);
                };
                let settings_migrate_on_start = settings.service.migrate_on_start;
                if let Some(path) = config::dev_secrets::in_use() {
                    log::info!(
                        "development secrets are kept in {} (debug only; git-ignored)",
                        path.display()
                    );
                }
                if settings.tokens.access_token_algorithm.is_asymmetric()
                    && settings.tokens.signing_key_secret_is_ephemeral
                {
                    log::warn!(
                        "no signing_key_secret configured: using a random one for this run, so the \
                         signing key made now will be replaced at the next start; set {}SIGNING_KEY_SECRET",
                        config::ENV_PREFIX
                    );
                }
                let log_level = rocket.figment().extract_inner::<rocket::config::LogLevel>("log_level");
                if matches!(log_level, Ok(rocket::config::LogLevel::Debug)) && !logs::installed() {
                    log::warn!(
                        "log_level is debug: Rocket prints every request's headers, tokens and \
                         cookies included; never run it so where real users sign in"
                    );
                }
                if settings.tokens.secret_is_ephemeral {
                    log::warn!(
                        "no signing secret configured: using a random one for this run, so tokens \
                     will not survive a restart; set {}SECRET",
                        config::ENV_PREFIX
                    );
                }
                let database_url = rocket
                    .figment()
                    .extract_inner::<String>(&format!("databases.{}.url", config::DATABASE_NAME))
                    .ok();
                let listen_url = settings.service.listen_url.clone().or(database_url);
                let figment = rocket.figment().clone();
                let schema = Schema::from_setting(settings_migrate_on_start);
                match open_with(settings, &figment, db.0.clone(), clock, schema, listed).await {
                    Ok((state, _)) => {
                        pruning::spawn(
                            db.0.pool.clone(),
                            state.settings.bounds.clone(),
                            Arc::clone(&state.clock),
                        );
                        if let (db::Backend::Postgres, Some(url)) = (db.0.backend, listen_url) {
                            crate::sessions::announcements::spawn(
                                url,
                                Arc::clone(&state.session_cache),
                            );
                        }
                        if let Err(error) = state.keys.load(state.pool(), state.now()).await {
                            log::error!("{error}");
                            // Behind a schema this version needs, an instance waits (not
                            // ready) for `migrate` rather than stopping.
                            let behind = !settings_migrate_on_start
                                && db::pending_migrations(&db.0)
                                    .await
                                    .is_ok_and(|pending| !pending.is_empty());
                            if !behind {
                                return Err(rocket);
                            }
                        }
                        Ok(rocket.manage(state))
                    }
                    Err(error) => {
                        log::error!("{error}");
                        Err(rocket)
                    }
                }
            },
        ))
        .attach(api::stage(mail, metrics, api_document))
        .attach(web::stage(pages, https, mail))
        .manage(navigation);
    if let Some(cors) = cors {
        rocket = rocket.attach(cors).mount("/api", api::cors::routes());
    }
    if let Some((path, routes)) = spa {
        rocket = rocket.mount(path, routes);
    }
    for stage in stages {
        rocket = rocket.attach(stage);
    }
    Ok(rocket)
}

/// Reads the settings from `figment` and checks them against the database it names
/// (and the hasher's parameters), so a bad one stops the start with a sentence.
pub fn settings(figment: &Figment) -> Result<Settings, ConfigError> {
    let known = setting_defaults(Profile::of(figment));
    let settings = Settings::from_figment(figment, &known)?;
    let database_url = figment
        .extract_inner::<String>(&format!("databases.{}.url", config::DATABASE_NAME))
        .unwrap_or_default();
    if settings.rate_limits.rate_limit_store == config::rate_limits::StoreChoice::Database
        && db::Backend::from_url(&database_url) == Some(db::Backend::Sqlite)
    {
        return Err(config::invalid(
            "rate_limit_store",
            "\"database\" needs PostgreSQL: on SQLite one process holds the database, so use \
             \"memory\" (or \"auto\")",
        ));
    }
    Hasher::check(&settings.passwords).map_err(|e| ConfigError::Invalid {
        setting: "argon2_memory_kib".into(),
        env: format!("{}ARGON2_MEMORY_KIB", config::ENV_PREFIX),
        reason: e.to_string(),
    })?;
    Ok(settings)
}

/// What [`open`] does to the schema before the state opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    /// Apply Gatehouse's and the features' pending migrations.
    Migrate,
    /// Only report the pending ones (`migrate_on_start = false`).
    Report,
}

impl Schema {
    pub fn from_setting(migrate_on_start: bool) -> Schema {
        if migrate_on_start {
            Schema::Migrate
        } else {
            Schema::Report
        }
    }
}

/// Opens the app state on a connected pool: the one way the server (at ignition) and
/// every CLI command build it. Returns the state and the versions of Gatehouse's
/// migrations that were pending when it opened.
pub async fn open(
    settings: Arc<Settings>,
    figment: &Figment,
    db: db::DbPool,
    clock: Arc<dyn Clock>,
    schema: Schema,
) -> Result<(App, Vec<i64>), String> {
    open_with(settings, figment, db, clock, schema, installed()).await
}

/// [`open`] with the given parts and features.
async fn open_with(
    settings: Arc<Settings>,
    figment: &Figment,
    db: db::DbPool,
    clock: Arc<dyn Clock>,
    schema: Schema,
    installed: Vec<&'static dyn Feature>,
) -> Result<(App, Vec<i64>), String> {
    let pending = db::pending_migrations(&db).await;
    match schema {
        Schema::Migrate => feature::migrate(&db, &installed)
            .await
            .map_err(|error| format!("the database migrations failed: {error}"))?,
        Schema::Report => match &pending {
            Ok(pending) if pending.is_empty() => {}
            Ok(pending) => log::warn!(
                "migrate_on_start is off and migrations {pending:?} are not applied: \
                 readiness answers 503 until `{} migrate` has run",
                env!("CARGO_PKG_NAME")
            ),
            Err(error) => log::warn!("cannot read the applied migrations: {error}"),
        },
    }
    let hasher = Hasher::new(&settings.passwords).map_err(|error| error.to_string())?;
    let setup = Setup {
        figment,
        settings: &settings,
        pages: settings.accepts(config::TokenLocation::Cookie),
    };
    let mut registry = start(&setup, &installed).map_err(|error| error.to_string())?;
    registry.insert(Installed(installed));
    let app = App::new(settings, db, hasher, clock, registry)?;
    Ok((app, pending.unwrap_or_default()))
}

/// Starts every part and feature into a new registry (see [`Feature::start`]).
fn start(
    setup: &Setup<'_>,
    installed: &[&'static dyn Feature],
) -> Result<registry::Registry, ConfigError> {
    let mut registry = registry::Registry::default();
    for part in installed {
        part.start(setup, &mut registry)?;
    }
    Ok(registry)
}
