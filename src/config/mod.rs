//! Settings: the `gatehouse` table of the Rocket figment (Rocket.toml per profile,
//! then `GATEHOUSE_*` environment variables), in sections that each validate
//! themselves, once, at start-up, so a bad value stops the process with a sentence
//! naming the setting and its variable.
//!
//! The keys stay flat (`[default.gatehouse] access_ttl = 900`, `GATEHOUSE_ACCESS_TTL`);
//! each section reads its own keys from the table. Defaults live here, per profile
//! where they differ, so the binary is safe without Rocket.toml.

pub mod bounds;
pub mod clients;
pub mod cookies;
pub mod cors;
pub mod dev_secrets;
pub mod lockout;
pub mod mail;
pub mod observability;
pub mod passwords;
pub mod rate_limits;
pub mod second_step;
pub mod service;
pub mod spa;
pub mod tokens;

use std::collections::BTreeMap;
use std::fmt;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;

pub use bounds::Bounds;
pub use clients::Clients;
pub use cookies::{Cookies, SameSite};
pub use cors::Cors;
pub use lockout::Lockout;
pub use mail::Mail;
pub use observability::{LogFormat, Observability};
pub use passwords::Passwords;
pub use rate_limits::{Rate, RateLimits};
pub use second_step::SecondStep;
pub use service::Service;
pub use spa::Spa;
pub use tokens::{TokenAlgorithm, TokenLocation, Tokens};

/// The environment prefix of every auth setting: `GATEHOUSE_ACCESS_TTL=300` sets
/// `access_ttl`.
pub const ENV_PREFIX: &str = "GATEHOUSE_";

/// The name of the database in Rocket's `databases` table.
pub const DATABASE_NAME: &str = "gatehouse";

/// Shortest signing secret accepted, in bytes (HS256 wants a key as long as its hash).
pub const MIN_SECRET_BYTES: usize = 32;

/// The app's name as its defaults use it (cookie names, token issuer, the SQLite
/// file): the package name of Cargo.toml in snake case, `gatehouse` here. Renaming
/// the package (by hand or with cargo-generate) renames them all.
pub fn app_name() -> String {
    env!("CARGO_PKG_NAME").replace('-', "_")
}

/// The name people see (page titles, authenticator apps): the package name in words,
/// `Gatehouse` here, `Acme Notes` for a package `acme-notes`.
pub fn brand() -> String {
    env!("CARGO_PKG_NAME")
        .split(['-', '_'])
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Gatehouse's defaults for Rocket's own settings: JSON bodies of at most 16 KiB
/// (Rocket's is 1 MiB) and no client-address header (Rocket's default, `X-Real-IP`,
/// would let any client write the address recorded in sessions and the audit trail).
pub fn rocket_defaults() -> serde_json::Value {
    serde_json::json!({
        "ip_header": false,
        "limits": { "json": "16 KiB" },
        // On SIGTERM or Ctrl-C: stop accepting, give requests in flight (logins
        // waiting for the hasher among them) 10 s, then 5 s more to close connections.
        "shutdown": { "grace": 10, "mercy": 5 },
        // SQLite in a file named after the package, in the working directory.
        "databases": { DATABASE_NAME: { "url": format!("sqlite://{}.db", app_name()) } },
    })
}

/// What the async runtime is built with, from Rocket's own keys.
pub struct Runtime {
    pub workers: usize,
    pub max_blocking: usize,
    /// Whether a shutdown stops the runtime's remaining tasks (`shutdown.force`).
    pub force_end: bool,
}

/// Reads the runtime's settings; a configuration that cannot be read at all (a TOML
/// syntax error, a wrong type) is one sentence naming where, never the line's text.
pub fn runtime(figment: &Figment) -> Result<Runtime, String> {
    let defaults = rocket::Config::default();
    let read = |error: figment::Error| {
        let first = error
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        format!("The configuration cannot be read ({first}). Fix Rocket.toml, or the ROCKET_ or GATEHOUSE_ variable that sets it.")
    };
    Ok(Runtime {
        workers: figment
            .extract_inner::<Option<usize>>(rocket::Config::WORKERS)
            .map_err(read)?
            .unwrap_or(defaults.workers),
        max_blocking: figment
            .extract_inner::<Option<usize>>(rocket::Config::MAX_BLOCKING)
            .map_err(read)?
            .unwrap_or(defaults.max_blocking),
        force_end: figment
            .extract_inner::<Option<bool>>("shutdown.force")
            .map_err(read)?
            .unwrap_or(defaults.shutdown.force),
    })
}

/// The profile whose defaults apply: release (`ROCKET_PROFILE=release`, `cargo run
/// --release`) or any other, which gets the development defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Debug,
    Release,
}

impl Profile {
    pub fn of(figment: &Figment) -> Profile {
        if figment.profile() == rocket::Config::RELEASE_PROFILE {
            Profile::Release
        } else {
            Profile::Debug
        }
    }
}

/// Validated settings, shared by every part of the app, one field per section.
#[derive(Clone)]
pub struct Settings {
    pub tokens: Tokens,
    pub cookies: Cookies,
    pub passwords: Passwords,
    pub lockout: Lockout,
    pub second_step: SecondStep,
    pub service: Service,
    pub rate_limits: RateLimits,
    pub clients: Clients,
    pub cors: Cors,
    pub spa: Spa,
    pub bounds: Bounds,
    pub mail: Mail,
    pub observability: Observability,
}

/// The secrets' `Debug` leaves them out, so settings can be logged.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("tokens", &self.tokens)
            .field("cookies", &self.cookies)
            .field("passwords", &self.passwords)
            .field("lockout", &self.lockout)
            .field("second_step", &self.second_step)
            .field("service", &self.service)
            .field("rate_limits", &self.rate_limits)
            .field("clients", &self.clients)
            .field("cors", &self.cors)
            .field("spa", &self.spa)
            .field("bounds", &self.bounds)
            .field("mail", &self.mail)
            .field("observability", &self.observability)
            .finish()
    }
}

/// Every key of the `gatehouse` table that Gatehouse's core reads, with its default
/// for `profile`, as Rocket.toml would write it (`null` where there is no default,
/// such as the secrets). The parts' keys come from the parts
/// ([`crate::setting_defaults`] has them all).
pub fn defaults(profile: Profile) -> BTreeMap<String, serde_json::Value> {
    let sections = [
        serde_json::to_value(tokens::Raw::defaults(profile)),
        serde_json::to_value(cookies::Raw::defaults(profile)),
        serde_json::to_value(passwords::Raw::defaults(profile)),
        serde_json::to_value(lockout::Raw::defaults(profile)),
        serde_json::to_value(second_step::Raw::defaults(profile)),
        serde_json::to_value(service::Raw::defaults(profile)),
        serde_json::to_value(rate_limits::Raw::defaults(profile)),
        serde_json::to_value(clients::Raw::defaults(profile)),
        serde_json::to_value(cors::Raw::defaults(profile)),
        serde_json::to_value(spa::Raw::defaults(profile)),
        serde_json::to_value(bounds::Raw::defaults(profile)),
        serde_json::to_value(mail::Raw::defaults(profile)),
        serde_json::to_value(observability::Raw::defaults(profile)),
    ];
    let mut all = BTreeMap::new();
    for section in sections.into_iter().flatten() {
        if let serde_json::Value::Object(keys) = section {
            all.extend(keys);
        }
    }
    all
}

/// A setting that stops start-up; its text names the setting and the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid setting `{setting}` (environment variable {env}): {reason}")]
    Invalid {
        setting: String,
        env: String,
        reason: String,
    },
    #[error("configuration could not be read: {0}")]
    Figment(String),
    /// The list of features in `src/features/mod.rs` is wrong.
    #[error("{0}")]
    Feature(String),
}

pub(crate) fn invalid(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.to_string(),
        env: format!("{ENV_PREFIX}{}", setting.to_uppercase()),
        reason: reason.into(),
    }
}

/// Rocket's defaults with Gatehouse's for Rocket's keys, and nothing from files or the
/// environment: what a deployment gets when it sets nothing (the auth settings'
/// defaults are applied by [`Settings::from_figment`]).
pub fn code_defaults() -> Figment {
    Figment::from(rocket::Config::default()).merge(Serialized::defaults(rocket_defaults()))
}

/// The figment every entry point starts from: Rocket's own (Rocket.toml and `ROCKET_*`),
/// then `GATEHOUSE_*` for the auth settings (`GATEHOUSE_<FEATURE>__<KEY>` for a
/// feature's own section, each further `__` one level deeper) and `DATABASE_URL` for the database; in the debug profile,
/// the development secrets (see [`dev_secrets`]) for the secrets none of them sets.
pub fn figment() -> Figment {
    // Rocket's own composition (its defaults, Rocket.toml, `ROCKET_*`), with
    // Gatehouse's defaults for Rocket's keys just above Rocket's: safe without
    // Rocket.toml; in debug, the development secrets beneath it all.
    let figment = code_defaults()
        .merge(Toml::file(Env::var_or("ROCKET_CONFIG", "Rocket.toml")).nested())
        .merge(Env::prefixed("ROCKET_").ignore(&["PROFILE"]).global())
        .select(figment::Profile::from_env_or(
            "ROCKET_PROFILE",
            rocket::Config::DEFAULT_PROFILE,
        ))
        .merge(Env::prefixed(ENV_PREFIX).map(|key| env_key(key.as_str()).into()))
        .merge(
            Env::raw()
                .only(&["DATABASE_URL"])
                .map(|_| format!("databases.{DATABASE_NAME}.url").into()),
        );
    dev_secrets::beneath(figment)
}

/// Where a `GATEHOUSE_*` variable (its name after the prefix, lower-cased) lands:
/// `access_ttl` in the `gatehouse` table; `notes__max_per_account` in the `notes`
/// table; every further `__` one level deeper (`a__b__c` is `a.b.c`), so a section's
/// own tables can be set too.
pub fn env_key(name: &str) -> String {
    if name.contains("__") {
        name.replace("__", ".")
    } else {
        format!("gatehouse.{name}")
    }
}

impl Settings {
    /// Reads and validates the `gatehouse` table of the selected profile. `known`
    /// names every key of the table anyone reads (the core's and the parts', see
    /// [`crate::setting_defaults`]); any other key is refused as unknown.
    pub fn from_figment(
        figment: &Figment,
        known: &BTreeMap<String, serde_json::Value>,
    ) -> Result<Settings, ConfigError> {
        let profile = Profile::of(figment);
        refuse_rocket_ip_header(figment)?;
        // The code's defaults for this profile, under what Rocket.toml and the
        // environment say.
        let table = Figment::from(Serialized::defaults(defaults(profile)))
            .merge(figment.focus("gatehouse"))
            .select(figment.profile().clone());
        let given: BTreeMap<String, figment::value::Value> =
            table.extract().map_err(describe_figment_error)?;
        if let Some(unknown) = given.keys().find(|key| !known.contains_key(*key)) {
            return Err(ConfigError::Figment(format!(
                "`{unknown}` ({ENV_PREFIX}{}): unknown setting; see the configuration reference (docs/src/configuration.md)",
                unknown.to_uppercase()
            )));
        }
        let tokens = Tokens::from_raw(section(&table)?, profile)?;
        let cookies = Cookies::from_raw(section(&table)?)?;
        let cors = Cors::from_raw(section(&table)?)?;
        if cookies.cookie_secure {
            cors.refuse_plain_http()?;
        }
        Ok(Settings {
            cookies,
            passwords: Passwords::from_raw(section(&table)?)?,
            lockout: Lockout::from_raw(section(&table)?)?,
            service: Service::from_raw(section(&table)?)?,
            rate_limits: RateLimits::from_raw(section(&table)?)?,
            clients: Clients::from_raw(section(&table)?)?,
            cors,
            spa: Spa::from_raw(section(&table)?)?,
            bounds: Bounds::from_raw(section(&table)?)?,
            mail: Mail::from_raw(section(&table)?, profile, &listening_url(figment))?,
            observability: Observability::from_raw(section(&table)?)?,
            second_step: SecondStep::from_raw(section(&table)?)?,
            tokens,
        })
    }

    pub fn accepts(&self, location: TokenLocation) -> bool {
        self.tokens.accepts(location)
    }
}

/// Where this instance listens, as a URL: the links of a debug run that names no
/// `public_url`.
fn listening_url(figment: &Figment) -> String {
    let address = figment
        .extract_inner::<String>("address")
        .unwrap_or_else(|_| "127.0.0.1".into());
    let port = figment.extract_inner::<u16>("port").unwrap_or(8000);
    format!("http://{address}:{port}")
}

/// Rocket's own `ip_header` would believe that header from any client; the address
/// comes from `client_ip_header` and `trusted_proxies` instead, so a value there stops
/// start-up rather than being silently trusted or ignored.
fn refuse_rocket_ip_header(figment: &Figment) -> Result<(), ConfigError> {
    match figment.find_value("ip_header") {
        Ok(figment::value::Value::String(_, header)) => Err(ConfigError::Invalid {
            setting: "ip_header".into(),
            env: "ROCKET_IP_HEADER".into(),
            reason: format!(
                "Rocket's ip_header (\"{header}\") would take the client address from any \
                 client; remove it and set client_ip_header ({ENV_PREFIX}CLIENT_IP_HEADER) with \
                 trusted_proxies ({ENV_PREFIX}TRUSTED_PROXIES) instead"
            ),
        }),
        _ => Ok(()),
    }
}

/// One section's keys out of the `gatehouse` table (each ignores the others' keys).
fn section<T: serde::de::DeserializeOwned>(table: &Figment) -> Result<T, ConfigError> {
    table.extract().map_err(describe_figment_error)
}

/// Turns figment's error (which may name a missing or mistyped key) into one line.
pub(crate) fn describe_figment_error(error: figment::Error) -> ConfigError {
    let mut lines = Vec::new();
    for e in error {
        let path = e.path.join(".");
        let key = path.strip_prefix("gatehouse.").unwrap_or(&path).to_string();
        lines.push(if key.is_empty() {
            e.kind.to_string()
        } else {
            format!("`{key}` ({ENV_PREFIX}{}): {}", key.to_uppercase(), e.kind)
        });
    }
    ConfigError::Figment(lines.join("; "))
}

/// Key material is taken as its bytes; it must be long and not an obvious placeholder.
pub(crate) fn check_key_material(
    setting: &'static str,
    text: &str,
) -> Result<Vec<u8>, ConfigError> {
    let bytes = text.as_bytes();
    if bytes.len() < MIN_SECRET_BYTES {
        return Err(invalid(
            setting,
            format!(
                "is {} bytes long; it must be at least {MIN_SECRET_BYTES} random bytes (try `openssl rand -base64 48`)",
                bytes.len()
            ),
        ));
    }
    let mut distinct = bytes.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 10 {
        return Err(invalid(
            setting,
            "does not look random: use `openssl rand -base64 48`",
        ));
    }
    Ok(bytes.to_vec())
}
