//! The account's own profile: a display name given at registration, changed with
//! `PATCH /api/auth/me` or on the account page, validated and normalised.

use rocket::http::Status;
use serde_json::{json, Value};

use crate::support::{assert_error, spawn_app, TestApp, PASSWORD};

/// The account as `GET /api/auth/me` shows it now.
async fn account_now(app: &TestApp, token: &str) -> Value {
    app.get_bearer("/api/auth/me", token)
        .await
        .into_json()
        .await
        .expect("the account")
}

#[rocket::async_test]
async fn a_display_name_is_optional_at_registration_and_null_when_unset() {
    let app = spawn_app().await;
    let plain = app.register("alice", "alice@example.com").await;
    assert_eq!(plain["account"]["display_name"], Value::Null);

    let response = app
        .post(
            "/api/auth/register",
            json!({"username": "bob", "email": "bob@example.com", "password": PASSWORD,
                   "display_name": "  Bob the Builder  "}),
        )
        .await;
    assert_eq!(response.status(), Status::Created);
    let body: Value = response.into_json().await.unwrap();
    assert_eq!(body["account"]["display_name"], "Bob the Builder");
}

#[rocket::async_test]
async fn the_owner_changes_and_clears_the_display_name_and_guards_see_it_at_once() {
    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    // Decomposed "é" (e + combining acute) is stored composed (NFC).
    let response = app
        .patch_bearer(
            "/api/auth/me",
            &session.access,
            json!({"display_name": "Ame\u{301}lie"}),
        )
        .await;
    assert_eq!(response.status(), Status::Ok);
    let account: Value = response.into_json().await.unwrap();
    assert_eq!(account["display_name"], "Am\u{e9}lie");
    assert_eq!(account["username"], "alice");

    let me = account_now(&app, &session.access).await;
    assert_eq!(
        me["display_name"], "Am\u{e9}lie",
        "the cached account is refreshed"
    );

    for clear in [
        json!({"display_name": null}),
        json!({"display_name": "   "}),
    ] {
        let response = app
            .patch_bearer("/api/auth/me", &session.access, clear)
            .await;
        assert_eq!(response.status(), Status::Ok);
        let account: Value = response.into_json().await.unwrap();
        assert_eq!(account["display_name"], Value::Null);
    }
}

#[rocket::async_test]
async fn bad_display_names_are_refused_with_the_field_named_and_nothing_changes() {
    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    for bad in [
        "x".repeat(101),
        "tab\tinside".to_string(),
        "bell\u{7}".to_string(),
        "evil\u{202E}txt.exe".to_string(),
        "\u{200B}".to_string(),
        "\u{3164}".to_string(),
        "a\u{2028}b".to_string(),
    ] {
        let response = app
            .patch_bearer(
                "/api/auth/me",
                &session.access,
                json!({"display_name": bad}),
            )
            .await;
        let body = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
        assert!(
            body["error"]["fields"]["display_name"].is_string(),
            "{body}"
        );
    }
    // A hundred characters is the limit, counted after normalisation.
    let response = app
        .patch_bearer(
            "/api/auth/me",
            &session.access,
            json!({"display_name": "e\u{301}".repeat(100)}),
        )
        .await;
    assert_eq!(response.status(), Status::Ok);

    let response = app
        .patch_bearer("/api/auth/me", &session.access, json!({"is_staff": true}))
        .await;
    assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    let response = app
        .patch_bearer("/api/auth/me", &session.access, json!({}))
        .await;
    let body = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    assert!(
        body["error"]["fields"]["display_name"].is_string(),
        "{body}"
    );
    let me = account_now(&app, &session.access).await;
    assert_eq!(
        me["display_name"],
        "\u{e9}".repeat(100),
        "an empty body changes nothing"
    );
    let me = account_now(&app, &session.access).await;
    assert_eq!(me["is_staff"], false);

    let response = app
        .post(
            "/api/auth/register",
            json!({"username": "bob", "email": "bob@example.com", "password": PASSWORD,
                   "display_name": "a\u{0}b"}),
        )
        .await;
    let body = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    assert!(
        body["error"]["fields"]["display_name"].is_string(),
        "{body}"
    );
}

#[rocket::async_test]
async fn patching_me_needs_a_session() {
    let app = spawn_app().await;
    let response = app
        .client
        .patch("/api/auth/me")
        .header(rocket::http::ContentType::JSON)
        .body(json!({"display_name": "x"}).to_string())
        .dispatch()
        .await;
    assert_error(response, Status::Unauthorized, "missing_token").await;
}
