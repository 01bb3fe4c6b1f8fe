//! The command line of the `gatehouse` binary: `gatehouse` or `gatehouse serve` runs
//! the server, and one file here per group of commands does the rest (`accounts.rs`:
//! `create-superuser` and `accounts …`; `keys.rs`; `mail.rs`; `maintenance.rs`:
//! `migrate`, `prune`, `doctor`). This file parses, opens the app the same way for
//! each, and prints failures.
//!
//! Every failure prints one sentence on stderr and exits 1 (2 for a usage error).

use std::fmt::Write as _;
use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use rocket::figment::providers::Serialized;
use rocket::figment::Figment;

use crate::accounts::{AccountDetail, AccountRow};
use crate::admin::{self, Actor, Paging};
use crate::app::App;
use crate::auth::{self, Registration};
use crate::clock::SystemClock;
use crate::config::DATABASE_NAME;
use crate::db;
use crate::error::AppError;
use crate::sessions::ClientInfo;
use crate::text::shown;

mod accounts;
mod keys;
mod mail;
mod maintenance;

use accounts::{accounts, create_superuser, AccountsCommand, CreateSuperuser};
use keys::{keys, KeysCommand};
use mail::{mail, MailCommand};
use maintenance::{doctor, migrate, prune};

#[derive(Parser)]
#[command(
    name = env!("CARGO_PKG_NAME"),
    version,
    about = env!("CARGO_PKG_DESCRIPTION")
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (the default).
    Serve,
    /// Create an account that is staff and superuser; prompts for what is not given.
    CreateSuperuser(CreateSuperuser),
    /// Administer accounts (LOGIN is a username or an email, as at login).
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Mail: check the configured transport.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Apply the database migrations (Gatehouse's, then the features'), and say which;
    /// for instances run with migrate_on_start = false (rolling upgrades).
    Migrate {
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// The key pairs that sign access tokens (EdDSA or ES256): list, rotate, retire.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Delete sessions that ended more than ended_session_retention ago and audit
    /// events older than audit_retention (the server also does it every
    /// prune_interval).
    Prune {
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Check what a changed secret broke: accounts whose TOTP secret no longer opens
    /// under two_factor_key, and signing keys that no longer unseal under
    /// signing_key_secret. Exits 1 when it finds any.
    Doctor {
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Args)]
struct DatabaseArg {
    /// The database URL (default: DATABASE_URL, else Rocket.toml's
    /// databases.gatehouse.url).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
}

/// A failed command: the sentence printed after `gatehouse: `.
struct Failure(String);

impl From<AppError> for Failure {
    fn from(error: AppError) -> Failure {
        Failure(describe(&error))
    }
}

type CliResult = Result<(), Failure>;

/// Parses the arguments and runs the chosen command: one of Gatehouse's, or a
/// feature's (named after the feature, see [`crate::feature::Feature::command`]).
pub async fn run() -> ExitCode {
    let features = crate::installed();
    let mut command = Cli::command();
    for feature in &features {
        if let Some(sub) = feature.command() {
            command = command.subcommand(sub.name(feature.name()));
        }
    }
    let matches = command.get_matches();
    if let Some((name, sub_matches)) = matches.subcommand() {
        if let Some(feature) = features.iter().find(|f| f.name() == name) {
            return finish(run_feature(*feature, sub_matches).await);
        }
    }
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => return serve().await,
        Command::CreateSuperuser(args) => create_superuser(args).await,
        Command::Accounts { command, database } => accounts(command, database).await,
        Command::Prune { database } => prune(database).await,
        Command::Keys { command, database } => keys(command, database).await,
        Command::Migrate { database } => migrate(database).await,
        Command::Mail { command, database } => mail(command, database).await,
        Command::Doctor { database } => doctor(database).await,
    };
    finish(outcome)
}

fn finish(outcome: CliResult) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("{}: {}", env!("CARGO_PKG_NAME"), capitalised(&message));
            ExitCode::FAILURE
        }
    }
}

/// Runs a feature's subcommand on the app opened like `accounts` opens it; the
/// database URL comes from `--database-url` if the feature's command declares it.
async fn run_feature(feature: &dyn crate::feature::Feature, matches: &ArgMatches) -> CliResult {
    let database = DatabaseArg {
        database_url: matches
            .try_get_one::<String>("database_url")
            .ok()
            .flatten()
            .cloned(),
    };
    let (app, figment) = open_app_with_figment(&database).await?;
    let setup = crate::feature::Setup {
        figment: &figment,
        settings: &app.settings,
        pages: app.settings.accepts(crate::config::TokenLocation::Cookie),
    };
    Ok(feature.run_command(&app, &setup, matches).await?)
}

async fn serve() -> ExitCode {
    let mut figment = crate::figment();
    // Logging is set up before Rocket starts, or Rocket installs its own logger.
    if let Ok(settings) = crate::settings(&figment) {
        let format = settings.observability.log_format;
        if format == crate::config::LogFormat::Json {
            figment = figment.merge(("cli_colors", false));
        }
        let level = figment
            .extract_inner::<rocket::config::LogLevel>("log_level")
            .unwrap_or(rocket::config::LogLevel::Normal);
        if let Err(error) = crate::logs::init(format, level) {
            eprintln!(
                "{}: {}",
                env!("CARGO_PKG_NAME"),
                capitalised(&error.to_string())
            );
        }
    }
    let rocket = match crate::rocket(figment) {
        Ok(rocket) => rocket,
        Err(error) => {
            eprintln!(
                "{}: {}",
                env!("CARGO_PKG_NAME"),
                capitalised(&error.to_string())
            );
            return ExitCode::FAILURE;
        }
    };
    match rocket.launch().await {
        Ok(stopped) => {
            // Every request in flight has been answered (or the grace period is
            // over): now the connections can go.
            if let Some(app) = stopped.state::<App>() {
                app.pool().close().await;
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            // Rocket has already logged the details (a failed fairing names itself);
            // `pretty_print` marks the error handled so it does not panic on drop.
            error.pretty_print();
            eprintln!(
                "{}: the server could not start: {error}",
                env!("CARGO_PKG_NAME")
            );
            ExitCode::FAILURE
        }
    }
}

/// The app state without the server: settings, the migrated database and the hasher.
async fn open_app(database: &DatabaseArg) -> Result<App, Failure> {
    Ok(open_app_with_figment(database).await?.0)
}

/// [`open_app`], and the figment it was read from (a feature reads its section there).
async fn open_app_with_figment(database: &DatabaseArg) -> Result<(App, Figment), Failure> {
    let (app, figment, _) = open_app_migrating(database).await?;
    Ok((app, figment))
}

/// [`open_app_with_figment`], and the versions of Gatehouse's migrations it applied.
async fn open_app_migrating(database: &DatabaseArg) -> Result<(App, Figment, Vec<i64>), Failure> {
    open_app_with(database, Secrets::RandomWhenMissing).await
}

/// Whether a command may run without the server's secrets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Secrets {
    /// Most commands sign no token and open no TOTP secret, so a missing key (an
    /// error in release) does not matter to them: a random one stands in.
    RandomWhenMissing,
    /// `doctor` checks the secrets themselves: they must be the server's.
    AsConfigured,
}

async fn open_app_with(
    database: &DatabaseArg,
    secrets: Secrets,
) -> Result<(App, Figment, Vec<i64>), Failure> {
    let mut figment: Figment = crate::figment();
    if let Some(url) = &database.database_url {
        figment = figment.merge((format!("databases.{DATABASE_NAME}.url"), url));
    }
    for key in [
        "gatehouse.secret",
        "gatehouse.two_factor_key",
        "gatehouse.signing_key_secret",
    ] {
        if secrets == Secrets::RandomWhenMissing && !figment.contains(key) {
            figment = figment.merge((key, crate::random::token(48)));
        }
    }
    let settings = crate::settings(&figment).map_err(|e| Failure(e.to_string()))?;
    let config: rocket_db_pools::Config = figment
        .focus(&format!("databases.{DATABASE_NAME}"))
        .join(Serialized::default("max_connections", 2))
        .join(Serialized::default("connect_timeout", 5))
        .extract()
        .map_err(|e| {
            Failure(format!(
                "no usable database setting (give --database-url or set DATABASE_URL): {e}"
            ))
        })?;
    let pool = db::connect(&config).await.map_err(|e| {
        Failure(format!(
            "cannot open the database at {}: {e}",
            db::redact_url(&config.url)
        ))
    })?;
    let (app, pending) = crate::open(
        Arc::new(settings),
        &figment,
        pool,
        Arc::new(SystemClock),
        crate::Schema::Migrate,
    )
    .await
    .map_err(|e| Failure(format!("{e} (database {})", db::redact_url(&config.url))))?;
    Ok((app, figment, pending))
}

/// What the audit trail records as the client of a CLI action (a feature's too).
pub fn cli_client() -> ClientInfo {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    ClientInfo {
        user_agent: Some(format!("{}-cli ({user})", env!("CARGO_PKG_NAME"))),
        ip: None,
        request_id: None,
    }
}

/// `text` with its first letter in upper case: every failure is printed as a sentence.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The sentence for a flow's error: the table's sentence, the fields' problems for
/// a validation error, and the whole cause for one of ours (the operator may read it).
fn describe(error: &AppError) -> String {
    if error.is_internal() {
        return error.with_causes();
    }
    let mut text = error.sentence();
    // A taken name's sentence says it all; the fields of a validation error add what.
    let fields = match error {
        AppError::Taken(_) => None,
        _ => error.fields(),
    };
    if let Some(fields) = fields.filter(|f| !f.is_empty()) {
        let problems: Vec<String> = fields
            .iter()
            .map(|(field, problem)| format!("The {field} {problem}."))
            .collect();
        text = format!("{} {}", text, problems.join(" "));
    }
    text
}

/// Reads answers from the terminal or, when standard input is not one, from its lines.
struct Input {
    interactive: bool,
}

impl Input {
    fn new() -> Input {
        Input {
            interactive: std::io::stdin().is_terminal(),
        }
    }

    /// One answer; `flag` names the option that gives it without asking.
    fn line(&mut self, prompt: &str, flag: &str) -> Result<String, Failure> {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let read = std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| Failure(format!("cannot read standard input: {e}")))?;
        if !self.interactive && read > 0 {
            // Piped input is not echoed: end the prompt's line so the next one starts
            // on its own.
            eprintln!();
        }
        if read == 0 {
            eprintln!();
            return Err(Failure(format!(
                "no answer to {:?} (end of input); give {flag}",
                prompt.trim_end_matches([' ', ':'])
            )));
        }
        Ok(strip_newline(answer))
    }

    /// A password typed twice, hidden on a terminal.
    fn new_password(&mut self) -> Result<String, Failure> {
        let first = self.secret("Password: ")?;
        let second = self.secret("Password (again): ")?;
        if first != second {
            return Err(Failure(
                "the two passwords do not match; nothing was changed".into(),
            ));
        }
        Ok(first)
    }

    fn secret(&mut self, prompt: &str) -> Result<String, Failure> {
        if self.interactive {
            rpassword::prompt_password(prompt)
                .map_err(|e| Failure(format!("cannot read the password: {e}")))
        } else {
            self.line(prompt, "--password-stdin")
        }
    }

    /// The first line of standard input, for `--password-stdin`.
    fn password_from_stdin(&mut self) -> Result<String, Failure> {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure(format!("cannot read the password from standard input: {e}")))?;
        let password = strip_newline(text.lines().next().unwrap_or("").to_string());
        if password.is_empty() {
            return Err(Failure("standard input holds no password".into()));
        }
        Ok(password)
    }
}

fn strip_newline(mut text: String) -> String {
    while text.ends_with(['\n', '\r']) {
        text.pop();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kid_beginning_with_a_hyphen_is_a_kid() {
        let cli = Cli::try_parse_from(["gatehouse", "keys", "retire", "-4LcH-74fZ"]).unwrap();
        match cli.command {
            Some(Command::Keys {
                command: KeysCommand::Retire { kid },
                ..
            }) => assert_eq!(kid, "-4LcH-74fZ"),
            _ => panic!("not a retire command"),
        }
    }
}
