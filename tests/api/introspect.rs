//! RFC 7662 introspection for services: active from the session's state now (a
//! logout shows at once), only with the configured credential, 404 without one.

use rocket::http::{ContentType, Header, Status};
use serde_json::Value;

use crate::support::{assert_error, spawn_app, spawn_app_with, TestApp};

const SERVICE_SECRET: &str = "service-credential-9f3b7d1a5c8e2f4b6d0a1c3e5f7b9d2a";

async fn introspect(app: &TestApp, credential: Option<&str>, token: &str) -> (Status, Value) {
    let form = format!("token={token}&token_type_hint=access_token");
    introspect_form(app, credential, &form).await
}

async fn introspect_form(app: &TestApp, credential: Option<&str>, form: &str) -> (Status, Value) {
    let mut request = app
        .client
        .post("/api/auth/introspect")
        .header(ContentType::Form)
        .body(form);
    if let Some(credential) = credential {
        request = request.header(Header::new("Authorization", format!("Bearer {credential}")));
    }
    let response = request.dispatch().await;
    let status = response.status();
    (status, response.into_json().await.unwrap_or(Value::Null))
}

#[rocket::async_test]
async fn a_service_learns_whether_a_token_is_active_now() {
    let app = spawn_app_with(|f| f.merge(("gatehouse.introspection_secret", SERVICE_SECRET))).await;
    let alice = app.signed_in("alice").await;
    let (status, body) = introspect(&app, Some(SERVICE_SECRET), &alice.access).await;
    assert_eq!(status, Status::Ok, "{body}");
    assert_eq!(body["active"], true);
    assert_eq!(body["username"], "alice");
    assert_eq!(body["token_type"], "access_token");
    assert_eq!(
        body["roles"],
        serde_json::json!([]),
        "the app's own claims too"
    );
    assert!(body["exp"].is_i64() && body["sid"].is_string());
    // The app's claims as the account is now, not as the token was minted.
    sqlx::query("UPDATE accounts SET is_staff = 1 WHERE username_key = 'alice'")
        .execute(&app.pool())
        .await
        .unwrap();
    let (_, body) = introspect(&app, Some(SERVICE_SECRET), &alice.access).await;
    assert_eq!(body["roles"], serde_json::json!(["staff"]), "{body}");

    // Logged out: inactive at once, though the token has not expired.
    let response = app
        .post_bearer("/api/auth/logout", &alice.access, None)
        .await;
    assert_eq!(response.status(), Status::NoContent);
    let (status, body) = introspect(&app, Some(SERVICE_SECRET), &alice.access).await;
    assert_eq!(
        (status, body),
        (Status::Ok, serde_json::json!({"active": false}))
    );
    for junk in ["", "not-a-token", &alice.refresh] {
        let (_, body) = introspect(&app, Some(SERVICE_SECRET), junk).await;
        assert_eq!(body, serde_json::json!({"active": false}), "{junk}");
    }

    // Only for the holder of the credential.
    let bob = app.signed_in("bob").await;
    let (status, _) = introspect(&app, None, &bob.access).await;
    assert_eq!(status, Status::Unauthorized);
    let (status, _) = introspect(&app, Some(&bob.access), &bob.access).await;
    assert_eq!(status, Status::Unauthorized);
}

#[rocket::async_test]
async fn without_a_credential_configured_the_route_is_not_there() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let response = app
        .client
        .post("/api/auth/introspect")
        .header(ContentType::Form)
        .header(Header::new(
            "Authorization",
            format!("Bearer {SERVICE_SECRET}"),
        ))
        .body(format!("token={}", alice.access))
        .dispatch()
        .await;
    assert_error(response, Status::NotFound, "not_found").await;
}

#[rocket::async_test]
async fn a_standard_request_names_the_token_alone_and_extensions_are_ignored() {
    let app = spawn_app_with(|f| f.merge(("gatehouse.introspection_secret", SERVICE_SECRET))).await;
    let alice = app.signed_in("alice").await;
    for form in [
        format!("token={}", alice.access),
        format!(
            "token={}&resource=https%3A%2F%2Fapi.example&client_id=svc",
            alice.access
        ),
    ] {
        let (status, body) = introspect_form(&app, Some(SERVICE_SECRET), &form).await;
        assert_eq!(
            (status, &body["active"]),
            (Status::Ok, &Value::Bool(true)),
            "{form}: {body}"
        );
    }
    let (status, body) =
        introspect_form(&app, Some(SERVICE_SECRET), "token_type_hint=access_token").await;
    assert_eq!(status, Status::UnprocessableEntity, "{body}");
}
