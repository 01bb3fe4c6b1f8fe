//! Several instances on one PostgreSQL database: a logout, a block or a password change
//! made through one (or the CLI) is refused by the other at once, even with its
//! session cache trusted for a minute, and still when the connection receiving the
//! announcements is cut. PostgreSQL only: on SQLite these tests say they were skipped.

use std::time::{Duration, Instant};

use rocket::http::Status;
use rocket::local::asynchronous::Client;
use serde_json::{json, Value};

use crate::cli::{gatehouse, run};
use crate::support::{launch, postgres_url, send, test_figment, TestDatabase, PASSWORD};

/// Two instances on one fresh PostgreSQL database, each trusting its cached session
/// state for a minute; `None` on SQLite.
async fn two_instances() -> Option<(Client, Client, TestDatabase)> {
    if postgres_url().is_none() {
        eprintln!("instances: PostgreSQL run skipped (set TEST_DATABASE_URL)");
        return None;
    }
    let db = TestDatabase::new().await;
    let clock = gatehouse::clock::ManualClock::new();
    let figment = || test_figment(&db.url).merge(("gatehouse.session_cache_ms", 60_000));
    let first = launch(figment(), &clock).await;
    let second = launch(figment(), &clock).await;
    // Both listen before the test goes on.
    for client in [&first, &second] {
        wait_until(|| async { cache_trusted(client) }).await;
    }
    Some((first, second, db))
}

fn cache_trusted(client: &Client) -> bool {
    let app = client.rocket().state::<gatehouse::app::App>().unwrap();
    app.session_cache.is_trusted()
}

/// Polls `check` until true, for at most a second; how long it took.
async fn wait_until<F, Fut>(check: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "not within a second"
        );
        rocket::tokio::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

async fn post(client: &Client, uri: &str, token: Option<&str>, body: Value) -> (Status, Value) {
    send(client, rocket::http::Method::Post, uri, token, Some(body)).await
}

async fn me(client: &Client, token: &str) -> Status {
    client
        .get("/api/auth/me")
        .header(rocket::http::Header::new(
            "Authorization",
            format!("Bearer {token}"),
        ))
        .dispatch()
        .await
        .status()
}

/// Registers `username` on `client` and signs in: the access token.
async fn signed_in(client: &Client, username: &str) -> String {
    let email = format!("{username}@example.com");
    let register = json!({"username": username, "email": email, "password": PASSWORD});
    post(client, "/api/auth/register", None, register).await;
    let login = json!({"login": username, "password": PASSWORD});
    let (status, body) = post(client, "/api/auth/login", None, login).await;
    assert_eq!(status, Status::Ok, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

#[rocket::async_test]
async fn a_logout_a_block_and_a_password_change_on_one_instance_reach_the_other_at_once() {
    let Some((first, second, db)) = two_instances().await else {
        return;
    };
    // Logout on the first; the second had the session cached.
    let token = signed_in(&first, "alice").await;
    assert_eq!(me(&second, &token).await, Status::Ok);
    let (status, _) = post(&first, "/api/auth/logout", Some(&token), json!({})).await;
    assert_eq!(status, Status::NoContent);
    let took = wait_until(|| async { me(&second, &token).await == Status::Unauthorized }).await;
    eprintln!("instances: a logout reached the other instance in {took:?}");

    // A password change on the first ends the other sessions, cached on the second.
    let kept = signed_in(&first, "bob").await;
    let other = signed_in(&second, "bob").await;
    assert_eq!(me(&second, &other).await, Status::Ok);
    let change = json!({"current_password": PASSWORD, "new_password": "another long passphrase"});
    let (status, _) = post(&first, "/api/auth/password", Some(&kept), change).await;
    assert_eq!(status, Status::NoContent);
    wait_until(|| async { me(&second, &other).await == Status::Unauthorized }).await;

    // A block from the CLI (another process).
    let carol = signed_in(&first, "carol").await;
    assert_eq!(me(&second, &carol).await, Status::Ok);
    let blocked = run(
        gatehouse(&db, &["accounts", "block", "carol", "--reason", "test"]),
        "",
    );
    assert!(blocked.status.success());
    wait_until(|| async { me(&second, &carol).await == Status::Forbidden }).await;
}

#[rocket::async_test]
async fn a_cut_announcement_connection_never_leaves_a_stale_cache() {
    let Some((first, second, db)) = two_instances().await else {
        return;
    };
    let token = signed_in(&first, "alice").await;
    assert_eq!(me(&second, &token).await, Status::Ok);

    // Cut every listening connection of this database (both instances').
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let cut: i64 = sqlx::query_scalar(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(cut >= 2, "listening connections cut: {cut}");
    wait_until(|| async { !cache_trusted(&second) }).await;

    // Meanwhile (announcements may be lost) the second reads the database each time.
    let (status, _) = post(&first, "/api/auth/logout", Some(&token), json!({})).await;
    assert_eq!(status, Status::NoContent);
    assert_eq!(me(&second, &token).await, Status::Unauthorized);

    // Once listening again, the cache is used and announcements work again.
    wait_until(|| async { cache_trusted(&second) }).await;
    let again = signed_in(&first, "alice").await;
    assert_eq!(me(&second, &again).await, Status::Ok);
    post(&first, "/api/auth/logout", Some(&again), json!({})).await;
    wait_until(|| async { me(&second, &again).await == Status::Unauthorized }).await;
}

#[rocket::async_test]
async fn a_socket_on_one_instance_closes_when_its_session_ends_on_the_other() {
    use crate::sockets::{connect, expect_closed, next_event, say};
    if postgres_url().is_none() {
        eprintln!("instances: PostgreSQL run skipped (set TEST_DATABASE_URL)");
        return;
    }
    let clock = gatehouse::clock::ManualClock::new();
    let with_long_cache =
        |f: rocket::figment::Figment| f.merge(("gatehouse.session_cache_ms", 60_000));
    let served =
        crate::support::serve_on(TestDatabase::new().await, clock.clone(), with_long_cache).await;
    let first = launch(with_long_cache(test_figment(&served.db.url)), &clock).await;
    let token = signed_in(&first, "alice").await;

    let mut socket = connect(&served, &[]).await.expect("the upgrade");
    say(&mut socket, json!({"type": "authenticate", "token": token})).await;
    assert_eq!(
        next_event(&mut socket, Duration::from_secs(2)).await["type"],
        "ready"
    );
    let (status, _) = post(&first, "/api/auth/logout", Some(&token), json!({})).await;
    assert_eq!(status, Status::NoContent);
    let took = expect_closed(&mut socket, "session_revoked", Duration::from_secs(1)).await;
    eprintln!("instances: a socket on the other instance closed in {took:?}");
}

#[rocket::async_test]
async fn three_instances_starting_together_on_an_empty_database_migrate_it_once() {
    if postgres_url().is_none() {
        eprintln!("instances: PostgreSQL run skipped (set TEST_DATABASE_URL)");
        return;
    }
    let db = TestDatabase::new().await;
    let clock = gatehouse::clock::ManualClock::new();
    // One takes the migrator's lock and applies; the others wait for it, then find
    // nothing left to do.
    let (a, b, c) = rocket::tokio::join!(
        launch(test_figment(&db.url), &clock),
        launch(test_figment(&db.url), &clock),
        launch(test_figment(&db.url), &clock),
    );
    let pool = a
        .rocket()
        .state::<gatehouse::app::App>()
        .unwrap()
        .pool()
        .clone();
    let (applied, distinct): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT version) FROM _sqlx_migrations WHERE success",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(applied, distinct, "each migration applied once");
    assert!(applied >= 15);
    let token = signed_in(&a, "alice").await;
    for other in [&b, &c] {
        assert_eq!(me(other, &token).await, Status::Ok);
    }
}

/// Two instances on one fresh PostgreSQL database with the rate limits on (and
/// `rate_limit_store` at its default) and `customize`d; `None` on SQLite.
async fn two_limited_instances(
    customize: impl Fn(figment::Figment) -> figment::Figment,
) -> Option<(Client, Client, TestDatabase)> {
    if postgres_url().is_none() {
        eprintln!("instances: PostgreSQL run skipped (set TEST_DATABASE_URL)");
        return None;
    }
    let db = TestDatabase::new().await;
    let clock = gatehouse::clock::ManualClock::new();
    let figment = || customize(test_figment(&db.url).merge(("gatehouse.rate_limit_enabled", true)));
    let first = launch(figment(), &clock).await;
    let second = launch(figment(), &clock).await;
    Some((first, second, db))
}

#[rocket::async_test]
async fn two_instances_share_one_allowance() {
    let Some((first, second, _db)) =
        two_limited_instances(|f| f.merge(("gatehouse.rate_limit_login", "4/hour"))).await
    else {
        return;
    };
    let mut statuses = Vec::new();
    for n in 0..8 {
        let client = if n % 2 == 0 { &first } else { &second };
        let body = json!({"login": format!("nobody{n}"), "password": PASSWORD});
        statuses.push(post(client, "/api/auth/login", None, body).await.0);
    }
    let allowed = statuses
        .iter()
        .filter(|s| **s == Status::Unauthorized)
        .count();
    assert_eq!(allowed, 4, "one allowance for both: {statuses:?}");
    assert!(
        statuses[4..].iter().all(|s| *s == Status::TooManyRequests),
        "{statuses:?}"
    );

    // Concurrent checks on both count exactly too.
    let Some((first, second, _db)) =
        two_limited_instances(|f| f.merge(("gatehouse.rate_limit_login", "10/hour"))).await
    else {
        return;
    };
    let burst = (0..40).map(|n| {
        let client = if n % 2 == 0 { &first } else { &second };
        let body = json!({"login": format!("nobody{n}"), "password": PASSWORD});
        async move { post(client, "/api/auth/login", None, body).await.0 }
    });
    let statuses = rocket::futures::future::join_all(burst).await;
    let allowed = statuses
        .iter()
        .filter(|s| **s == Status::Unauthorized)
        .count();
    assert_eq!(allowed, 10, "{statuses:?}");
}

#[rocket::async_test]
async fn the_shared_store_is_refused_on_sqlite_and_named_in_the_sentence() {
    let db = TestDatabase::new().await;
    if db.url.starts_with("postgres") {
        return;
    }
    let figment = test_figment(&db.url).merge(("gatehouse.rate_limit_store", "database"));
    let clock = std::sync::Arc::new(gatehouse::clock::ManualClock::new());
    let error = match gatehouse::rocket_with_clock(figment, clock) {
        Ok(_) => panic!("a shared store on SQLite is refused"),
        Err(error) => error.to_string(),
    };
    assert!(
        error.contains("rate_limit_store") && error.contains("PostgreSQL"),
        "{error}"
    );
}
