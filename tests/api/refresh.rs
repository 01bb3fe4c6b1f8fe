use rocket::futures::future::join_all;
use rocket::http::{Cookie, Status};
use serde_json::{json, Value};

use crate::support::{assert_error, cookie_name, spawn_app, TestApp};

async fn refresh_with_header(app: &TestApp, token: &str) -> (Status, Value) {
    let response = app.post_bearer("/api/auth/refresh", token, None).await;
    let status = response.status();
    (status, response.into_json().await.unwrap())
}

#[rocket::async_test]
async fn refresh_rotates_the_pair_and_spends_the_old_token() {
    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    app.clock.advance(5);
    let (status, body) = refresh_with_header(&app, &session.refresh).await;
    assert_eq!(status, Status::Ok);
    let new_refresh = body["refresh_token"].as_str().unwrap().to_string();
    let new_access = body["access_token"].as_str().unwrap().to_string();
    assert_ne!(new_refresh, session.refresh);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        app.get_bearer("/api/auth/me", &new_access).await.status(),
        Status::Ok
    );

    // Past the grace interval the spent token is a replay: the whole session goes.
    app.clock.advance(11);
    let response = app
        .post_bearer("/api/auth/refresh", &session.refresh, None)
        .await;
    assert_error(response, Status::Unauthorized, "token_reused").await;
    let response = app
        .post_bearer("/api/auth/refresh", &new_refresh, None)
        .await;
    assert_error(response, Status::Unauthorized, "session_revoked").await;
    assert_error(
        app.get_bearer("/api/auth/me", &new_access).await,
        Status::Unauthorized,
        "session_revoked",
    )
    .await;
    assert_error(
        app.get_bearer("/api/auth/me", &session.access).await,
        Status::Unauthorized,
        "session_revoked",
    )
    .await;
}

#[rocket::async_test]
async fn within_the_grace_interval_the_old_token_gets_the_current_pair() {
    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    let (_, first) = refresh_with_header(&app, &session.refresh).await;
    app.clock.advance(10);
    let (status, second) = refresh_with_header(&app, &session.refresh).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(second["refresh_token"], first["refresh_token"]);
    // The current token still rotates normally afterwards.
    let (status, third) = refresh_with_header(&app, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, Status::Ok);
    assert_ne!(third["refresh_token"], first["refresh_token"]);
}

#[rocket::async_test]
async fn parallel_refreshes_from_several_tabs_all_succeed_on_one_session() {
    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    let responses = join_all((0..6).map(|_| refresh_with_header(&app, &session.refresh))).await;
    let tokens: Vec<&Value> = responses
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, Status::Ok, "{body}");
            &body["refresh_token"]
        })
        .collect();
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "every tab gets the same current token"
    );
    let generation: i64 = sqlx::query_scalar("SELECT refresh_generation FROM sessions")
        .fetch_one(&app.pool())
        .await
        .unwrap();
    assert_eq!(generation, 1, "rotated exactly once");
    let live: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL")
        .fetch_one(&app.pool())
        .await
        .unwrap();
    assert_eq!(live, 1);
}

#[rocket::async_test]
async fn the_refresh_token_is_read_from_header_cookie_or_body() {
    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    // Body.
    let response = app
        .post(
            "/api/auth/refresh",
            json!({"refresh_token": session.refresh}),
        )
        .await;
    assert_eq!(response.status(), Status::Ok);
    // The session's CSRF token, as the cookie set with the new pair carries it.
    let session_csrf = response
        .cookies()
        .get(&cookie_name("csrf"))
        .expect("the csrf cookie")
        .value()
        .to_string();
    let body: Value = response.into_json().await.unwrap();
    // Cookie, with no body and no Content-Type: it needs the CSRF header.
    let refresh_cookie = Cookie::new(
        cookie_name("refresh"),
        body["refresh_token"].as_str().unwrap().to_string(),
    );
    let response = app
        .client
        .post("/api/auth/refresh")
        .cookie(refresh_cookie.clone())
        .dispatch()
        .await;
    assert_error(response, Status::Forbidden, "csrf_failed").await;
    // A cookie and header of the attacker's choosing (planted by a sibling subdomain)
    // are worth nothing: the token is the session's.
    let response = app
        .client
        .post("/api/auth/refresh")
        .cookie(refresh_cookie.clone())
        .cookie(Cookie::new(
            cookie_name("csrf"),
            "a-planted-csrf-token-value",
        ))
        .header(rocket::http::Header::new(
            "X-CSRF-Token",
            "a-planted-csrf-token-value",
        ))
        .dispatch()
        .await;
    assert_error(response, Status::Forbidden, "csrf_failed").await;
    let response = app
        .client
        .post("/api/auth/refresh")
        .cookie(refresh_cookie)
        .cookie(Cookie::new(cookie_name("csrf"), "whatever the cookie says"))
        .header(rocket::http::Header::new("X-CSRF-Token", session_csrf))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = response.into_json().await.unwrap();
    // Header.
    let (status, _) = refresh_with_header(&app, body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, Status::Ok);
    // None at all.
    let response = app.client.post("/api/auth/refresh").dispatch().await;
    assert_error(response, Status::Unauthorized, "missing_token").await;
    let response = app
        .post("/api/auth/refresh", json!({"refresh_token": "nonsense"}))
        .await;
    assert_error(response, Status::Unauthorized, "invalid_token").await;
}

#[rocket::async_test]
async fn sessions_expire_unless_refreshed_and_remember_me_lasts_longer() {
    let app = spawn_app().await;
    let short = app.signed_in("alice").await;
    let response = app
        .post(
            "/api/auth/login",
            json!({"login": "alice", "password": crate::support::PASSWORD, "remember": true}),
        )
        .await;
    let long: Value = response.into_json().await.unwrap();

    app.clock.advance(86_400 + 31);
    let response = app
        .post_bearer("/api/auth/refresh", &short.refresh, None)
        .await;
    assert_error(response, Status::Unauthorized, "token_expired").await;
    let (status, _) = refresh_with_header(&app, long["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, Status::Ok);
}

#[rocket::async_test]
async fn refreshing_slides_the_session_expiry() {
    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    app.clock.advance(80_000);
    let (status, body) = refresh_with_header(&app, &session.refresh).await;
    assert_eq!(status, Status::Ok);
    app.clock.advance(80_000);
    let (status, _) = refresh_with_header(&app, body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        status,
        Status::Ok,
        "the first refresh extended the 24 h session"
    );
}

#[rocket::async_test]
async fn an_inactive_account_cannot_refresh() {
    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    sqlx::query("UPDATE accounts SET is_active = 0")
        .execute(&app.pool())
        .await
        .unwrap();
    let response = app
        .post_bearer("/api/auth/refresh", &session.refresh, None)
        .await;
    assert_error(
        response,
        rocket::http::Status::Forbidden,
        "account_inactive",
    )
    .await;
}
