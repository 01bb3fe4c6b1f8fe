//! The admin CLI, run as a process against each test's own database: bootstrapping a
//! superuser (flags, prompts on standard input and on a pseudo-terminal) and the
//! `accounts` commands, checked through the HTTP API.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use rocket::http::Status;
use serde_json::Value;

use crate::support::{assert_error, spawn_app_on, TestDatabase, PASSWORD};

/// The `gatehouse` binary with cheap hashing, pointed at `db` with `--database-url`.
pub fn gatehouse(db: &TestDatabase, args: &[&str]) -> Command {
    gatehouse_on(&db.url, args)
}

pub fn gatehouse_on(url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(crate::support::binary());
    command
        .args(args)
        .arg("--database-url")
        .arg(url)
        .env_remove("DATABASE_URL")
        .env("GATEHOUSE_ARGON2_MEMORY_KIB", "512")
        .env("GATEHOUSE_ARGON2_ITERATIONS", "1")
        .env("GATEHOUSE_MAIL_TRANSPORT", "none")
        .env(
            "GATEHOUSE_SIGNING_KEY_SECRET",
            crate::support::SIGNING_KEY_SECRET,
        );
    command
}

/// Runs the command with `input` on standard input.
pub fn run(mut command: Command, input: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the gatehouse binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the command failed with exit code 1 and a message containing `needle`.
pub fn assert_fails(output: &Output, needle: &str) {
    assert_eq!(output.status.code(), Some(1), "stderr: {}", stderr(output));
    let message = stderr(output);
    // A failure is printed as a sentence: a needle that starts it is capitalised.
    let mut first = needle.chars();
    let opening: String = first
        .next()
        .map(|c| c.to_uppercase().chain(first).collect())
        .unwrap_or_default();
    let sentence = message
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{}: ", env!("CARGO_PKG_NAME"))))
        .unwrap_or_else(|| panic!("expected `name: sentence` in: {message}"));
    assert!(
        !sentence.starts_with(char::is_lowercase),
        "not capitalised: {message}"
    );
    assert!(
        sentence.contains(needle) || sentence.starts_with(&opening),
        "expected {needle:?} in: {message}"
    );
}

fn create_root(db: &TestDatabase) {
    let output = create_root_with(db, PASSWORD);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
}

/// `create-superuser` for root with `password` on standard input.
pub fn create_root_with(db: &TestDatabase, password: &str) -> Output {
    run(
        gatehouse(
            db,
            &[
                "create-superuser",
                "--username",
                "root",
                "--email",
                "root@example.com",
                "--password-stdin",
            ],
        ),
        &format!("{password}\n"),
    )
}

#[rocket::async_test]
async fn create_superuser_with_flags_and_a_password_on_stdin() {
    let db = TestDatabase::new().await;
    // The CLI runs first, on an empty database: it applies the migrations itself.
    create_root(&db);
    let app = spawn_app_on(db, |f| f).await;
    let root = app.signed_in("root").await;
    let me: Value = app
        .get_bearer("/api/auth/me", &root.access)
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(me["is_superuser"], true);
    assert_eq!(me["is_staff"], true);
    assert_eq!(me["email"], "root@example.com");
    assert_eq!(
        app.get_bearer("/api/admin/accounts", &root.access)
            .await
            .status(),
        Status::Ok
    );
}

#[rocket::async_test]
async fn create_superuser_prompts_for_what_flags_do_not_give() {
    let db = TestDatabase::new().await;
    let output = run(
        gatehouse(&db, &["create-superuser"]),
        &format!("root\nroot@example.com\n{PASSWORD}\n{PASSWORD}\n"),
    );
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let prompts = stderr(&output);
    for prompt in ["Username: ", "Email: ", "Password: ", "Password (again): "] {
        assert!(
            prompts.contains(prompt),
            "{prompt:?} missing from {prompts}"
        );
    }
    assert!(stdout(&output).contains("Superuser root <root@example.com> created"));
    let app = spawn_app_on(db, |f| f).await;
    assert_eq!(app.login("root", PASSWORD).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn create_superuser_refuses_bad_input_with_a_sentence_and_creates_nothing() {
    let db = TestDatabase::new().await;
    let mismatch = run(
        gatehouse(&db, &["create-superuser"]),
        "root\nroot@example.com\none password\nanother password\n",
    );
    assert_fails(&mismatch, "do not match");
    let short = run(
        gatehouse(
            &db,
            &[
                "create-superuser",
                "--username",
                "root",
                "--email",
                "root@example.com",
            ],
        ),
        "short\nshort\n",
    );
    assert_fails(&short, "password must be at least 15 characters");
    let bad_email = run(
        gatehouse(&db, &["create-superuser", "--username", "root"]),
        &format!("not-an-email\n{PASSWORD}\n{PASSWORD}\n"),
    );
    assert_fails(&bad_email, "email is not a valid email address");
    let no_input = run(gatehouse(&db, &["create-superuser"]), "");
    assert_fails(&no_input, "--username");
    let stdin_without_flags = run(
        gatehouse(&db, &["create-superuser", "--password-stdin"]),
        PASSWORD,
    );
    assert_fails(&stdin_without_flags, "--username and --email");

    create_root(&db);
    let taken_username = run(
        gatehouse(
            &db,
            &[
                "create-superuser",
                "--username",
                "ROOT",
                "--email",
                "other@example.com",
                "--password-stdin",
            ],
        ),
        PASSWORD,
    );
    assert_fails(&taken_username, "username is already taken");
    let taken_email = run(
        gatehouse(
            &db,
            &[
                "create-superuser",
                "--username",
                "other",
                "--email",
                "Root@Example.com",
                "--password-stdin",
            ],
        ),
        PASSWORD,
    );
    assert_fails(&taken_email, "email is already taken");

    let list = run(gatehouse(&db, &["accounts", "list"]), "");
    assert!(list.status.success());
    assert!(stdout(&list).contains("1 account(s)"), "{}", stdout(&list));
}

#[test]
fn an_unreachable_database_is_a_sentence_and_exit_code_1() {
    for url in [
        "sqlite:///nonexistent-directory/for/gatehouse.db",
        "postgres://postgres@127.0.0.1:1/gatehouse",
        "mysql://localhost/gatehouse",
    ] {
        let output = run(gatehouse_on(url, &["accounts", "list"]), "");
        assert_fails(&output, "cannot open the database");
    }
}

#[rocket::async_test]
async fn the_accounts_commands_administer_by_username_or_email() {
    let db = TestDatabase::new().await;
    create_root(&db);
    let app = spawn_app_on(db, |f| f).await;
    let alice = app.signed_in("alice").await;
    let db = &app.db;
    let accounts = |args: &[&str]| {
        let mut all = vec!["accounts"];
        all.extend_from_slice(args);
        run(gatehouse(db, &all), "")
    };

    let list = accounts(&["list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let table = stdout(&list);
    assert!(table.lines().next().unwrap().starts_with("ID"), "{table}");
    assert!(
        table.contains("root") && table.contains("superuser"),
        "{table}"
    );
    assert!(table.contains("alice@example.com"), "{table}");
    assert!(table.contains("2 account(s)"), "{table}");

    // Block: by email, with a reason; alice's session ends and login is refused.
    assert_fails(&accounts(&["block", "alice", "--reason", " "]), "reason");
    let blocked = accounts(&["block", "Alice@Example.com", "--reason", "spam"]);
    assert!(blocked.status.success(), "{}", stderr(&blocked));
    assert!(stdout(&blocked).contains("Blocked alice"));
    app.clock.advance(1); // past session_cache_ms: the CLI is another process
    assert_error(
        app.get_bearer("/api/auth/me", &alice.access).await,
        Status::Forbidden,
        "account_blocked",
    )
    .await;
    assert_error(
        app.login("alice", PASSWORD).await,
        Status::Forbidden,
        "account_blocked",
    )
    .await;
    assert!(stdout(&accounts(&["list", "--search", "ali"])).contains("blocked: spam"));
    assert_fails(
        &accounts(&["block", "alice", "--reason", "again"]),
        "already blocked",
    );
    let event: (Option<i64>, Option<String>) = sqlx::query_as(
        "SELECT actor_id, user_agent FROM auth_events WHERE kind = 'account_blocked'",
    )
    .fetch_one(&app.pool())
    .await
    .unwrap();
    assert_eq!(event.0, None, "the CLI acts as no account");
    assert!(event
        .1
        .unwrap()
        .starts_with(&format!("{}-cli", env!("CARGO_PKG_NAME"))));

    assert!(accounts(&["unblock", "ALICE"]).status.success());
    assert_fails(&accounts(&["unblock", "alice"]), "not blocked");
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Ok);

    // Unlock clears a lock from failed logins.
    for _ in 0..5 {
        app.login("alice", "wrong password").await;
    }
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Locked);
    assert!(stdout(&accounts(&["list"])).contains("locked until"));
    assert!(accounts(&["unlock", "alice"]).status.success());
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Ok);

    // set-password: the new password works, the old one and the old sessions do not.
    let session = app.signed_in("alice").await;
    let mismatch = run(
        gatehouse(db, &["accounts", "set-password", "alice"]),
        "first password\nsecond password\n",
    );
    assert_fails(&mismatch, "do not match");
    let set = run(
        gatehouse(
            db,
            &["accounts", "set-password", "alice", "--password-stdin"],
        ),
        "a completely new password\n",
    );
    assert!(set.status.success(), "{}", stderr(&set));
    app.clock.advance(1);
    assert_error(
        app.get_bearer("/api/auth/me", &session.access).await,
        Status::Unauthorized,
        "session_revoked",
    )
    .await;
    assert_error(
        app.login("alice", PASSWORD).await,
        Status::Unauthorized,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        app.login("alice", "a completely new password")
            .await
            .status(),
        Status::Ok
    );

    // delete, without a terminal, needs no confirmation.
    let deleted = accounts(&["delete", "alice"]);
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    assert_error(
        app.login("alice", "a completely new password").await,
        Status::Unauthorized,
        "invalid_credentials",
    )
    .await;
    for command in [
        vec!["delete", "alice"],
        vec!["unlock", "nobody@example.com"],
        vec!["block", "nobody", "--reason", "x"],
    ] {
        assert_fails(&accounts(&command), "no account has the username or email");
    }
}

#[rocket::async_test]
async fn disable_2fa_turns_it_off_for_a_user_who_lost_the_device() {
    let db = TestDatabase::new().await;
    let app = spawn_app_on(db, |f| f).await;
    crate::two_factor::enrol(&app, "alice").await;
    let list = run(gatehouse(&app.db, &["accounts", "list"]), "");
    assert!(stdout(&list).contains("active, 2fa"), "{}", stdout(&list));

    let output = run(
        gatehouse(&app.db, &["accounts", "disable-2fa", "alice"]),
        "",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("Two-factor authentication of alice"));
    let login: Value = app
        .login("alice", PASSWORD)
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(login["two_factor_required"], false);
    let again = run(
        gatehouse(&app.db, &["accounts", "disable-2fa", "alice"]),
        "",
    );
    assert_fails(&again, "not on");
}

#[rocket::async_test]
async fn no_subcommand_or_a_wrong_one_is_a_usage_error() {
    let db = TestDatabase::new().await;
    let output = run(gatehouse(&db, &["accounts", "promote", "alice"]), "");
    assert_eq!(output.status.code(), Some(2));
    let help = Command::new(crate::support::binary())
        .arg("--help")
        .output()
        .unwrap();
    let text = stdout(&help);
    for command in ["serve", "create-superuser", "accounts"] {
        assert!(text.contains(command), "{command} missing from {text}");
    }
}

/// The interactive path a person takes: every answer typed at a terminal, the
/// password read with echo off by the terminal prompt.
#[cfg(unix)]
#[rocket::async_test]
async fn create_superuser_prompts_on_a_terminal() {
    let db = TestDatabase::new().await;
    let command = gatehouse(&db, &["create-superuser"]);
    let outcome = rocket::tokio::task::spawn_blocking(move || {
        let mut terminal = rexpect::session::spawn_command(command, Some(30_000))?;
        terminal.exp_string("Username: ")?;
        terminal.send_line("root")?;
        terminal.exp_string("Email: ")?;
        terminal.send_line("root@example.com")?;
        terminal.exp_string("Password: ")?;
        terminal.send_line(PASSWORD)?;
        terminal.exp_string("Password (again): ")?;
        terminal.send_line(PASSWORD)?;
        let rest = terminal.exp_eof()?;
        let status = terminal.process.wait()?;
        Ok::<_, rexpect::error::Error>((rest, status))
    })
    .await
    .unwrap();
    let (rest, status) = outcome.expect("the prompts are answered");
    assert!(rest.contains("Superuser root"), "{rest}");
    assert!(!rest.contains(PASSWORD), "the password is never printed");
    assert!(
        matches!(status, rexpect::process::wait::WaitStatus::Exited(_, 0)),
        "{status:?}"
    );
    let app = spawn_app_on(db, |f| f).await;
    assert_eq!(app.login("root", PASSWORD).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn the_cli_escapes_user_text_so_no_row_can_be_forged() {
    let app = crate::support::spawn_app().await;
    app.register("alice", "alice@example.com").await;
    // Written straight into the database, as an older version or a bug might have.
    sqlx::query(
        "UPDATE accounts SET blocked_at = 1, block_reason = $1, email = $2 WHERE username_key = 'alice'",
    )
    .bind("spam\n99  root  root@example.com  superuser  active")
    .bind("alice\u{202e}moc.elpmaxe@")
    .execute(&app.pool())
    .await
    .unwrap();
    let listed = gatehouse(&app.db, &["accounts", "list"]).output().unwrap();
    assert!(listed.status.success(), "{}", stderr(&listed));
    let text = stdout(&listed);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "a header, one row, the count: {text}");
    assert!(lines[1].contains("spam\\n99"), "{text}");
    assert!(lines[1].contains("alice\\u{202e}moc"), "{text}");
    assert!(!text.contains('\u{202e}'));
}

#[rocket::async_test]
async fn set_role_makes_an_existing_account_staff_and_keeps_the_last_superuser() {
    let db = TestDatabase::new().await;
    create_root(&db);
    let app = spawn_app_on(db, |f| f).await;
    let bob = app.signed_in("bob").await;
    let set_role = |args: &[&str]| {
        let mut all = vec!["accounts", "set-role"];
        all.extend_from_slice(args);
        run(gatehouse(&app.db, &all), "")
    };
    assert_error(
        app.get_bearer("/api/admin/accounts", &bob.access).await,
        Status::Forbidden,
        "forbidden",
    )
    .await;

    let staff = set_role(&["bob", "--staff"]);
    assert!(staff.status.success(), "{}", stderr(&staff));
    assert_eq!(stdout(&staff).trim(), "bob (id 2) is now staff.");
    app.clock.advance(1); // past session_cache_ms: the CLI is another process
    let listing = app.get_bearer("/api/admin/accounts", &bob.access).await;
    assert_eq!(listing.status(), Status::Ok);
    let roles: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM auth_events WHERE kind = 'roles_changed' AND account_id = 2",
    )
    .fetch_one(&app.pool())
    .await
    .unwrap();
    assert_eq!(roles, 1, "audited");

    let both = set_role(&["bob", "--superuser"]);
    assert!(both.status.success(), "{}", stderr(&both));
    assert!(stdout(&both).contains("staff and superuser"));
    let back = set_role(&["bob", "--no-staff", "--no-superuser"]);
    assert!(back.status.success(), "{}", stderr(&back));
    assert!(stdout(&back).contains("a regular account"));

    // The last superuser keeps the role; nothing changes.
    assert_fails(
        &set_role(&["root", "--no-superuser"]),
        "last active superuser",
    );
    let list = run(gatehouse(&app.db, &["accounts", "list"]), "");
    assert!(stdout(&list).contains("superuser"), "{}", stdout(&list));
    // A role flag is required, and on/off of one role cannot be combined.
    for args in [vec!["bob"], vec!["bob", "--staff", "--no-staff"]] {
        let output = set_role(&args);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    }
    assert_fails(&set_role(&["nobody", "--staff"]), "no account has");
}

#[rocket::async_test]
async fn doctor_lists_what_a_changed_secret_broke() {
    let db = TestDatabase::new().await;
    let app = spawn_app_on(db, |f| f).await;
    crate::two_factor::enrol(&app, "alice").await;
    let doctor = |two_factor_key: &str, signing_key_secret: &str| {
        let mut command = gatehouse(&app.db, &["doctor"]);
        command
            .env("GATEHOUSE_TWO_FACTOR_KEY", two_factor_key)
            .env("GATEHOUSE_SIGNING_KEY_SECRET", signing_key_secret);
        run(command, "")
    };
    let healthy = doctor(
        crate::support::TWO_FACTOR_KEY,
        crate::support::SIGNING_KEY_SECRET,
    );
    assert!(healthy.status.success(), "{}", stderr(&healthy));
    assert!(
        stdout(&healthy).contains("No problems found."),
        "{}",
        stdout(&healthy)
    );

    let changed = doctor(
        "another-two-factor-key-0123456789abcdefghij",
        "another-signing-key-secret-0123456789abcdefg",
    );
    assert_fails(&changed, "2 problems found.");
    let report = stdout(&changed);
    assert!(
        report.contains("The TOTP secret of alice (id 1) does not open")
            || report.contains("the TOTP secret of alice (id 1) does not open"),
        "{report}"
    );
    assert!(report.contains("accounts disable-2fa alice"), "{report}");
    assert!(
        report.contains("does not unseal under signing_key_secret"),
        "{report}"
    );
    assert!(!report.contains(crate::support::TWO_FACTOR_KEY));

    // After the reset the account is fine again; the key still needs its secret.
    let reset = run(
        gatehouse(&app.db, &["accounts", "disable-2fa", "alice"]),
        "",
    );
    assert!(reset.status.success(), "{}", stderr(&reset));
    let after = doctor(
        "another-two-factor-key-0123456789abcdefghij",
        "another-signing-key-secret-0123456789abcdefg",
    );
    assert_fails(&after, "1 problem found.");

    // A release setup without 2FA and with HS256 needs neither secret: not checked.
    let mut lean = gatehouse(&app.db, &["doctor"]);
    lean.env("ROCKET_PROFILE", "release")
        .env("GATEHOUSE_SECRET", crate::support::SECRET)
        .env("GATEHOUSE_ACCESS_TOKEN_ALGORITHM", "HS256")
        .env("GATEHOUSE_TWO_FACTOR_ENABLED", "false")
        .env_remove("GATEHOUSE_SIGNING_KEY_SECRET")
        .env_remove("GATEHOUSE_TWO_FACTOR_KEY");
    let lean = run(lean, "");
    assert!(lean.status.success(), "{}", stderr(&lean));
    let report = stdout(&lean);
    assert_eq!(report.matches("not checked").count(), 2, "{report}");
    // 2FA on in release without its key: refused with a sentence.
    let mut missing = gatehouse(&app.db, &["doctor"]);
    missing
        .env("ROCKET_PROFILE", "release")
        .env("GATEHOUSE_SECRET", crate::support::SECRET)
        .env("GATEHOUSE_ACCESS_TOKEN_ALGORITHM", "HS256")
        .env_remove("GATEHOUSE_TWO_FACTOR_KEY");
    assert_fails(&run(missing, ""), "TWO_FACTOR_KEY");
}
