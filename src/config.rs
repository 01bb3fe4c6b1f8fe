//! Settings: the `gatehouse` table of the Rocket figment (Rocket.toml per profile,
//! then `GATEHOUSE_*` environment variables), validated once at start-up so that a
//! bad value stops the process with a sentence naming the setting.

use std::fmt;

use figment::providers::Env;
use figment::Figment;
use serde::Deserialize;

/// The environment prefix of every auth setting: `GATEHOUSE_ACCESS_TTL=300` sets
/// `access_ttl`.
pub const ENV_PREFIX: &str = "GATEHOUSE_";

/// The name of the database in Rocket's `databases` table.
pub const DATABASE_NAME: &str = "gatehouse";

/// Shortest signing secret accepted, in bytes (HS256 wants a key as long as its hash).
pub const MIN_SECRET_BYTES: usize = 32;

/// Where clients may present their access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenLocation {
    Header,
    Cookie,
}

/// The SameSite attribute of the auth cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

/// The raw settings as they come out of the figment, before validation. Unknown keys
/// are refused, so a misspelt setting is an error rather than silently ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawSettings {
    secret: Option<String>,
    access_ttl: u64,
    refresh_ttl: u64,
    remember_ttl: u64,
    refresh_grace: u64,
    leeway: u64,
    token_locations: Vec<TokenLocation>,
    access_cookie: String,
    refresh_cookie: String,
    csrf_cookie: String,
    cookie_path: String,
    cookie_secure: bool,
    cookie_same_site: SameSite,
    issuer: String,
    audience: String,
    argon2_memory_kib: u32,
    argon2_iterations: u32,
    argon2_parallelism: u32,
    hash_concurrency: Option<usize>,
    password_min_length: usize,
    password_max_length: usize,
    registration_open: bool,
    health_timeout_ms: u64,
    session_cache_ms: u64,
    lockout_max_attempts: u32,
    lockout_duration: u64,
    two_factor_enabled: bool,
    two_factor_issuer: String,
    two_factor_max_attempts: u32,
    two_factor_pending_ttl: u64,
    two_factor_key: Option<String>,
    two_factor_reauth: bool,
}

/// The defaults, the same as Rocket.toml's, for a binary started without that file.
impl Default for RawSettings {
    fn default() -> Self {
        RawSettings {
            secret: None,
            access_ttl: 15 * 60,
            refresh_ttl: 24 * 60 * 60,
            remember_ttl: 30 * 24 * 60 * 60,
            refresh_grace: 10,
            leeway: 30,
            token_locations: vec![TokenLocation::Header, TokenLocation::Cookie],
            access_cookie: "gatehouse_access".into(),
            refresh_cookie: "gatehouse_refresh".into(),
            csrf_cookie: "gatehouse_csrf".into(),
            cookie_path: "/".into(),
            cookie_secure: false,
            cookie_same_site: SameSite::Lax,
            issuer: "gatehouse".into(),
            audience: "gatehouse".into(),
            argon2_memory_kib: 19456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            hash_concurrency: None,
            password_min_length: 8,
            password_max_length: 1024,
            registration_open: true,
            health_timeout_ms: 1000,
            session_cache_ms: 1000,
            lockout_max_attempts: 5,
            lockout_duration: 15 * 60,
            two_factor_enabled: true,
            two_factor_issuer: "Gatehouse".into(),
            two_factor_max_attempts: 3,
            two_factor_pending_ttl: 5 * 60,
            two_factor_key: None,
            two_factor_reauth: true,
        }
    }
}

/// Validated settings, shared by every part of the app.
#[derive(Clone)]
pub struct Settings {
    /// The HMAC key of every token. Never printed: `Debug` is written by hand below.
    pub secret: Vec<u8>,
    /// True when no secret was configured and a random one was made for this run.
    pub secret_is_ephemeral: bool,
    pub access_ttl: i64,
    pub refresh_ttl: i64,
    pub remember_ttl: i64,
    pub refresh_grace: i64,
    pub leeway: i64,
    pub token_locations: Vec<TokenLocation>,
    /// The cookie names as sent: with the `__Host-` prefix when Secure on path `/`.
    pub access_cookie: String,
    pub refresh_cookie: String,
    pub csrf_cookie: String,
    /// The pages' one-view feedback cookie (not configurable; prefixed like the others).
    pub feedback_cookie: String,
    pub cookie_path: String,
    pub cookie_secure: bool,
    pub cookie_same_site: SameSite,
    pub issuer: String,
    pub audience: String,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    pub hash_concurrency: usize,
    pub password_min_length: usize,
    pub password_max_length: usize,
    pub registration_open: bool,
    pub health_timeout_ms: u64,
    /// How long a guard may trust its cached view of a session changed by another
    /// process; 0 reads the database on every request.
    pub session_cache_ms: u64,
    /// Wrong passwords in a row that lock an account; 0 never locks.
    pub lockout_max_attempts: i64,
    /// Seconds a lock lasts; `None` (configured as 0) until an admin unlocks.
    pub lockout_duration: Option<i64>,
    /// False: no 2FA routes (404) and every login is one step.
    pub two_factor_enabled: bool,
    /// The issuer authenticator apps show next to the account name.
    pub two_factor_issuer: String,
    /// Wrong codes a pending session may receive before it is revoked.
    pub two_factor_max_attempts: i64,
    /// Seconds a pending (password-only) session lives.
    pub two_factor_pending_ttl: i64,
    /// The key material TOTP secrets are sealed with (distinct from `secret`). Never
    /// printed.
    pub two_factor_key: Vec<u8>,
    /// True when no `two_factor_key` was configured and a random one was made for this run.
    pub two_factor_key_is_ephemeral: bool,
    /// Whether 2FA setup and disable ask for the password again.
    pub two_factor_reauth: bool,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("secret", &"<redacted>")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("remember_ttl", &self.remember_ttl)
            .field("token_locations", &self.token_locations)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
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

fn invalid(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.to_string(),
        env: format!("{ENV_PREFIX}{}", setting.to_uppercase()),
        reason: reason.into(),
    }
}

/// The figment every entry point starts from: Rocket's own (Rocket.toml and `ROCKET_*`),
/// then `GATEHOUSE_*` for the auth settings (`GATEHOUSE_<FEATURE>__<KEY>` for a
/// feature's own section) and `DATABASE_URL` for the database.
pub fn figment() -> Figment {
    rocket::Config::figment()
        .merge(
            Env::prefixed(ENV_PREFIX).map(|key| match key.as_str().split_once("__") {
                Some((feature, rest)) => format!("{feature}.{rest}").into(),
                None => format!("gatehouse.{key}").into(),
            }),
        )
        .merge(
            Env::raw()
                .only(&["DATABASE_URL"])
                .map(|_| format!("databases.{DATABASE_NAME}.url").into()),
        )
}

impl Settings {
    /// Reads and validates the `gatehouse` table of the selected profile.
    pub fn from_figment(figment: &Figment) -> Result<Settings, ConfigError> {
        let raw: RawSettings = if figment.contains("gatehouse") {
            figment
                .extract_inner("gatehouse")
                .map_err(describe_figment_error)?
        } else {
            RawSettings::default()
        };
        let release = figment.profile() == rocket::Config::RELEASE_PROFILE;
        let (secret, secret_is_ephemeral) = match raw.secret.as_deref() {
            Some(text) if !text.trim().is_empty() => (check_secret(text)?, false),
            _ if release => {
                return Err(invalid(
                    "secret",
                    format!(
                        "the release profile needs a signing secret of at least {MIN_SECRET_BYTES} random bytes; \
                         generate one with `openssl rand -base64 48` and set {ENV_PREFIX}SECRET"
                    ),
                ))
            }
            _ => (crate::random::bytes(MIN_SECRET_BYTES), true),
        };

        let positive = |name: &'static str, value: u64| -> Result<i64, ConfigError> {
            if value == 0 {
                return Err(invalid(name, "must be greater than zero"));
            }
            i64::try_from(value).map_err(|_| invalid(name, "is too large"))
        };
        let access_ttl = positive("access_ttl", raw.access_ttl)?;
        let refresh_ttl = positive("refresh_ttl", raw.refresh_ttl)?;
        let remember_ttl = positive("remember_ttl", raw.remember_ttl)?;
        if access_ttl > refresh_ttl {
            return Err(invalid("access_ttl", "must not be longer than refresh_ttl"));
        }
        if refresh_ttl > remember_ttl {
            return Err(invalid(
                "remember_ttl",
                "must not be shorter than refresh_ttl",
            ));
        }
        if raw.refresh_grace > 300 {
            return Err(invalid("refresh_grace", "must be at most 300 seconds"));
        }
        if raw.leeway > 60 {
            return Err(invalid("leeway", "must be at most 60 seconds"));
        }
        if raw.token_locations.is_empty() {
            return Err(invalid(
                "token_locations",
                "needs at least one of \"header\" and \"cookie\"",
            ));
        }
        for (name, value) in [
            ("access_cookie", &raw.access_cookie),
            ("refresh_cookie", &raw.refresh_cookie),
            ("csrf_cookie", &raw.csrf_cookie),
        ] {
            let valid = !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !valid {
                return Err(invalid(
                    name,
                    "must be a non-empty cookie name of letters, digits, '-', '_' or '.'",
                ));
            }
        }
        if raw.access_cookie == raw.refresh_cookie
            || raw.csrf_cookie == raw.access_cookie
            || raw.csrf_cookie == raw.refresh_cookie
        {
            return Err(invalid(
                "refresh_cookie",
                "access_cookie, refresh_cookie and csrf_cookie must all differ",
            ));
        }
        // Browsers only accept `__Host-` cookies that are Secure, on path `/`, with no
        // domain: then no subdomain or plain-HTTP page can plant or overwrite them.
        let host_prefix = if raw.cookie_secure && raw.cookie_path == "/" {
            "__Host-"
        } else {
            ""
        };
        let cookie_name = |name: &str| format!("{host_prefix}{name}");
        if !raw.cookie_path.starts_with('/') {
            return Err(invalid("cookie_path", "must start with '/'"));
        }
        if raw.cookie_same_site == SameSite::None && !raw.cookie_secure {
            return Err(invalid(
                "cookie_same_site",
                "\"none\" requires cookie_secure = true",
            ));
        }
        if raw.issuer.trim().is_empty() {
            return Err(invalid("issuer", "must not be empty"));
        }
        if raw.audience.trim().is_empty() {
            return Err(invalid("audience", "must not be empty"));
        }
        if argon2::Params::new(
            raw.argon2_memory_kib,
            raw.argon2_iterations,
            raw.argon2_parallelism,
            None,
        )
        .is_err()
        {
            return Err(invalid(
                "argon2_memory_kib",
                format!(
                    "argon2 rejects m={} KiB, t={}, p={} (memory must be at least 8 x parallelism, iterations and parallelism at least 1)",
                    raw.argon2_memory_kib, raw.argon2_iterations, raw.argon2_parallelism
                ),
            ));
        }
        let hash_concurrency = match raw.hash_concurrency {
            Some(0) => return Err(invalid("hash_concurrency", "must be at least 1")),
            Some(n) => n,
            // One core is left to serve requests, so a login storm cannot starve them.
            None => std::thread::available_parallelism()
                .map_or(1, |n| usize::from(n).saturating_sub(1).max(1)),
        };
        if raw.password_min_length == 0 {
            return Err(invalid("password_min_length", "must be at least 1"));
        }
        if raw.password_max_length < raw.password_min_length || raw.password_max_length > 4096 {
            return Err(invalid(
                "password_max_length",
                "must be between password_min_length and 4096 bytes",
            ));
        }
        if raw.session_cache_ms > 60_000 {
            return Err(invalid(
                "session_cache_ms",
                "must be at most 60000 (one minute)",
            ));
        }
        if raw.lockout_max_attempts > 1000 {
            return Err(invalid(
                "lockout_max_attempts",
                "must be at most 1000 (0 turns locking off)",
            ));
        }
        let lockout_duration = match raw.lockout_duration {
            0 => None,
            seconds => Some(
                i64::try_from(seconds)
                    .ok()
                    .filter(|s| *s <= 365 * 24 * 60 * 60)
                    .ok_or_else(|| {
                        invalid(
                            "lockout_duration",
                            "must be at most one year (0 locks until an admin unlocks)",
                        )
                    })?,
            ),
        };
        let issuer = raw.two_factor_issuer.trim().to_string();
        if issuer.is_empty() || issuer.contains(':') || issuer.chars().count() > 64 {
            return Err(invalid(
                "two_factor_issuer",
                "must be 1 to 64 characters without ':' (authenticator apps split on it)",
            ));
        }
        if !(1..=10).contains(&raw.two_factor_max_attempts) {
            return Err(invalid(
                "two_factor_max_attempts",
                "must be between 1 and 10",
            ));
        }
        if !(30..=3600).contains(&raw.two_factor_pending_ttl) {
            return Err(invalid(
                "two_factor_pending_ttl",
                "must be between 30 and 3600 seconds",
            ));
        }
        let (two_factor_key, two_factor_key_is_ephemeral) = match raw.two_factor_key.as_deref() {
            Some(text) if !text.trim().is_empty() => {
                let key = check_key_material("two_factor_key", text)?;
                if key == secret {
                    return Err(invalid(
                        "two_factor_key",
                        "must differ from `secret`: rotating the token key must not destroy every enrolment",
                    ));
                }
                (key, false)
            }
            _ if release && raw.two_factor_enabled => {
                return Err(invalid(
                    "two_factor_key",
                    format!(
                        "the release profile needs a key for the TOTP secrets at rest (or two_factor_enabled = false); \
                         generate one with `openssl rand -base64 48` and set {ENV_PREFIX}TWO_FACTOR_KEY"
                    ),
                ))
            }
            _ => (crate::random::bytes(MIN_SECRET_BYTES), true),
        };
        if raw.health_timeout_ms == 0 {
            return Err(invalid("health_timeout_ms", "must be greater than zero"));
        }

        Ok(Settings {
            secret,
            secret_is_ephemeral,
            access_ttl,
            refresh_ttl,
            remember_ttl,
            refresh_grace: raw.refresh_grace as i64,
            leeway: raw.leeway as i64,
            token_locations: raw.token_locations,
            access_cookie: cookie_name(&raw.access_cookie),
            refresh_cookie: cookie_name(&raw.refresh_cookie),
            csrf_cookie: cookie_name(&raw.csrf_cookie),
            feedback_cookie: cookie_name("gatehouse_feedback"),
            cookie_path: raw.cookie_path,
            cookie_secure: raw.cookie_secure,
            cookie_same_site: raw.cookie_same_site,
            issuer: raw.issuer,
            audience: raw.audience,
            argon2_memory_kib: raw.argon2_memory_kib,
            argon2_iterations: raw.argon2_iterations,
            argon2_parallelism: raw.argon2_parallelism,
            hash_concurrency,
            password_min_length: raw.password_min_length,
            password_max_length: raw.password_max_length,
            registration_open: raw.registration_open,
            health_timeout_ms: raw.health_timeout_ms,
            session_cache_ms: raw.session_cache_ms,
            lockout_max_attempts: i64::from(raw.lockout_max_attempts),
            lockout_duration,
            two_factor_enabled: raw.two_factor_enabled,
            two_factor_issuer: issuer,
            two_factor_max_attempts: i64::from(raw.two_factor_max_attempts),
            two_factor_pending_ttl: raw.two_factor_pending_ttl as i64,
            two_factor_key,
            two_factor_key_is_ephemeral,
            two_factor_reauth: raw.two_factor_reauth,
        })
    }

    pub fn accepts(&self, location: TokenLocation) -> bool {
        self.token_locations.contains(&location)
    }
}

/// Turns figment's error (which may name a missing or mistyped key) into one line.
fn describe_figment_error(error: figment::Error) -> ConfigError {
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

/// A secret is taken as its bytes; it must be long and not an obvious placeholder.
fn check_secret(text: &str) -> Result<Vec<u8>, ConfigError> {
    check_key_material("secret", text)
}

/// Key material is taken as its bytes; it must be long and not an obvious placeholder.
fn check_key_material(setting: &'static str, text: &str) -> Result<Vec<u8>, ConfigError> {
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
