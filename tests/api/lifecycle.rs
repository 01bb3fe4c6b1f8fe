//! The process's life: SIGTERM during slow logins stops accepting connections, lets
//! every accepted request finish (the pool stays open for them: `serve` closes it
//! once the server has stopped), and exits cleanly; `migrate` and an instance that
//! leaves migrating to it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{binary, PASSWORD};

/// One HTTP/1.1 request over a new connection: the status line's code (0 when the
/// connection failed or was closed unanswered).
fn request(port: u16, method: &str, path: &str, body: &str) -> u16 {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

fn serve(dir: &std::path::Path, port: u16) -> Child {
    Command::new(binary())
        .env("ROCKET_PROFILE", "debug")
        .env("ROCKET_PORT", port.to_string())
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_LOG_LEVEL", "off")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("g.db").display()),
        )
        .env("GATEHOUSE_MAIL_TRANSPORT", "none")
        .env("GATEHOUSE_RATE_LIMIT_ENABLED", "false")
        // Logins of one account at once would otherwise count against its lockout.
        .env("GATEHOUSE_LOCKOUT_MAX_ATTEMPTS", "0")
        // Logins slow enough (about a quarter of a second each, one at a time) to be
        // in flight when the signal comes.
        .env("GATEHOUSE_ARGON2_MEMORY_KIB", "65536")
        .env("GATEHOUSE_ARGON2_ITERATIONS", "4")
        .env("GATEHOUSE_HASH_CONCURRENCY", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts")
}

#[cfg(unix)]
#[test]
fn sigterm_during_slow_logins_answers_every_accepted_request() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    let mut server = serve(dir.path(), port);
    let started = Instant::now();
    // A start waits on a busy machine (the whole suite runs beside it): a minute.
    while request(port, "GET", "/api/health/live", "") != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let register = format!(
        r#"{{"username": "alice", "email": "alice@example.com", "password": "{PASSWORD}"}}"#
    );
    assert_eq!(request(port, "POST", "/api/auth/register", &register), 201);

    let login = format!(r#"{{"login": "alice", "password": "{PASSWORD}"}}"#);
    let logins: Vec<_> = (0..8)
        .map(|_| {
            let login = login.clone();
            std::thread::spawn(move || request(port, "POST", "/api/auth/login", &login))
        })
        .collect();
    // Every login is accepted and waiting for the hasher when the signal comes.
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    let signalled_at = Instant::now();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        request(port, "GET", "/api/health/live", ""),
        0,
        "no new connection once shutting down"
    );
    let answers: Vec<u16> = logins.into_iter().map(|l| l.join().unwrap()).collect();
    assert!(answers.iter().all(|&code| code == 200), "{answers:?}");
    let status = server.wait().unwrap();
    assert!(status.success(), "exited with {status}");
    // Within grace (10 s) and mercy (5 s): Rocket 0.5 waits out the grace period once
    // a request was in flight when the signal came, even after answering it.
    let exited_after = signalled_at.elapsed();
    eprintln!("lifecycle: exited {exited_after:?} after SIGTERM");
    assert!(exited_after < Duration::from_secs(16), "{exited_after:?}");
}

/// `gatehouse migrate` applies what is missing and says so; an instance started with
/// `migrate_on_start = false` on a schema behind it is not ready until then.
#[rocket::async_test]
async fn an_instance_waits_not_ready_for_migrate_when_it_does_not_migrate_itself() {
    use crate::cli::{gatehouse, run, stdout};
    use crate::support::{assert_error, launch, test_figment, TestDatabase};
    use rocket::http::Status;

    let db = TestDatabase::new().await;
    let first = run(gatehouse(&db, &["migrate"]), "");
    assert!(first.status.success());
    assert!(
        stdout(&first).contains("applied migrations 1, 2, 3"),
        "{}",
        stdout(&first)
    );
    let again = run(gatehouse(&db, &["migrate"]), "");
    assert!(
        stdout(&again).contains("up to date: nothing to apply"),
        "{}",
        stdout(&again)
    );

    // As if this binary brought a migration the database has not seen yet.
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    if crate::support::postgres_url().is_some() {
        sqlx::query("DROP FUNCTION gatehouse_announce() CASCADE")
            .execute(&pool)
            .await
            .unwrap();
    }
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 15")
        .execute(&pool)
        .await
        .unwrap();

    let clock = gatehouse::clock::ManualClock::new();
    let figment = test_figment(&db.url).merge(("gatehouse.migrate_on_start", false));
    let app = launch(figment, &clock).await;
    let behind = app.get("/api/health").dispatch().await;
    assert_error(behind, Status::ServiceUnavailable, "schema_behind").await;

    let migrated = run(gatehouse(&db, &["migrate"]), "");
    assert!(
        stdout(&migrated).contains("applied migrations 15;"),
        "{}",
        stdout(&migrated)
    );
    assert_eq!(app.get("/api/health").dispatch().await.status(), Status::Ok);
}

/// An instance started with `migrate_on_start = false` on an empty database answers
/// 503 `schema_behind` (not 500) until `migrate` has run, and signs in within a second
/// of it, without a restart.
#[rocket::async_test]
async fn an_instance_on_an_empty_database_answers_schema_behind_until_migrated() {
    use crate::cli::{gatehouse, run};
    use crate::support::{assert_error, launch, test_figment, TestDatabase};
    use rocket::http::{ContentType, Status};

    let db = TestDatabase::new().await;
    let clock = gatehouse::clock::ManualClock::new();
    let figment = test_figment(&db.url).merge(("gatehouse.migrate_on_start", false));
    let app = launch(figment, &clock).await;
    let register = serde_json::json!({
        "username": "early", "email": "early@example.com", "password": PASSWORD
    })
    .to_string();
    let login = serde_json::json!({"login": "early", "password": PASSWORD}).to_string();
    let post = |path: &'static str, body: String| {
        app.post(path)
            .header(ContentType::JSON)
            .body(body)
            .dispatch()
    };
    assert_error(
        app.get("/api/health").dispatch().await,
        Status::ServiceUnavailable,
        "schema_behind",
    )
    .await;
    for (path, body) in [
        ("/api/auth/register", register.clone()),
        ("/api/auth/login", login.clone()),
    ] {
        assert_error(
            post(path, body).await,
            Status::ServiceUnavailable,
            "schema_behind",
        )
        .await;
    }

    assert!(run(gatehouse(&db, &["migrate"]), "").status.success());
    clock.advance(1);
    assert_eq!(app.get("/api/health").dispatch().await.status(), Status::Ok);
    assert_eq!(
        post("/api/auth/register", register).await.status(),
        Status::Created
    );
    assert_eq!(post("/api/auth/login", login).await.status(), Status::Ok);
}
