//! Login lockout: the per-account counter of wrong passwords, the lock it sets, and
//! its atomicity under concurrent guessing from several app instances.

use rocket::futures::future::join_all;
use rocket::http::{ContentType, Status};
use rocket::local::asynchronous::Client;
use serde_json::{json, Value};

use crate::support::{assert_error, launch, spawn_app, spawn_app_with, test_figment, PASSWORD};

const WRONG: &str = "not the password";

#[rocket::async_test]
async fn the_maximum_of_wrong_passwords_locks_the_account_for_the_duration() {
    let app = spawn_app().await;
    app.register("alice", "alice@example.com").await;
    for attempt in 1..=4 {
        assert_error(
            app.login("alice", WRONG).await,
            Status::Unauthorized,
            "invalid_credentials",
        )
        .await;
        assert_eq!(app.failed_logins("alice").await, attempt);
    }
    // The fifth wrong password locks, and says so.
    let response = app.login("alice", WRONG).await;
    assert_eq!(response.headers().get_one("Retry-After"), Some("900"));
    let body = assert_error(response, Status::Locked, "account_locked").await;
    assert_eq!(body["error"]["retry_after"], 900);

    // While locked, even the right password is refused without being checked.
    app.clock.advance(600);
    let response = app.login("alice", PASSWORD).await;
    assert_eq!(response.headers().get_one("Retry-After"), Some("300"));
    let body = assert_error(response, Status::Locked, "account_locked").await;
    assert_eq!(body["error"]["retry_after"], 300);
    assert_error(
        app.login("alice", WRONG).await,
        Status::Locked,
        "account_locked",
    )
    .await;
    assert_eq!(
        app.failed_logins("alice").await,
        5,
        "no password was checked"
    );

    // Once the lock lapses the right password works and resets the counter.
    app.clock.advance(300);
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Ok);
    assert_eq!(app.failed_logins("alice").await, 0);
}

#[rocket::async_test]
async fn a_lapsed_lock_starts_counting_afresh() {
    let app = spawn_app().await;
    app.register("alice", "alice@example.com").await;
    for _ in 0..5 {
        app.login("alice", WRONG).await;
    }
    app.clock.advance(901);
    assert_error(
        app.login("alice", WRONG).await,
        Status::Unauthorized,
        "invalid_credentials",
    )
    .await;
    assert_eq!(app.failed_logins("alice").await, 1);
}

#[rocket::async_test]
async fn the_counter_belongs_to_the_account_whatever_login_form_is_typed() {
    let app = spawn_app().await;
    app.register("alice", "alice@example.com").await;
    for login in ["alice", "ALICE", "alice@example.com", " Alice@Example.COM "] {
        assert_error(
            app.login(login, WRONG).await,
            Status::Unauthorized,
            "invalid_credentials",
        )
        .await;
    }
    assert_error(
        app.login("ａｌｉｃｅ", WRONG).await,
        Status::Locked,
        "account_locked",
    )
    .await;
    assert_error(
        app.login("alice@EXAMPLE.com", PASSWORD).await,
        Status::Locked,
        "account_locked",
    )
    .await;
}

#[rocket::async_test]
async fn a_successful_login_resets_the_counter() {
    let app = spawn_app().await;
    app.register("alice", "alice@example.com").await;
    for _ in 0..4 {
        app.login("alice", WRONG).await;
    }
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Ok);
    for _ in 0..4 {
        assert_error(
            app.login("alice", WRONG).await,
            Status::Unauthorized,
            "invalid_credentials",
        )
        .await;
    }
    assert_eq!(app.failed_logins("alice").await, 4);
}

#[rocket::async_test]
async fn a_zero_duration_locks_until_an_admin_unlocks() {
    let app = spawn_app_with(|f| f.merge(("gatehouse.lockout_duration", 0))).await;
    app.signed_in_admin("boss", false).await;
    app.register("alice", "alice@example.com").await;
    for _ in 0..4 {
        app.login("alice", WRONG).await;
    }
    let response = app.login("alice", WRONG).await;
    assert_eq!(response.headers().get_one("Retry-After"), None);
    let body = assert_error(response, Status::Locked, "account_locked").await;
    assert!(body["error"].get("retry_after").is_none(), "{body}");

    app.clock.advance(400 * 24 * 60 * 60);
    assert_error(
        app.login("alice", PASSWORD).await,
        Status::Locked,
        "account_locked",
    )
    .await;

    // The admin's own tokens have long expired too.
    let admin = app.signed_in("boss").await;
    let id = app.account_id("alice").await;
    let shown = app
        .get_bearer(&format!("/api/admin/accounts/{id}"), &admin.access)
        .await;
    let shown: Value = shown.into_json().await.unwrap();
    assert_eq!(shown["account"]["locked"], true);
    assert_eq!(shown["account"]["locked_until"], Value::Null);
    assert_eq!(shown["account"]["failed_logins"], 5);

    let response = app
        .post_bearer(
            &format!("/api/admin/accounts/{id}/unlock"),
            &admin.access,
            None,
        )
        .await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = response.into_json().await.unwrap();
    assert_eq!(body["account"]["locked"], false);
    assert_eq!(body["account"]["failed_logins"], 0);
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn a_maximum_of_zero_never_locks() {
    let app = spawn_app_with(|f| f.merge(("gatehouse.lockout_max_attempts", 0))).await;
    app.register("alice", "alice@example.com").await;
    for _ in 0..8 {
        assert_error(
            app.login("alice", WRONG).await,
            Status::Unauthorized,
            "invalid_credentials",
        )
        .await;
    }
    assert_eq!(app.failed_logins("alice").await, 8);
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn unknown_logins_lock_nothing_and_answer_like_wrong_passwords() {
    let app = spawn_app().await;
    for _ in 0..7 {
        assert_error(
            app.login("nobody", WRONG).await,
            Status::Unauthorized,
            "invalid_credentials",
        )
        .await;
    }
}

#[rocket::async_test]
async fn a_right_password_checked_after_the_account_was_locked_is_refused() {
    // One hashing thread with slow parameters: logins queue for it in order. The right
    // password is read while the account is open, then waits behind twenty other
    // logins; meanwhile guesses elsewhere (another instance, here a direct update)
    // lock the account. Its hash completes into a locked account.
    let app = spawn_app_with(|f| {
        f.merge(("gatehouse.argon2_memory_kib", 8192))
            .merge(("gatehouse.argon2_iterations", 4))
            .merge(("gatehouse.hash_concurrency", 1))
    })
    .await;
    app.register("alice", "alice@example.com").await;
    let queue = (0..20).map(|_| async {
        app.client
            .post("/api/auth/login")
            .header(ContentType::JSON)
            .body(json!({"login": "nobody", "password": WRONG}).to_string())
            .dispatch()
            .await
            .status()
    });
    let right = async {
        rocket::tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        app.login("alice", PASSWORD).await.status()
    };
    let lock_elsewhere = async {
        rocket::tokio::time::sleep(std::time::Duration::from_millis(60)).await;
        let now = gatehouse::clock::Clock::now(&app.clock);
        sqlx::query(
            "UPDATE accounts SET failed_logins = 5, locked_at = $1, locked_until = $2 \
             WHERE username_key = 'alice'",
        )
        .bind(now)
        .bind(now + 900)
        .execute(&app.pool())
        .await
        .unwrap();
    };
    let (_, right, ()) = rocket::tokio::join!(join_all(queue), right, lock_elsewhere);
    assert_eq!(right, Status::Locked, "a lock set meanwhile must hold");
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(&app.pool())
        .await
        .unwrap();
    assert_eq!(sessions, 0);
}

#[rocket::async_test]
async fn text_postgresql_cannot_store_is_a_client_error_not_a_500() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    assert_error(
        app.login("ali\u{0}ce", PASSWORD).await,
        Status::Unauthorized,
        "invalid_credentials",
    )
    .await;
    assert_error(
        app.delete_bearer("/api/auth/sessions/abc%00def", &alice.access)
            .await,
        Status::NotFound,
        "not_found",
    )
    .await;
}

/// Fires `count` wrong logins at once through `client`.
async fn wrong_logins(client: &Client, count: usize) -> Vec<Status> {
    let requests = (0..count).map(|_| async {
        client
            .post("/api/auth/login")
            .header(ContentType::JSON)
            .body(json!({"login": "alice", "password": WRONG}).to_string())
            .dispatch()
            .await
            .status()
    });
    join_all(requests).await
}

#[rocket::async_test]
async fn concurrent_wrong_logins_from_two_instances_count_exactly() {
    const ATTEMPTS: usize = 24;
    let app = spawn_app_with(|f| f.merge(("gatehouse.lockout_max_attempts", ATTEMPTS))).await;
    app.register("alice", "alice@example.com").await;
    // A second instance of the app on the same database, as behind a load balancer.
    let other = launch(
        test_figment(&app.db.url).merge(("gatehouse.lockout_max_attempts", ATTEMPTS)),
        &app.clock,
    )
    .await;

    let (first, second) = rocket::tokio::join!(
        wrong_logins(&app.client, ATTEMPTS / 2),
        wrong_logins(&other, ATTEMPTS / 2)
    );
    let statuses: Vec<Status> = first.into_iter().chain(second).collect();
    let locked = statuses.iter().filter(|s| **s == Status::Locked).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == Status::Unauthorized)
        .count();
    assert_eq!(
        (refused, locked),
        (ATTEMPTS - 1, 1),
        "each attempt counted once, the last one locked: {statuses:?}"
    );
    assert_eq!(app.failed_logins("alice").await, ATTEMPTS as i64);
    assert_error(
        app.login("alice", PASSWORD).await,
        Status::Locked,
        "account_locked",
    )
    .await;
}

#[test]
#[allow(clippy::result_large_err)] // figment::Jail's closure type, not ours
fn lockout_settings_come_from_the_environment() {
    use gatehouse::config::Settings;
    figment::Jail::expect_with(|jail| {
        jail.set_env("GATEHOUSE_LOCKOUT_MAX_ATTEMPTS", "3");
        jail.set_env("GATEHOUSE_LOCKOUT_DURATION", "0");
        let settings = Settings::from_figment(&gatehouse::figment()).unwrap();
        assert_eq!(settings.lockout.lockout_max_attempts, 3);
        assert_eq!(settings.lockout.lockout_duration, None);
        jail.set_env("GATEHOUSE_LOCKOUT_DURATION", "60");
        let settings = Settings::from_figment(&gatehouse::figment()).unwrap();
        assert_eq!(settings.lockout.lockout_duration, Some(60));
        jail.set_env("GATEHOUSE_LOCKOUT_MAX_ATTEMPTS", "5000");
        let error = match Settings::from_figment(&gatehouse::figment()) {
            Ok(_) => panic!("5000 attempts were accepted"),
            Err(error) => error.to_string(),
        };
        assert!(error.contains("GATEHOUSE_LOCKOUT_MAX_ATTEMPTS"), "{error}");
        Ok(())
    });
}
