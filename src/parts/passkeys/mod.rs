//! The passkeys part (WebAuthn, through webauthn-rs): passwordless sign-in, a second
//! factor that completes a pending login, and re-authentication. Its routes are under
//! `/api/auth/passkeys`, `/api/auth/2fa/passkey` and `/api/auth/reauthenticate/passkey`;
//! it adds a button to the login page and a section to the account page and the admin
//! account view (`pages.rs`, with `passkeys.js`); its own tables are in `migrations/`,
//! numbered like a feature's.

pub mod api;
pub mod flows;
pub mod notices;
pub mod pages;
pub mod settings;
pub mod store;

use webauthn_rs::Webauthn;

use crate::config::Profile;
use crate::feature::hooks::SecondFactor;
use crate::prelude::*;
use crate::sessions::ClientInfo;
use settings::{Fallback, PasskeySettings, Raw};

/// The part's name: its audit events, its way to sign in and its export key.
pub const NAME: &str = "passkeys";

pub struct Passkeys;

/// What the part keeps in the app's registry.
pub struct PasskeysState {
    pub settings: PasskeySettings,
    /// The relying party; `None` while passkeys are off.
    pub webauthn: Option<Webauthn>,
    /// When this instance last dropped expired ceremonies (unix seconds).
    pub(crate) last_pruned: std::sync::atomic::AtomicI64,
}

/// The part's state; an error only in an app state opened without its parts.
pub fn state(app: &App) -> Result<&PasskeysState, AppError> {
    app.registry
        .get::<PasskeysState>()
        .ok_or_else(|| AppError::internal("passkeys", "the part was not started"))
}

fn enabled(app: &App) -> Result<bool, AppError> {
    Ok(state(app)?.webauthn.is_some())
}

/// `public_url` as configured, read beside the part's own keys.
#[derive(Serialize, Deserialize, Default)]
struct PublicUrl {
    public_url: Option<String>,
}

fn read_settings(setup: &Setup<'_>) -> Result<PasskeySettings, ConfigError> {
    let raw = setup.gatehouse(Raw::defaults(setup.profile()))?;
    let public_url = setup.gatehouse(PublicUrl::default())?.public_url;
    let port = setup.figment.extract_inner::<u16>("port").unwrap_or(8000);
    let fallback = Fallback {
        public_url: public_url.as_deref(),
        port,
    };
    PasskeySettings::from_raw(raw, setup.profile(), fallback)
}

/// The part's errors, each with its JSON code.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// Every refused assertion gets this one answer, whatever was wrong with it.
    #[error("the passkey was not accepted")]
    Refused,
    #[error("this passkey request has expired or was used; start again")]
    UnknownChallenge,
    #[error("this account has {0} passkeys, the most it may have; remove one first")]
    TooMany(u32),
    #[error("this passkey is registered already")]
    Known,
    #[error("this account has no passkey")]
    NoPasskey,
}

impl FeatureError for PasskeyError {
    fn status(&self) -> Status {
        match self {
            PasskeyError::Refused => Status::Unauthorized,
            PasskeyError::UnknownChallenge => Status::BadRequest,
            PasskeyError::TooMany(_) | PasskeyError::Known | PasskeyError::NoPasskey => {
                Status::Conflict
            }
        }
    }

    fn code(&self) -> &'static str {
        match self {
            PasskeyError::Refused => "passkey_refused",
            PasskeyError::UnknownChallenge => "invalid_challenge",
            PasskeyError::TooMany(_) => "passkey_limit_reached",
            PasskeyError::Known => "passkey_known",
            PasskeyError::NoPasskey => "no_passkey",
        }
    }
}

#[rocket::async_trait]
impl Feature for Passkeys {
    fn name(&self) -> &'static str {
        NAME
    }

    fn gatehouse_settings(&self, profile: Profile) -> Value {
        serde_json::to_value(Raw::defaults(profile)).unwrap_or(Value::Null)
    }

    fn stage(&self, setup: &Setup<'_>) -> Result<AdHoc, ConfigError> {
        let settings = read_settings(setup)?;
        let pages = setup.pages;
        Ok(AdHoc::on_ignite("Passkeys", move |rocket| async move {
            if let Some(reason) = &settings.off_because {
                log::warn!("{reason}");
            }
            if !settings.enabled {
                return rocket;
            }
            let rocket = rocket
                .mount("/api/auth", api::routes())
                .mount("/api/admin", api::admin_routes());
            if pages {
                rocket.mount("/", pages::routes())
            } else {
                rocket
            }
        }))
    }

    fn migrator(&self, backend: Backend) -> Option<Migrator> {
        Some(match backend {
            Backend::Sqlite => sqlx::migrate!("src/parts/passkeys/migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("src/parts/passkeys/migrations/postgres"),
        })
    }

    fn openapi(&self, setup: &Setup<'_>) -> Option<utoipa::openapi::OpenApi> {
        use utoipa::OpenApi;
        let on = read_settings(setup).is_ok_and(|settings| settings.enabled);
        on.then(api::PasskeysApi::openapi)
    }

    fn start(&self, setup: &Setup<'_>, registry: &mut Registry) -> Result<(), ConfigError> {
        let settings = read_settings(setup)?;
        let webauthn = if settings.enabled {
            Some(settings.relying_party()?)
        } else {
            None
        };
        registry.insert(PasskeysState {
            settings,
            webauthn,
            last_pruned: std::sync::atomic::AtomicI64::new(0),
        });
        Ok(())
    }

    fn command(&self) -> Option<clap::Command> {
        let login = || {
            clap::Arg::new("login")
                .required(true)
                .help("A username or an email, as at login")
        };
        Some(
            clap::Command::new(NAME)
                .about("The passkeys of accounts")
                .subcommand_required(true)
                .arg(
                    clap::Arg::new("database_url")
                        .long("database-url")
                        .global(true)
                        .value_name("URL")
                        .help("The database URL (default: DATABASE_URL, else Rocket.toml's)"),
                )
                .subcommand(
                    clap::Command::new("list")
                        .about("List an account's passkeys: id, name, created, last used")
                        .arg(login()),
                )
                .subcommand(
                    clap::Command::new("remove-all")
                        .about("Remove every passkey of an account (audited; it gets a notice)")
                        .arg(login()),
                ),
        )
    }

    async fn run_command(
        &self,
        app: &App,
        _setup: &Setup<'_>,
        matches: &clap::ArgMatches,
    ) -> Result<(), AppError> {
        let Some((command, args)) = matches.subcommand() else {
            return Ok(());
        };
        let login = args.get_one::<String>("login").map_or("", String::as_str);
        let account = crate::admin::find_account_by_login(app, login)
            .await
            .map_err(|error| match error {
                AppError::NotFound => AppError::Bare {
                    status: Status::NotFound,
                    message: format!(
                        "No account has the username or email {}.",
                        crate::text::shown(login)
                    ),
                },
                other => other,
            })?;
        let client = ClientInfo::default();
        match command {
            "list" => {
                let rows = flows::list(app, account.id).await?;
                if rows.is_empty() {
                    println!("{} has no passkeys.", crate::text::shown(&account.username));
                }
                for row in rows {
                    let used = row.last_used_at.map_or_else(
                        || "never".to_string(),
                        |at| format!("{} UTC", utc_minute(at)),
                    );
                    println!(
                        "{}\t{}\tcreated {} UTC\tlast used {}",
                        row.id,
                        crate::text::shown(&row.name),
                        utc_minute(row.created_at),
                        used
                    );
                }
            }
            "remove-all" => {
                let actor = crate::admin::Actor::Operator;
                let removed = flows::remove_all_for(app, &actor, account.id, &client).await?;
                println!("Removed {}.", flows::passkeys(removed));
            }
            _ => {}
        }
        Ok(())
    }

    fn second_factor(&self) -> Option<&'static dyn SecondFactor> {
        Some(&PasskeyFactor)
    }

    /// Not on the admin view: its section has no button, and that page shows text
    /// other people chose.
    fn page_script(&self, slot: Slot) -> Option<&'static str> {
        (slot != Slot::AdminAccountView).then(pages::script_path)
    }

    async fn section(
        &self,
        app: &App,
        slot: Slot,
        context: &SectionContext<'_>,
    ) -> Result<Option<String>, AppError> {
        if !enabled(app)? {
            return Ok(None);
        }
        pages::section(app, slot, context).await
    }

    async fn signs_in(&self, app: &App, account: &AccountRow) -> Result<bool, AppError> {
        Ok(enabled(app)? && flows::has_passkeys(app, account.id).await?)
    }

    /// Names and dates of the account's passkeys; never key material.
    async fn export(&self, app: &App, account: &AccountRow) -> Result<Option<Value>, AppError> {
        let rows = flows::list(app, account.id).await?;
        Ok(Some(flows::exported(&rows)))
    }
}

/// Passkeys as a second factor: never due by themselves (adding one does not make
/// password logins two-step), but they complete a pending login, and prove the
/// holder at re-authentication.
struct PasskeyFactor;

#[rocket::async_trait]
impl SecondFactor for PasskeyFactor {
    fn method(&self) -> &'static str {
        "passkey"
    }

    async fn is_due(&self, _app: &App, _account: &AccountRow) -> Result<bool, AppError> {
        Ok(false)
    }

    async fn completes_pending(&self, app: &App, account: &AccountRow) -> Result<bool, AppError> {
        Ok(enabled(app)? && flows::has_passkeys(app, account.id).await?)
    }

    async fn prove_holder_by_ceremony(
        &self,
        app: &App,
        account: &AccountRow,
        session_id: &str,
        challenge_id: &str,
        response: &Value,
        client: &ClientInfo,
    ) -> Result<Option<&'static str>, AppError> {
        if !enabled(app)? {
            return Ok(None);
        }
        let purpose = flows::Purpose::Reauthenticate;
        flows::finish_for_account(
            app,
            account.id,
            session_id,
            purpose,
            challenge_id,
            response,
            client,
        )
        .await?;
        Ok(Some("passkey"))
    }
}
