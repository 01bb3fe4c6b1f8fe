//! Development secrets that last: a debug run without secrets makes them once, keeps
//! them in `.gatehouse/dev-secrets.toml` (0600) and reads them again after a restart.

use std::process::Command;

/// A server process, stopped when dropped (a failed assertion included).
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The debug binary serving a SQLite file in `dir` on `port`, run from `dir` with no
/// secret configured.
fn serve_without_secrets(dir: &std::path::Path, port: u16) -> Server {
    let child = Command::new(crate::support::binary())
        .current_dir(dir)
        .env("ROCKET_PROFILE", "debug")
        .env("ROCKET_PORT", port.to_string())
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_LOG_LEVEL", "off")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/dev.db?mode=rwc", dir.display()),
        )
        .env("GATEHOUSE_MAIL_TRANSPORT", "none")
        .env("GATEHOUSE_ARGON2_MEMORY_KIB", "512")
        .env("GATEHOUSE_ARGON2_ITERATIONS", "1")
        .env_remove("GATEHOUSE_SECRET")
        .env_remove("GATEHOUSE_TWO_FACTOR_KEY")
        .env_remove("GATEHOUSE_SIGNING_KEY_SECRET")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    Server(child)
}

async fn wait_for_port(port: u16) {
    let started = std::time::Instant::now();
    while rocket::tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "not started"
        );
        rocket::tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[rocket::async_test]
async fn a_debug_restart_keeps_the_secrets_it_made_and_the_sessions_they_signed() {
    use crate::support::{http, PASSWORD};
    let dir = tempfile::tempdir().unwrap();
    let port = crate::support::free_port();
    let mut first = serve_without_secrets(dir.path(), port);
    wait_for_port(port).await;
    assert!(
        first.0.try_wait().unwrap().is_none(),
        "ours answers on {port}"
    );
    let register = serde_json::json!({"username": "alice", "email": "alice@example.com",
                                      "password": PASSWORD});
    let answer = http(port, "POST", "/api/auth/register", &[], Some(&register)).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let login = serde_json::json!({"login": "alice", "password": PASSWORD});
    let answer = http(port, "POST", "/api/auth/login", &[], Some(&login)).await;
    assert_eq!(answer.status, 200);
    let access = answer.json()["access_token"].as_str().unwrap().to_string();
    drop(first);

    let file = dir.path().join(".gatehouse/dev-secrets.toml");
    let kept = std::fs::read_to_string(&file).expect("the secrets are kept");
    for key in ["secret", "two_factor_key", "signing_key_secret"] {
        assert!(kept.contains(&format!("{key} = ")), "{kept}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let mut second = serve_without_secrets(dir.path(), port);
    wait_for_port(port).await;
    assert!(
        second.0.try_wait().unwrap().is_none(),
        "ours answers on {port}"
    );
    let bearer = format!("Bearer {access}");
    let answer = http(
        port,
        "GET",
        "/api/auth/me",
        &[("Authorization", &bearer)],
        None,
    )
    .await;
    drop(second);
    assert_eq!(answer.status, 200, "the session survives the restart");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), kept, "made once");
}

/// A development-secrets file that cannot be read is said on stderr as a sentence
/// (no logger is installed yet), and the run goes on with random secrets.
#[test]
fn an_unreadable_secrets_file_is_said_as_a_sentence_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".gatehouse")).unwrap();
    std::fs::write(
        dir.path()
            .join(gatehouse::config::dev_secrets::DEV_SECRETS_FILE),
        "this is = not [toml",
    )
    .unwrap();
    let output = Command::new(crate::support::binary())
        .current_dir(dir.path())
        .args(["migrate", "--database-url"])
        .arg(format!("sqlite://{}/dev.db?mode=rwc", dir.path().display()))
        .env("ROCKET_PROFILE", "debug")
        .env("GATEHOUSE_MAIL_TRANSPORT", "none")
        .env_remove("DATABASE_URL")
        .env_remove("GATEHOUSE_SECRET")
        .env_remove("GATEHOUSE_TWO_FACTOR_KEY")
        .env_remove("GATEHOUSE_SIGNING_KEY_SECRET")
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let sentence = format!(
        "{}: Development secrets could not be kept in .gatehouse/dev-secrets.toml",
        env!("CARGO_PKG_NAME")
    );
    assert!(stderr.contains(&sentence), "{stderr}");
    assert!(stderr.contains("This run uses random ones"), "{stderr}");
    assert!(output.status.success(), "{stderr}");
}
