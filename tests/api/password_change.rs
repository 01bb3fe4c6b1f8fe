use rocket::futures::future::join_all;
use rocket::http::Status;
use serde_json::json;

use crate::support::{assert_error, spawn_app, spawn_app_with, PASSWORD};

#[rocket::async_test]
async fn changing_the_password_signs_out_the_other_sessions() {
    let app = spawn_app().await;
    let here = app.signed_in("alice").await;
    let elsewhere = app.signed_in("alice").await;
    let body = json!({"current_password": PASSWORD, "new_password": "a much better passphrase"});
    let response = app
        .post_bearer("/api/auth/password", &here.access, Some(body))
        .await;
    assert_eq!(response.status(), Status::NoContent);

    assert_eq!(
        app.get_bearer("/api/auth/me", &here.access).await.status(),
        Status::Ok
    );
    assert_error(
        app.get_bearer("/api/auth/me", &elsewhere.access).await,
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
        app.login("alice", "a much better passphrase")
            .await
            .status(),
        Status::Ok
    );
}

#[rocket::async_test]
async fn a_wrong_current_password_or_a_weak_new_one_changes_nothing() {
    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    let body = json!({"current_password": "not it", "new_password": "a much better passphrase"});
    let response = app
        .post_bearer("/api/auth/password", &session.access, Some(body))
        .await;
    let error = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    assert_eq!(error["error"]["fields"]["current_password"], "is incorrect");

    let body = json!({"current_password": PASSWORD, "new_password": "short"});
    let response = app
        .post_bearer("/api/auth/password", &session.access, Some(body))
        .await;
    let error = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    assert!(error["error"]["fields"]["new_password"].is_string());

    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn changing_the_password_needs_a_session() {
    let app = spawn_app().await;
    let body = json!({"current_password": PASSWORD, "new_password": "a much better passphrase"});
    assert_error(
        app.post("/api/auth/password", body).await,
        Status::Unauthorized,
        "missing_token",
    )
    .await;
}

#[rocket::async_test]
async fn a_burst_of_password_changes_gets_no_more_than_the_budget_checked() {
    const REQUESTS: usize = 40;
    const RIGHT: usize = 23;
    let app = spawn_app_with(|f| {
        f.merge(("gatehouse.argon2_memory_kib", 4096))
            .merge(("gatehouse.hash_concurrency", 1))
            .merge(("gatehouse.hash_queue_max", 1000))
    })
    .await;
    let session = app.signed_in("alice").await;
    let alice = app.account_id("alice").await;
    let changes = (0..REQUESTS).map(|i| {
        let current = if i == RIGHT { PASSWORD } else { "not it" };
        let body = json!({"current_password": current, "new_password": "a much better passphrase"});
        let app = &app;
        let access = session.access.clone();
        async move {
            let response = app
                .post_bearer("/api/auth/password", &access, Some(body))
                .await;
            let status = response.status();
            (status, response.into_string().await.unwrap_or_default())
        }
    });
    let answers = join_all(changes).await;

    let checked = app.events_with_detail(alice, "wrong_password").await;
    // The budget is five checks; the right password, when it is among them, takes one.
    assert!(
        (4..=5).contains(&checked),
        "wrong passwords checked: {checked} of {REQUESTS}"
    );
    // Refused unchecked: the budget in flight (429) or the lock (423).
    let refused = answers
        .iter()
        .filter(|a| [Status::Locked, Status::TooManyRequests].contains(&a.0))
        .count();
    assert!(refused >= REQUESTS - 5, "{answers:?}");
    let right = &answers[RIGHT];
    if right.0 != Status::NoContent {
        // Refused unchecked, exactly like the wrong ones refused the same way.
        assert!(
            answers
                .iter()
                .filter(|a| a.0 == right.0)
                .all(|a| a == right),
            "{answers:?}"
        );
        assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Locked);
    }
}
