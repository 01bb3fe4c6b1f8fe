use rocket::http::Status;
use serde_json::json;

use crate::support::{assert_error, spawn_app, PASSWORD};

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
