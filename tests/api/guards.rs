//! The guards on routes of the app developer's own, as the README shows them.

use gatehouse::guards::{AuthAccount, AuthSession};
use rocket::http::Status;
use rocket::local::asynchronous::Client;

use crate::support::{assert_error, bearer, spawn_app, spawn_app_with, test_figment, TestApp};

#[get("/hello")]
fn hello(user: Option<AuthAccount>) -> String {
    match user {
        Some(user) => format!("Hello, {}!", user.account.username),
        None => "Hello, stranger!".into(),
    }
}

#[get("/private")]
fn private(user: AuthAccount) -> String {
    format!("Secrets for {}", user.account.username)
}

#[get("/session")]
fn session(session: AuthSession) -> String {
    format!(
        "session {} of {}",
        session.session_id.len(),
        session.account.username
    )
}

async fn app_with_own_routes(app: &TestApp) -> Client {
    let rocket = gatehouse::rocket_with_clock(
        test_figment(&app.db.url),
        std::sync::Arc::new(app.clock.clone()),
    )
    .unwrap()
    .mount("/api/demo", routes![hello, private, session]);
    Client::untracked(rocket).await.unwrap()
}

#[rocket::async_test]
async fn own_routes_use_the_guards() {
    let app = spawn_app().await;
    let tokens = app.signed_in("alice").await;
    let client = app_with_own_routes(&app).await;

    let response = client.get("/api/demo/hello").dispatch().await;
    assert_eq!(response.into_string().await.unwrap(), "Hello, stranger!");
    let response = client
        .get("/api/demo/hello")
        .header(bearer(&tokens.access))
        .dispatch()
        .await;
    assert_eq!(response.into_string().await.unwrap(), "Hello, alice!");

    let response = client.get("/api/demo/private").dispatch().await;
    assert_error(response, Status::Unauthorized, "missing_token").await;
    let response = client
        .get("/api/demo/private")
        .header(bearer(&tokens.access))
        .dispatch()
        .await;
    assert_eq!(response.into_string().await.unwrap(), "Secrets for alice");
}

#[rocket::async_test]
async fn a_deactivated_account_loses_access_at_once_but_may_log_out() {
    let app = spawn_app().await;
    let tokens = app.signed_in("alice").await;
    let client = app_with_own_routes(&app).await;
    sqlx::query("UPDATE accounts SET is_active = 0")
        .execute(&app.pool())
        .await
        .unwrap();

    let response = client
        .get("/api/demo/private")
        .header(bearer(&tokens.access))
        .dispatch()
        .await;
    assert_error(response, Status::Forbidden, "account_inactive").await;
    assert_error(
        app.get_bearer("/api/auth/me", &tokens.access).await,
        Status::Forbidden,
        "account_inactive",
    )
    .await;
    let response = client
        .get("/api/demo/session")
        .header(bearer(&tokens.access))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    let response = client
        .get("/api/demo/hello")
        .header(bearer(&tokens.access))
        .dispatch()
        .await;
    assert_eq!(response.into_string().await.unwrap(), "Hello, stranger!");

    let response = app
        .post_bearer("/api/auth/logout", &tokens.access, None)
        .await;
    assert_eq!(response.status(), Status::NoContent);
}

#[rocket::async_test]
async fn a_session_revoked_by_another_process_is_refused_within_the_cache_interval() {
    let app = spawn_app().await;
    let tokens = app.signed_in("alice").await;
    let client = app_with_own_routes(&app).await;
    let response = client
        .get("/api/demo/private")
        .header(bearer(&tokens.access))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    // Another instance (or the CLI) revokes the session behind this one's back.
    sqlx::query("UPDATE sessions SET revoked_at = 1")
        .execute(&app.pool())
        .await
        .unwrap();
    app.clock.advance(1); // session_cache_ms = 1000
    let response = client
        .get("/api/demo/private")
        .header(bearer(&tokens.access))
        .dispatch()
        .await;
    assert_error(response, Status::Unauthorized, "session_revoked").await;
}

#[rocket::async_test]
async fn without_the_cache_every_request_reads_the_session_state() {
    let app = spawn_app_with(|f| f.merge(("gatehouse.session_cache_ms", 0))).await;
    let tokens = app.signed_in("alice").await;
    assert_eq!(
        app.get_bearer("/api/auth/me", &tokens.access)
            .await
            .status(),
        Status::Ok
    );
    sqlx::query("UPDATE sessions SET revoked_at = 1")
        .execute(&app.pool())
        .await
        .unwrap();
    let response = app.get_bearer("/api/auth/me", &tokens.access).await;
    assert_error(response, Status::Unauthorized, "session_revoked").await;
}
