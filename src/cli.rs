//! The command line of the `gatehouse` binary: `gatehouse` or `gatehouse serve` runs
//! the server; `create-superuser` bootstraps the first admin; `accounts …` administers
//! accounts from a terminal. The admin commands share the flows of [`crate::admin`]
//! with the admin API and act as the trusted `Operator`.
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

#[derive(Subcommand)]
enum MailCommand {
    /// Send a test message to ADDRESS through the configured transport, now, and say
    /// how it went.
    Test { address: String },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Every signing key with its algorithm and state (signing, published, verifying,
    /// retired).
    List,
    /// Publish a new key now; it signs after jwks_max_age, and the current key keeps
    /// verifying until the tokens it signed have expired. Needs signing_key_secret.
    Rotate,
    /// End a key at once (compromised): it signs nothing more and its tokens stop
    /// verifying; a published key takes over, or the server makes a new one.
    Retire {
        /// A kid may begin with `-` (base64url): it is taken as the kid, not a flag.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

#[derive(Args)]
struct DatabaseArg {
    /// The database URL (default: DATABASE_URL, else Rocket.toml's
    /// databases.gatehouse.url).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(Args)]
struct CreateSuperuser {
    #[arg(long)]
    username: Option<String>,
    #[arg(long)]
    email: Option<String>,
    /// Read the password from standard input (one line) instead of prompting; for
    /// scripts, which must then give --username and --email.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    database: DatabaseArg,
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// List accounts with their roles and lock and block status.
    List {
        /// Only accounts whose username or email contains this (3 characters or more).
        #[arg(long, default_value = "")]
        search: String,
    },
    /// Block an account and sign it out everywhere.
    Block {
        login: String,
        /// Why (shown to admins, at most 500 characters).
        #[arg(long)]
        reason: String,
    },
    /// Lift a block.
    Unblock { login: String },
    /// Clear the failed-login counter and any lock.
    Unlock { login: String },
    /// Set a new password (prompted twice) and sign the account out everywhere.
    SetPassword {
        login: String,
        /// Read the password from standard input (one line) instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Switch two-factor authentication off for a user who lost their device.
    #[command(name = "disable-2fa")]
    DisableTwoFactor { login: String },
    /// Give or take the staff and superuser roles (the last superuser keeps theirs).
    #[command(group(clap::ArgGroup::new("role").required(true).multiple(true)))]
    SetRole {
        login: String,
        #[arg(long, group = "role", conflicts_with = "no_staff")]
        staff: bool,
        #[arg(long, group = "role")]
        no_staff: bool,
        #[arg(long, group = "role", conflicts_with = "no_superuser")]
        superuser: bool,
        #[arg(long, group = "role")]
        no_superuser: bool,
    },
    /// Mark an account's email address verified by hand.
    VerifyEmail { login: String },
    /// Delete an account and its sessions (asks to confirm on a terminal).
    Delete {
        login: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
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
    let features = crate::features::all();
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
    if let Ok(settings) = crate::config::Settings::from_figment(&figment) {
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

async fn mail(command: MailCommand, database: DatabaseArg) -> CliResult {
    let MailCommand::Test { address } = command;
    let to: lettre::message::Mailbox = address
        .trim()
        .parse()
        .map_err(|_| Failure(format!("{:?} is not an email address", shown(&address))))?;
    let app = open_app(&database).await?;
    let brand = crate::config::brand();
    let public_url = &app.settings.mail.public_url;
    let letter = crate::mail::Letter::render(
        to,
        format!("Test message from {brand}"),
        "test",
        None,
        &crate::mail::TestText {
            app: &brand,
            public_url,
        },
        &crate::mail::TestHtml {
            app: &brand,
            public_url,
        },
    )
    .map_err(|e| Failure(format!("the test message could not be rendered: {e}")))?;
    match app.outbox.send_now(letter).await {
        Ok(crate::mail::Delivered::Smtp) => {
            println!(
                "Sent a test message to {} through SMTP.",
                shown(address.trim())
            );
            Ok(())
        }
        Ok(crate::mail::Delivered::File(path)) => {
            println!(
                "Wrote a test message to {} into {path}.",
                shown(address.trim())
            );
            Ok(())
        }
        Err(error) => Err(Failure(format!("the test message was not sent: {error}"))),
    }
}

async fn prune(database: DatabaseArg) -> CliResult {
    let app = open_app(&database).await?;
    let pruned = crate::pruning::prune(app.pool(), &app.settings.bounds, app.now())
        .await
        .map_err(AppError::from)?;
    println!("{}", pruned.summary());
    Ok(())
}

async fn keys(command: KeysCommand, database: DatabaseArg) -> CliResult {
    use crate::tokens::{keyring, signing_keys};
    // Checked before `open_app` fills missing secrets with random ones (debug runs
    // have the development secret the server shares, see `config::dev_secrets`).
    let sealing_configured = crate::figment()
        .extract_inner::<String>("gatehouse.signing_key_secret")
        .is_ok_and(|secret| !secret.trim().is_empty());
    let app = open_app(&database).await?;
    let now = app.now();
    match command {
        KeysCommand::List => {
            let keys = signing_keys::all(app.pool())
                .await
                .map_err(AppError::from)?;
            if keys.is_empty() {
                println!("no signing keys yet (the server makes the first at its start)");
            }
            for key in keys {
                println!(
                    "{}  {:<5}  {}",
                    key.kid,
                    key.algorithm,
                    key_state(&key, now)
                );
            }
            Ok(())
        }
        KeysCommand::Rotate => {
            if !sealing_configured {
                return Err(Failure(format!(
                    "rotating needs the server's signing_key_secret (set {}SIGNING_KEY_SECRET), \
                     which seals the new key so the server can use it",
                    crate::config::ENV_PREFIX
                )));
            }
            let rotation =
                keyring::rotate(app.pool(), &app.settings.tokens, app.keys.sealer(), now)
                    .await
                    .map_err(Failure)?;
            println!(
                "published {}; it signs from {} UTC (after jwks_max_age), and the keys it \
                 replaces verify until {} UTC",
                rotation.kid,
                crate::clock::utc_minute(rotation.signs_from),
                crate::clock::utc_minute(rotation.old_keys_verify_until)
            );
            for kid in rotation.superseded {
                println!("{kid}, published by an earlier rotation, will never sign: replaced");
            }
            Ok(())
        }
        KeysCommand::Retire { kid } => {
            if !signing_keys::retire(app.pool(), &kid, now)
                .await
                .map_err(AppError::from)?
            {
                return Err(Failure(format!(
                    "no key {kid} is in use (see `{} keys list`)",
                    env!("CARGO_PKG_NAME")
                )));
            }
            println!(
                "retired {kid}: it signs nothing more and its tokens no longer verify (running \
                 instances follow within {} seconds)",
                keyring::RELOAD_SECONDS
            );
            Ok(())
        }
    }
}

/// Checks what a changed secret broke; run with the secrets the server has, never
/// with random ones (a random key would open nothing).
async fn doctor(database: DatabaseArg) -> CliResult {
    let (app, _, _) = open_app_with(&database, Secrets::AsConfigured).await?;
    let settings = &app.settings;
    // A secret the setup does not need is not checked; one it needs must be given.
    let check_two_factor = !settings.two_factor.two_factor_key_is_ephemeral;
    let check_keys = !settings.tokens.signing_key_secret_is_ephemeral;
    for (given, needed, name) in [
        (
            check_two_factor,
            settings.two_factor.two_factor_enabled,
            "TWO_FACTOR_KEY",
        ),
        (
            check_keys,
            settings.tokens.access_token_algorithm.is_asymmetric(),
            "SIGNING_KEY_SECRET",
        ),
    ] {
        if needed && !given {
            return Err(Failure(format!(
                "{}{name} is not set, so there is nothing to check against. Give the doctor \
                 the server's settings.",
                crate::config::ENV_PREFIX
            )));
        }
    }
    let now = app.now();
    let mut problems = 0;
    let accounts = if check_two_factor {
        crate::two_factor::unopenable_secrets(&app).await?
    } else {
        println!("Two-factor: off, and no two_factor_key is set; not checked.");
        Vec::new()
    };
    if check_two_factor && accounts.is_empty() {
        println!("Two-factor: every enrolled account's TOTP secret opens under two_factor_key.");
    }
    for (id, username) in &accounts {
        problems += 1;
        println!(
            "Two-factor: the TOTP secret of {} (id {id}) does not open under two_factor_key; \
             restore the key it was sealed with, or run `{} accounts disable-2fa {}`.",
            shown(username),
            env!("CARGO_PKG_NAME"),
            shown(username),
        );
    }
    if !check_keys {
        println!("Signing keys: tokens are HS256, and no signing_key_secret is set; not checked.");
    }
    let keys = if check_keys {
        crate::tokens::keyring::unsealable(app.pool(), app.keys.sealer(), now)
            .await
            .map_err(AppError::from)?
    } else {
        Vec::new()
    };
    if check_keys && keys.is_empty() {
        println!("Signing keys: every key that may sign unseals under signing_key_secret.");
    }
    for key in &keys {
        problems += 1;
        println!(
            "Signing keys: {} ({}) does not unseal under signing_key_secret; give the server \
             the secret it was sealed with, or run `{} keys retire {}`.",
            key.kid,
            key.algorithm,
            env!("CARGO_PKG_NAME"),
            key.kid,
        );
    }
    if problems > 0 {
        return Err(Failure(format!(
            "{problems} problem{} found.",
            if problems == 1 { "" } else { "s" }
        )));
    }
    println!("No problems found.");
    Ok(())
}

/// A key's state at `now`, in words.
fn key_state(key: &crate::tokens::signing_keys::SigningKeyRow, now: i64) -> String {
    use crate::clock::utc_minute;
    if !key.verifies_at(now) {
        return format!(
            "retired {} UTC",
            utc_minute(key.verifies_until.unwrap_or(now))
        );
    }
    if key.signs_at(now) {
        return format!("signing since {} UTC", utc_minute(key.signs_from));
    }
    if key.pending_at(now) {
        return format!("published, signs from {} UTC", utc_minute(key.signs_from));
    }
    match key.verifies_until {
        Some(until) => format!("verifying until {} UTC", utc_minute(until)),
        None => "verifying".into(),
    }
}

async fn migrate(database: DatabaseArg) -> CliResult {
    let (_, _, applied) = open_app_migrating(&database).await?;
    if applied.is_empty() {
        println!("the schema is up to date: nothing to apply");
    } else {
        let versions: Vec<String> = applied.iter().map(i64::to_string).collect();
        println!(
            "applied migrations {}; the schema is up to date",
            versions.join(", ")
        );
    }
    Ok(())
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

async fn create_superuser(args: CreateSuperuser) -> CliResult {
    if args.password_stdin && (args.username.is_none() || args.email.is_none()) {
        return Err(Failure(
            "--password-stdin needs --username and --email, since standard input holds the password"
                .into(),
        ));
    }
    // Open the database first, so a wrong URL fails before any typing.
    let app = open_app(&args.database).await?;
    let mut input = Input::new();
    let username = match args.username {
        Some(username) => username,
        None => input.line("Username: ", "--username")?,
    };
    let email = match args.email {
        Some(email) => email,
        None => input.line("Email: ", "--email")?,
    };
    let password = if args.password_stdin {
        input.password_from_stdin()?
    } else {
        input.new_password()?
    };
    let registration = Registration {
        username: &username,
        email: &email,
        password: &password,
        display_name: None,
        redirect_to: None,
    };
    let account = auth::create_account(&app, &registration, true, None, &cli_client()).await?;
    println!(
        "Superuser {} <{}> created (id {}).",
        shown(&account.username),
        shown(&account.email),
        account.id
    );
    Ok(())
}

async fn accounts(command: AccountsCommand, database: DatabaseArg) -> CliResult {
    let app = open_app(&database).await?;
    let client = cli_client();
    let operator = Actor::Operator;
    match command {
        AccountsCommand::List { search } => list_accounts(&app, &search).await,
        AccountsCommand::Block { login, reason } => {
            admin::check_block_reason(&reason)?;
            let target = find(&app, &login).await?;
            admin::block(&app, &operator, target.id, &reason, &client).await?;
            println!(
                "Blocked {} (id {}); its sessions are revoked.",
                shown(&target.username),
                target.id
            );
            Ok(())
        }
        AccountsCommand::Unblock { login } => {
            let target = find(&app, &login).await?;
            admin::unblock(&app, &operator, target.id, &client).await?;
            println!("Unblocked {} (id {}).", shown(&target.username), target.id);
            Ok(())
        }
        AccountsCommand::Unlock { login } => {
            let target = find(&app, &login).await?;
            admin::unlock(&app, &operator, target.id, &client).await?;
            println!(
                "Unlocked {} (id {}); its failed-login counter is cleared.",
                shown(&target.username),
                target.id
            );
            Ok(())
        }
        AccountsCommand::SetPassword {
            login,
            password_stdin,
        } => {
            let target = find(&app, &login).await?;
            let mut input = Input::new();
            let password = if password_stdin {
                input.password_from_stdin()?
            } else {
                input.new_password()?
            };
            admin::set_password(&app, &operator, target.id, &password, &client).await?;
            println!(
                "Password of {} (id {}) set; its sessions are revoked.",
                shown(&target.username),
                target.id
            );
            Ok(())
        }
        AccountsCommand::DisableTwoFactor { login } => {
            let target = find(&app, &login).await?;
            admin::reset_two_factor(&app, &operator, target.id, &client).await?;
            println!(
                "Two-factor authentication of {} (id {}) is off; the next login needs the password only.",
                shown(&target.username), target.id
            );
            Ok(())
        }
        AccountsCommand::SetRole {
            login,
            staff,
            no_staff,
            superuser,
            no_superuser,
        } => {
            let target = find(&app, &login).await?;
            let chosen = |on: bool, off: bool| (on || off).then_some(on);
            let change = admin::FlagChange {
                is_active: None,
                is_staff: chosen(staff, no_staff),
                is_superuser: chosen(superuser, no_superuser),
            };
            let detail = admin::update_flags(&app, &operator, target.id, change, &client).await?;
            let row = &detail.account;
            let roles = match (row.is_staff, row.is_superuser) {
                (true, true) => "staff and superuser",
                (false, true) => "superuser (not staff)",
                (true, false) => "staff",
                (false, false) => "a regular account",
            };
            println!(
                "{} (id {}) is now {roles}.",
                shown(&target.username),
                target.id
            );
            Ok(())
        }
        AccountsCommand::VerifyEmail { login } => {
            let target = find(&app, &login).await?;
            if crate::email::verification::verify_by_hand(&app, &target, &client).await? {
                println!(
                    "The address of {} (id {}) is verified.",
                    shown(&target.username),
                    target.id
                );
            } else {
                println!(
                    "The address of {} (id {}) was verified already.",
                    shown(&target.username),
                    target.id
                );
            }
            Ok(())
        }
        AccountsCommand::Delete { login, yes } => {
            let target = find(&app, &login).await?;
            if !yes && std::io::stdin().is_terminal() {
                let question = format!(
                    "Delete {} <{}> (id {}) and all its sessions? [y/N] ",
                    shown(&target.username),
                    shown(&target.email),
                    target.id
                );
                let answer = Input::new().line(&question, "--yes")?;
                if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES") {
                    return Err(Failure("nothing deleted".into()));
                }
            }
            admin::delete(&app, &operator, target.id, &client).await?;
            println!("Deleted {} (id {}).", shown(&target.username), target.id);
            Ok(())
        }
    }
}

async fn find(app: &App, login: &str) -> Result<AccountRow, Failure> {
    match admin::find_account_by_login(app, login).await {
        Err(AppError::NotFound) => Err(Failure(format!(
            "no account has the username or email {login:?}"
        ))),
        other => Ok(other?),
    }
}

async fn list_accounts(app: &App, search: &str) -> CliResult {
    let mut rows: Vec<AccountDetail> = Vec::new();
    let page = Paging {
        page: 1,
        per_page: Paging::MAX_PER_PAGE,
    };
    let mut after = None;
    loop {
        let listing = match admin::list_accounts(app, search, page, after).await {
            Err(AppError::Validation(fields)) if fields.contains_key("q") => {
                return Err(Failure(format!("--search {}", fields["q"])));
            }
            listing => listing?,
        };
        after = listing.keyset.and_then(|keyset| keyset.next_after);
        rows.extend(listing.items);
        if after.is_none() {
            break;
        }
    }
    let mut table = vec![[
        "ID".to_string(),
        "USERNAME".into(),
        "EMAIL".into(),
        "ROLES".into(),
        "STATUS".into(),
    ]];
    for row in &rows {
        table.push([
            row.account.id.to_string(),
            shown(&row.account.username),
            shown(&row.account.email),
            roles(row),
            status(row),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|column| {
            table
                .iter()
                .map(|line| line[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in &table {
        let mut text = String::new();
        for (cell, width) in line.iter().zip(&widths) {
            let _ = write!(text, "{cell:<width$}  ");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    let _ = writeln!(out, "{} account(s)", rows.len());
    print!("{out}");
    Ok(())
}

fn roles(row: &AccountDetail) -> String {
    match (row.account.is_superuser, row.account.is_staff) {
        (true, _) => "superuser".into(),
        (false, true) => "staff".into(),
        (false, false) => "-".into(),
    }
}

fn status(row: &AccountDetail) -> String {
    let mut parts = vec![if row.account.is_active {
        "active".to_string()
    } else {
        "inactive".to_string()
    }];
    if row.blocked {
        parts.push(format!(
            "blocked: {}",
            shown(row.block_reason.as_deref().unwrap_or(""))
        ));
    }
    if row.two_factor_enabled {
        parts.push("2fa".into());
    }
    if row.locked {
        parts.push(match row.locked_until {
            Some(until) => format!("locked until {} UTC", crate::clock::utc_minute(until)),
            None => "locked until unlocked".into(),
        });
    } else if row.failed_logins > 0 {
        parts.push(format!("{} failed login(s)", row.failed_logins));
    }
    parts.join(", ")
}

/// User-supplied text as the terminal should see it: control, format and other
/// invisible characters escaped (`\n`, `\u{202e}`), so a stored value (from before
/// the rules that refuse them, or written straight into the database) cannot forge a
/// row of a listing, move the cursor or reorder what follows.
fn shown(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || crate::text::is_hidden(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
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
