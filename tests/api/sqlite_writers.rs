//! SQLite with several writers at once: the server under a stream of registrations and
//! logins while CLI processes block, unblock and prune on the same file. SQLite has one
//! writer at a time; `busy_timeout` makes the others wait for the lock, so no
//! `database is locked` reaches a client or an operator.

use serde_json::json;

use crate::cli::{gatehouse_on, run, stderr};
use crate::support::{postgres_url, serve_with};

#[rocket::async_test]
async fn the_server_and_the_cli_write_the_same_sqlite_file_at_once() {
    if postgres_url().is_some() {
        eprintln!("sqlite_writers: SQLite only, skipped on PostgreSQL");
        return;
    }
    let app = serve_with(|f| f).await;
    app.signed_in("target").await;
    // The server keeps writing for as long as the operator's commands run.
    let operating = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let writers: Vec<_> = (0..4)
        .map(|worker| {
            let port = app.port;
            let operating = std::sync::Arc::clone(&operating);
            rocket::tokio::spawn(async move {
                let mut failures = Vec::new();
                let mut n = 0;
                while operating.load(std::sync::atomic::Ordering::SeqCst) {
                    n += 1;
                    let name = format!("user{worker}x{n}");
                    let body = json!({
                        "username": name,
                        "email": format!("{name}@example.com"),
                        "password": crate::support::PASSWORD,
                    });
                    let answer =
                        crate::support::http(port, "POST", "/api/auth/register", &[], Some(&body))
                            .await;
                    if answer.status != 201 {
                        failures.push(format!("{}: {}", answer.status, answer.body));
                    }
                }
                (n, failures)
            })
        })
        .collect();
    let url = app.db.url.clone();
    let operator = rocket::tokio::task::spawn_blocking(move || {
        let mut failures = Vec::new();
        for round in 0..4 {
            for args in [
                vec!["accounts", "block", "target", "--reason", "round"],
                vec!["accounts", "unblock", "target"],
                vec!["prune"],
            ] {
                let output = run(gatehouse_on(&url, &args), "");
                if !output.status.success() {
                    failures.push(format!("round {round} {args:?}: {}", stderr(&output)));
                }
            }
        }
        failures
    });
    let mut failures = operator.await.unwrap();
    operating.store(false, std::sync::atomic::Ordering::SeqCst);
    let mut registrations = 0;
    for writer in writers {
        let (count, theirs) = writer.await.unwrap();
        registrations += count;
        failures.extend(theirs);
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        registrations >= 12,
        "the server wrote meanwhile: {registrations}"
    );
    eprintln!("sqlite_writers: {registrations} registrations beside 12 CLI commands");
}

/// A writer that keeps the lock past `busy_timeout` (5 s; a long manual transaction,
/// say) makes the others give up: they answer 503 `database_unavailable`, not 500.
#[rocket::async_test]
async fn a_lock_held_past_busy_timeout_answers_503() {
    if postgres_url().is_some() {
        eprintln!("sqlite_writers: SQLite only, skipped on PostgreSQL");
        return;
    }
    let app = crate::support::spawn_app().await;
    let mut holder = app.pool().acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let response = app
        .post(
            "/api/auth/register",
            json!({"username": "waiting", "email": "waiting@example.com", "password": crate::support::PASSWORD}),
        )
        .await;
    crate::support::assert_error(
        response,
        rocket::http::Status::ServiceUnavailable,
        "database_unavailable",
    )
    .await;
    sqlx::query("ROLLBACK").execute(&mut *holder).await.unwrap();
    drop(holder);
    app.register("waiting", "waiting@example.com").await;
}
