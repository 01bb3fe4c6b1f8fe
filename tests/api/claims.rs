//! The parts' and features' access-token claims (the `claims` hook; the admin part adds the
//! account's roles): in the token at login and at each refresh, readable in a guard.

use std::sync::Arc;

use base64::Engine;
use gatehouse::clock::ManualClock;
use gatehouse::guards::AuthAccount;
use rocket::http::Status;
use rocket::local::asynchronous::Client;
use rocket::serde::json::Json;
use serde_json::{json, Value};

use crate::support::{test_figment, TestApp, TestDatabase};

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

#[get("/claims")]
fn claims(me: AuthAccount) -> Json<Value> {
    Json(Value::Object(me.custom_claims()))
}

/// The app with one route of a cloner's own that reads the claims.
async fn app_with_probe() -> TestApp {
    let db = TestDatabase::new().await;
    let clock = ManualClock::new();
    let rocket = gatehouse::rocket_with_clock(test_figment(&db.url), Arc::new(clock.clone()))
        .expect("valid test settings")
        .mount("/probe", routes![claims]);
    let client = Client::untracked(rocket).await.expect("the app starts");
    TestApp { client, clock, db }
}

#[rocket::async_test]
async fn the_apps_claims_ride_in_the_access_token_and_reach_the_guards() {
    let app = app_with_probe().await;
    let staff = app.signed_in_admin("boss", false).await;
    let claims = payload(&staff.access);
    assert_eq!(claims["roles"], json!(["staff"]));
    assert_eq!(claims["typ"], "access", "Gatehouse's own claims stand");
    assert!(
        payload(&staff.refresh).get("roles").is_none(),
        "access tokens only"
    );
    let seen: Value = app
        .get_bearer("/probe/claims", &staff.access)
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(seen, json!({"roles": ["staff"]}));

    // A refresh mints them again from the account as it is now.
    sqlx::query("UPDATE accounts SET is_superuser = 1 WHERE username_key = 'boss'")
        .execute(&app.pool())
        .await
        .unwrap();
    let response = app
        .post("/api/auth/refresh", json!({"refresh_token": staff.refresh}))
        .await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = response.into_json().await.unwrap();
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(payload(access)["roles"], json!(["staff", "superuser"]));

    let plain = app.signed_in("alice").await;
    assert_eq!(payload(&plain.access)["roles"], json!([]));
}
