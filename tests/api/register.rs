use rocket::http::{ContentType, Status};
use serde_json::{json, Value};

use crate::support::{assert_error, spawn_app, spawn_app_with, PASSWORD};

#[rocket::async_test]
async fn register_creates_an_account_without_exposing_the_hash() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/api/auth/register",
            json!({"username": "  Alice ", "email": "Alice@Example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), Status::Created);
    let body: Value = response.into_json().await.unwrap();
    let account = &body["account"];
    assert_eq!(account["username"], "Alice");
    // The local part as typed; the domain in its one (UTS #46) spelling.
    assert_eq!(account["email"], "Alice@example.com");
    assert_eq!(account["is_active"], true);
    assert_eq!(account["is_staff"], false);
    assert_eq!(account["is_superuser"], false);
    assert!(account["id"].is_i64());
    assert!(account["created_at"].is_i64());
    let keys: Vec<_> = account.as_object().unwrap().keys().cloned().collect();
    assert_eq!(account["display_name"], Value::Null);
    assert_eq!(account["email_verified"], false);
    assert_eq!(account["email_verified_at"], Value::Null);
    assert_eq!(keys.len(), 10, "unexpected fields: {keys:?}");
    assert!(!body.to_string().contains("argon2"));

    let stored: String = sqlx::query_scalar("SELECT password_hash FROM accounts")
        .fetch_one(&app.pool())
        .await
        .unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$"),
        "PHC argon2id: {stored}"
    );
}

#[rocket::async_test]
async fn usernames_and_emails_are_unique_whatever_their_case_or_form() {
    let app = spawn_app().await;
    app.register("alice", "alice@example.com").await;
    for (username, email, field) in [
        ("ALICE", "other@example.com", "username"),
        // Fullwidth letters normalise (NFKC) onto the plain name.
        ("ａｌｉｃｅ", "other2@example.com", "username"),
        ("bob", "ALICE@EXAMPLE.COM", "email"),
    ] {
        let response = app
            .post(
                "/api/auth/register",
                json!({"username": username, "email": email, "password": PASSWORD}),
            )
            .await;
        let body = assert_error(response, Status::Conflict, "conflict").await;
        assert_eq!(
            body["error"]["fields"][field], "is already taken",
            "{username} / {email}"
        );
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
        .fetch_one(&app.pool())
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[rocket::async_test]
async fn invalid_fields_are_all_reported_at_once() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/api/auth/register",
            json!({"username": "a b", "email": "not-an-email", "password": "short"}),
        )
        .await;
    let body = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    let fields = &body["error"]["fields"];
    assert!(fields["username"].is_string());
    assert!(fields["email"].is_string());
    assert!(fields["password"].as_str().unwrap().contains("15"));

    let too_long = "x".repeat(1025);
    let response = app
        .post(
            "/api/auth/register",
            json!({"username": "carol", "email": "c@example.com", "password": too_long}),
        )
        .await;
    let body = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    assert!(body["error"]["fields"]["password"]
        .as_str()
        .unwrap()
        .contains("1024"));
}

#[rocket::async_test]
async fn malformed_bodies_get_their_own_errors() {
    let app = spawn_app().await;
    let response = app
        .client
        .post("/api/auth/register")
        .header(ContentType::JSON)
        .body("{not json")
        .dispatch()
        .await;
    assert_error(response, Status::BadRequest, "invalid_json").await;

    let response = app
        .post(
            "/api/auth/register",
            json!({"username": "dave", "password": PASSWORD}),
        )
        .await;
    let body = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    assert_eq!(body["error"]["fields"]["email"], "is required");

    let response = app.client.post("/api/auth/register").dispatch().await;
    assert_error(response, Status::BadRequest, "invalid_json").await;

    let huge =
        json!({"username": "x".repeat(20_000), "email": "e@example.com", "password": PASSWORD});
    let response = app.post("/api/auth/register", huge).await;
    assert_error(response, Status::PayloadTooLarge, "payload_too_large").await;
}

#[rocket::async_test]
async fn registration_can_be_closed() {
    let app = spawn_app_with(|f| f.merge(("gatehouse.registration_open", false))).await;
    let response = app
        .post(
            "/api/auth/register",
            json!({"username": "erin", "email": "e@example.com", "password": PASSWORD}),
        )
        .await;
    assert_error(response, Status::Forbidden, "registration_closed").await;
}

#[rocket::async_test]
async fn look_alike_domains_and_blank_names_are_refused_and_domains_have_one_spelling() {
    let app = spawn_app().await;
    let register = |username: &str, email: &str, display_name: &str| {
        json!({"username": username, "email": email, "password": PASSWORD,
               "display_name": display_name})
    };
    for (email, display_name, field) in [
        ("bob@p\u{430}ypal.com", "Bob", "email"),
        ("bob@xn--pypal-4ve.com", "Bob", "email"),
        (
            "bob@\u{430}\u{440}\u{440}\u{4cf}\u{435}.com",
            "Bob",
            "email",
        ),
        ("bob@example.com", "\u{2800}", "display_name"),
        ("bob@example.com", "\u{3164}", "display_name"),
        ("bob@example.com", "Bo\u{3164}b", "display_name"),
        (
            "bob@example.com",
            &format!("Bo{}b", "\u{301}".repeat(9)),
            "display_name",
        ),
    ] {
        let response = app
            .post("/api/auth/register", register("bob", email, display_name))
            .await;
        let body = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
        assert!(
            body["error"]["fields"][field].is_string(),
            "{email} {display_name:?}: {body}"
        );
    }
    let response = app
        .post(
            "/api/auth/register",
            register("ann", "Ann@B\u{dc}CHER.example", "Ann"),
        )
        .await;
    assert_eq!(response.status(), Status::Created);
    let body: Value = response.into_json().await.unwrap();
    assert_eq!(body["account"]["email"], "Ann@xn--bcher-kva.example");
    for spelling in [
        "ann@xn--bcher-kva.example",
        "ANN@B\u{dc}CHER.example",
        "ann@b\u{fc}ch\u{fe00}er\u{3002}example",
    ] {
        assert_eq!(
            app.login(spelling, PASSWORD).await.status(),
            Status::Ok,
            "{spelling}"
        );
    }
    let response = app
        .post(
            "/api/auth/register",
            register("ann2", "ann@xn--bcher-kva.EXAMPLE", "Ann"),
        )
        .await;
    assert_error(response, Status::Conflict, "conflict").await;
}

#[rocket::async_test]
async fn an_address_stored_before_domains_were_mapped_stays_its_owners() {
    let app = spawn_app().await;
    app.register("ann", "ann@xn--bcher-kva.example").await;
    // As an account made before domains were mapped would hold it.
    sqlx::query(
        "UPDATE accounts SET email = 'ann@b\u{fc}cher.example', \
         email_key = 'ann@b\u{fc}cher.example' WHERE username_key = 'ann'",
    )
    .execute(&app.pool())
    .await
    .unwrap();
    for spelling in ["ANN@B\u{dc}CHER.example", "ann@xn--bcher-kva.example"] {
        let response = app
            .post(
                "/api/auth/register",
                json!({"username": "squatter", "email": spelling, "password": PASSWORD}),
            )
            .await;
        assert_error(response, Status::Conflict, "conflict").await;
    }
    assert_eq!(
        app.login("ann@b\u{fc}cher.example", PASSWORD)
            .await
            .status(),
        Status::Ok
    );
}
