//! The guards on routes of the app developer's own, as the README shows them.

use gatehouse::guards::{AuthAccount, AuthSession, StaffAccount, SuperuserAccount};
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

#[get("/staff")]
fn staff_only(staff: StaffAccount) -> String {
    format!("Staff room: {}", staff.account.username)
}

#[get("/root")]
fn superuser_only(root: SuperuserAccount) -> String {
    format!("Engine room: {}", root.account.username)
}

async fn app_with_own_routes(app: &TestApp) -> Client {
    let rocket = gatehouse::rocket_with_clock(
        test_figment(&app.db.url),
        std::sync::Arc::new(app.clock.clone()),
    )
    .unwrap()
    .mount(
        "/api/demo",
        routes![hello, private, session, staff_only, superuser_only],
    );
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

#[rocket::async_test]
async fn staff_and_superuser_guards_admit_only_their_roles() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let staff = app.signed_in_admin("helper", false).await;
    let root = app.signed_in_admin("root", true).await;
    let client = app_with_own_routes(&app).await;
    let get = |uri: &'static str, token: &str| client.get(uri).header(bearer(token)).dispatch();

    assert_error(
        client.get("/api/demo/staff").dispatch().await,
        Status::Unauthorized,
        "missing_token",
    )
    .await;
    assert_error(
        get("/api/demo/staff", &alice.access).await,
        Status::Forbidden,
        "forbidden",
    )
    .await;
    let response = get("/api/demo/staff", &staff.access).await;
    assert_eq!(response.into_string().await.unwrap(), "Staff room: helper");
    let response = get("/api/demo/staff", &root.access).await;
    assert_eq!(response.into_string().await.unwrap(), "Staff room: root");

    assert_error(
        get("/api/demo/root", &staff.access).await,
        Status::Forbidden,
        "forbidden",
    )
    .await;
    let response = get("/api/demo/root", &root.access).await;
    assert_eq!(response.into_string().await.unwrap(), "Engine room: root");
}

#[rocket::async_test]
async fn a_block_made_by_another_process_is_seen_within_the_cache_interval() {
    let app = spawn_app().await;
    let tokens = app.signed_in("alice").await;
    let client = app_with_own_routes(&app).await;
    let private = || {
        client
            .get("/api/demo/private")
            .header(bearer(&tokens.access))
            .dispatch()
    };
    assert_eq!(private().await.status(), Status::Ok);
    // The CLI on the same database blocks alice; it cannot reach this process's cache.
    sqlx::query("UPDATE accounts SET blocked_at = 1, block_reason = 'cli'")
        .execute(&app.pool())
        .await
        .unwrap();
    app.clock.advance(1);
    assert_error(private().await, Status::Forbidden, "account_blocked").await;
}
