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

/// A login's answer as a client sees it: status, body, and every header but Date.
type Answer = (Status, Value, Vec<(String, String)>);

async fn login_answer(client: &Client, login: &str, password: &str) -> Answer {
    let response = client
        .post("/api/auth/login")
        .header(ContentType::JSON)
        .body(json!({"login": login, "password": password}).to_string())
        .dispatch()
        .await;
    let status = response.status();
    let headers = crate::support::comparable_headers(&response);
    let body = response.into_json().await.unwrap_or(Value::Null);
    (status, body, headers)
}

/// Password checks the audit trail shows for `account`: one row per checked attempt.
async fn checked_attempts(app: &crate::support::TestApp, account: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM auth_events WHERE account_id = $1 AND \
         (kind = 'login_succeeded' OR (kind = 'login_failed' AND detail LIKE 'wrong_password%'))",
    )
    .bind(account)
    .fetch_one(&app.pool())
    .await
    .unwrap()
}

async fn by_kind(app: &crate::support::TestApp, account: i64, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM auth_events WHERE account_id = $1 AND kind = $2")
        .bind(account)
        .bind(kind)
        .fetch_one(&app.pool())
        .await
        .unwrap()
}

/// A slow hasher with room for every request of the burst: the guesses wait behind
/// `queue` unknown-login requests, as an attacker would arrange it.
async fn burst_app() -> crate::support::TestApp {
    spawn_app_with(|f| {
        f.merge(("gatehouse.argon2_memory_kib", 4096))
            .merge(("gatehouse.argon2_iterations", 2))
            .merge(("gatehouse.hash_concurrency", 1))
            .merge(("gatehouse.hash_queue_max", 1000))
    })
    .await
}

/// Fires `queue` unknown logins and then, at once, `guesses` for alice with the right
/// password at `right`; returns the guesses' answers.
async fn burst(
    app: &crate::support::TestApp,
    queue: usize,
    guesses: usize,
    right: usize,
) -> Vec<Answer> {
    let fill = (0..queue).map(|_| login_answer(&app.client, "nobody", WRONG));
    let guess = (0..guesses).map(|i| {
        let password = if i == right { PASSWORD } else { WRONG };
        login_answer(&app.client, "alice", password)
    });
    let (_, answers) = rocket::tokio::join!(join_all(fill), join_all(guess));
    answers
}

#[rocket::async_test]
async fn a_burst_behind_a_full_hashing_queue_gets_no_more_than_the_budget_checked() {
    const GUESSES: usize = 50;
    const RIGHT: usize = 31;
    let app = burst_app().await;
    app.register("alice", "alice@example.com").await;
    let alice = app.account_id("alice").await;

    let answers = burst(&app, 50, GUESSES, RIGHT).await;

    let wrong_checked =
        checked_attempts(&app, alice).await - by_kind(&app, alice, "login_succeeded").await;
    // Five checks in all; the right password, when it is among them, takes one.
    let checked = checked_attempts(&app, alice).await;
    assert_eq!(checked, 5, "checked: the budget, of {GUESSES}");
    assert!((4..=5).contains(&wrong_checked), "{wrong_checked}");
    let statuses: Vec<Status> = answers.iter().map(|a| a.0).collect();
    // Refused unchecked: the budget in flight (429, a second) or the lock (423).
    let refused = |a: &&Answer| [Status::Locked, Status::TooManyRequests].contains(&a.0);
    assert!(
        answers.iter().filter(refused).count() >= GUESSES - 5,
        "{statuses:?}"
    );
    assert!(statuses.iter().all(|s| [
        Status::Ok,
        Status::Unauthorized,
        Status::Locked,
        Status::TooManyRequests
    ]
    .contains(s)));
    let right = &answers[RIGHT];
    if right.0 != Status::Ok {
        // Refused before its check: its answer is that of every wrong guess refused
        // the same way.
        assert!(
            answers
                .iter()
                .filter(|a| a.0 == right.0)
                .all(|a| a == right),
            "{right:?}"
        );
    }
    for answer in answers.iter().filter(|a| a.0 == Status::TooManyRequests) {
        assert_eq!(answer.1["error"]["code"], "rate_limited", "{answer:?}");
        assert!(answer
            .2
            .contains(&("Retry-After".to_string(), "1".to_string())));
    }
    // Whatever happened, the lock holds to its stored end for every 423.
    for answer in answers.iter().filter(|a| a.0 == Status::Locked) {
        assert_eq!(answer.1["error"]["retry_after"], 900, "{answer:?}");
    }
    assert_eq!(
        by_kind(&app, alice, "account_locked").await,
        1,
        "declared once"
    );
}

#[rocket::async_test]
async fn right_passwords_sent_together_are_never_failures_nor_a_lock() {
    let app = burst_app().await;
    app.register("alice", "alice@example.com").await;
    let alice = app.account_id("alice").await;
    let answers: Vec<Answer> =
        join_all((0..40).map(|_| login_answer(&app.client, "alice", PASSWORD))).await;
    let statuses: Vec<Status> = answers.iter().map(|a| a.0).collect();
    assert!(
        statuses
            .iter()
            .all(|s| [Status::Ok, Status::TooManyRequests].contains(s)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&Status::Ok));
    for answer in answers.iter().filter(|a| a.0 == Status::TooManyRequests) {
        assert!(answer
            .2
            .contains(&("Retry-After".to_string(), "1".to_string())));
    }
    assert_eq!(by_kind(&app, alice, "account_locked").await, 0);
    assert_eq!(app.events_with_detail(alice, "account_locked").await, 0);
    assert_eq!(app.failed_logins("alice").await, 0);
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn an_attempt_left_in_flight_by_a_crash_lapses() {
    let app = spawn_app().await;
    app.register("alice", "alice@example.com").await;
    // As a process killed while checking five passwords would leave the row.
    sqlx::query(
        "UPDATE accounts SET attempts_in_flight = 5, attempts_in_flight_until = $1 \
         WHERE username_key = 'alice'",
    )
    .bind(gatehouse::clock::Clock::now(&app.clock) + 30)
    .execute(&app.pool())
    .await
    .unwrap();
    assert_error(
        app.login("alice", PASSWORD).await,
        Status::TooManyRequests,
        "rate_limited",
    )
    .await;
    app.clock.advance(31);
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn during_a_lock_right_and_wrong_passwords_get_identical_answers_and_one_audit_row() {
    const GUESSES: usize = 50;
    let app = burst_app().await;
    app.register("alice", "alice@example.com").await;
    let alice = app.account_id("alice").await;
    for _ in 0..5 {
        app.login("alice", WRONG).await;
    }
    app.clock.advance(120);

    let answers = burst(&app, 20, GUESSES, 17).await;

    let first = &answers[0];
    assert_eq!(first.0, Status::Locked);
    assert_eq!(
        first.1["error"]["retry_after"], 780,
        "from the stored lock end"
    );
    assert!(first
        .2
        .contains(&("Retry-After".to_string(), "780".to_string())));
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer, first, "answer {i} differs");
    }
    assert_eq!(checked_attempts(&app, alice).await, 5, "none was checked");
    let (rows, repeats): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(repeats), 0) AS BIGINT) FROM auth_events \
         WHERE account_id = $1 AND detail LIKE 'account_locked%'",
    )
    .bind(alice)
    .fetch_one(&app.pool())
    .await
    .unwrap();
    assert_eq!((rows, repeats), (1, GUESSES as i64));
    // The admin's view of the trail shows the count.
    let admin = app.signed_in_admin("root", true).await;
    let events: Value = app
        .get_bearer(
            &format!("/api/admin/accounts/{alice}/events"),
            &admin.access,
        )
        .await
        .into_json()
        .await
        .unwrap();
    let refused = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["repeats"] == GUESSES)
        .expect("the refused attempts' row");
    assert_eq!(refused["kind"], "login_failed");
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

#[rocket::async_test]
async fn right_passwords_sent_together_never_lock_the_account() {
    let app = burst_app().await;
    let session = app.signed_in("alice").await;
    // Each re-entry of the right password counts while it is checked; those that
    // come together spend the budget for a moment, then give it back, lock included.
    let setups = (0..12).map(|_| {
        app.post_bearer(
            "/api/auth/2fa/setup",
            &session.access,
            Some(json!({"password": PASSWORD})),
        )
    });
    let statuses: Vec<Status> = join_all(setups)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect();
    assert!(
        statuses
            .iter()
            .all(|s| [Status::Ok, Status::TooManyRequests].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(app.failed_logins("alice").await, 0);
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Ok);
}
