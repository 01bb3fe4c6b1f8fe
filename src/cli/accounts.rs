//! `create-superuser` and `accounts …`: the admin flows of [`crate::admin`] from a
//! terminal, as the trusted `Operator`.

use super::*;

#[derive(Args)]
pub(super) struct CreateSuperuser {
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
pub(super) enum AccountsCommand {
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

pub(super) async fn create_superuser(args: CreateSuperuser) -> CliResult {
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

pub(super) async fn accounts(command: AccountsCommand, database: DatabaseArg) -> CliResult {
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

pub(super) async fn find(app: &App, login: &str) -> Result<AccountRow, Failure> {
    match admin::find_account_by_login(app, login).await {
        Err(AppError::NotFound) => Err(Failure(format!(
            "no account has the username or email {login:?}"
        ))),
        other => Ok(other?),
    }
}

pub(super) async fn list_accounts(app: &App, search: &str) -> CliResult {
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

pub(super) fn roles(row: &AccountDetail) -> String {
    match (row.account.is_superuser, row.account.is_staff) {
        (true, _) => "superuser".into(),
        (false, true) => "staff".into(),
        (false, false) => "-".into(),
    }
}

pub(super) fn status(row: &AccountDetail) -> String {
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
