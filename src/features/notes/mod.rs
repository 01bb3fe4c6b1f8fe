//! Notes: each account's private notes, written the way a feature of your own is.
//! Read it in this order:
//! - `migrations/`: its tables, one folder per backend, numbered by timestamp;
//! - [`model`]: the row, the rules a note follows, and its SQL (scoped by account);
//! - [`flows`]: what can be done with notes, free of HTTP, and the feature's errors;
//! - [`api`]: `/api/notes`, JSON behind the `AuthAccount` guard;
//! - [`pages`]: `/notes`, behind the `SignedIn` page guard, with `CsrfForm` forms;
//! - this file: the settings section and the registration of it all ([`Notes`]);
//! - `tests.rs`: its tests, run by `cargo test` beside Gatehouse's own.

pub mod api;
pub mod flows;
pub mod model;
pub mod pages;

use crate::prelude::*;

/// The feature, as `src/features/mod.rs` registers it.
pub struct Notes;

/// `[default.notes]` in Rocket.toml; `GATEHOUSE_NOTES__MAX_PER_ACCOUNT` overrides.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotesSettings {
    /// The most notes one account may keep: storage stays bounded per account.
    pub max_per_account: u32,
}

impl Default for NotesSettings {
    fn default() -> Self {
        NotesSettings {
            max_per_account: 1000,
        }
    }
}

const NAME: &str = "notes";

#[rocket::async_trait]
impl Feature for Notes {
    fn name(&self) -> &'static str {
        NAME
    }

    fn stage(&self, setup: &Setup<'_>) -> Result<AdHoc, ConfigError> {
        let settings: NotesSettings = setup.section(NAME)?;
        if !(1..=1_000_000).contains(&settings.max_per_account) {
            return Err(setup.invalid(NAME, "max_per_account", "must be from 1 to 1000000"));
        }
        let pages = setup.pages;
        Ok(AdHoc::on_ignite("Notes", move |rocket| async move {
            let rocket = rocket.manage(settings).mount("/api/notes", api::routes());
            if pages {
                rocket.mount("/", pages::routes())
            } else {
                rocket
            }
        }))
    }

    fn openapi(&self, _setup: &Setup<'_>) -> Option<utoipa::openapi::OpenApi> {
        use utoipa::OpenApi;
        Some(api::NotesApi::openapi())
    }

    fn default_settings(&self) -> serde_json::Value {
        serde_json::json!(NotesSettings::default())
    }

    fn migrator(&self, backend: Backend) -> Option<Migrator> {
        Some(match backend {
            Backend::Sqlite => sqlx::migrate!("src/features/notes/migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("src/features/notes/migrations/postgres"),
        })
    }

    fn nav_link(&self) -> Option<NavLink> {
        Some(NavLink {
            label: "Notes",
            href: "/notes",
        })
    }

    fn command(&self) -> Option<clap::Command> {
        let export = clap::Command::new("export")
            .about("Print an account's notes as JSON lines, newest first")
            .arg(
                clap::Arg::new("login")
                    .required(true)
                    .help("A username or an email, as at login"),
            );
        Some(
            clap::Command::new(NAME)
                .about("The notes of accounts")
                .subcommand_required(true)
                .arg(
                    clap::Arg::new("database_url")
                        .long("database-url")
                        .global(true)
                        .value_name("URL")
                        .help("The database URL (default: DATABASE_URL, else Rocket.toml's)"),
                )
                .subcommand(export),
        )
    }

    /// The account's notes, newest first, for its export.
    async fn export(&self, app: &App, account: &AccountRow) -> Result<Option<Value>, AppError> {
        let notes = flows::all(app, account.id).await?;
        Ok(Some(serde_json::json!(notes)))
    }

    async fn run_command(
        &self,
        app: &App,
        _setup: &Setup<'_>,
        matches: &clap::ArgMatches,
    ) -> Result<(), AppError> {
        let Some(("export", export)) = matches.subcommand() else {
            return Ok(());
        };
        let login = export.get_one::<String>("login").map_or("", String::as_str);
        let account = match crate::admin::find_account_by_login(app, login).await {
            Err(AppError::NotFound) => Err(flows::NoteError::NoSuchAccount(login.into()).into()),
            other => other,
        }?;
        for note in flows::all(app, account.id).await? {
            let line = serde_json::to_string(&note)
                .map_err(|e| AppError::internal("writing a note as JSON", e))?;
            println!("{line}");
        }
        Ok(())
    }
}
