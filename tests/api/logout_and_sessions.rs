use rocket::http::Status;
use serde_json::Value;

use crate::support::{assert_error, cookie_name, spawn_app};

#[rocket::async_test]
async fn logout_revokes_the_session_at_once_and_clears_cookies() {
    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    let response = app
        .post_bearer("/api/auth/logout", &session.access, None)
        .await;
    assert_eq!(response.status(), Status::NoContent);
    let cleared: Vec<String> = response
        .headers()
        .get("Set-Cookie")
        .map(str::to_string)
        .collect();
    // The access and refresh cookies expire; the CSRF token is replaced.
    let tokens: Vec<&String> = cleared
        .iter()
        .filter(|c| !c.starts_with(&format!("{}=", cookie_name("csrf"))))
        .collect();
    assert_eq!(tokens.len(), 2, "{cleared:?}");
    assert!(
        tokens
            .iter()
            .all(|c| c.contains("Max-Age=0") || c.contains("Expires=")),
        "{cleared:?}"
    );

    assert_error(
        app.get_bearer("/api/auth/me", &session.access).await,
        Status::Unauthorized,
        "session_revoked",
    )
    .await;
    let response = app
        .post_bearer("/api/auth/refresh", &session.refresh, None)
        .await;
    assert_error(response, Status::Unauthorized, "session_revoked").await;
    // Logging out again is no error: the session is ended either way.
    let response = app
        .post_bearer("/api/auth/logout", &session.access, None)
        .await;
    assert_eq!(response.status(), Status::NoContent);
}

/// The names of the cookies a response expires.
fn expired_cookies(response: &rocket::local::asynchronous::LocalResponse<'_>) -> Vec<String> {
    response
        .headers()
        .get("Set-Cookie")
        .filter(|c| c.contains("Max-Age=0"))
        .filter_map(|c| c.split('=').next().map(str::to_string))
        .collect()
}

#[rocket::async_test]
async fn an_spa_idle_past_its_access_token_still_logs_out_with_its_refresh_token() {
    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    app.clock.advance(16 * 60);
    // The access token has expired: it still names its session for a logout.
    let response = app
        .post_bearer("/api/auth/logout", &session.access, None)
        .await;
    assert_eq!(response.status(), Status::NoContent);
    let response = app
        .post_bearer("/api/auth/refresh", &session.refresh, None)
        .await;
    assert_error(response, Status::Unauthorized, "session_revoked").await;

    // The refresh token in the body (or the header) does it as well.
    let other = app.signed_in("alice").await;
    app.clock.advance(16 * 60);
    let response = app
        .post(
            "/api/auth/logout",
            serde_json::json!({"refresh_token": other.refresh}),
        )
        .await;
    assert_eq!(response.status(), Status::NoContent);
    let response = app
        .post_bearer("/api/auth/refresh", &other.refresh, None)
        .await;
    assert_error(response, Status::Unauthorized, "session_revoked").await;
}

#[rocket::async_test]
async fn only_a_logout_that_proves_its_token_clears_the_cookies() {
    let app = spawn_app().await;
    // A cross-site form: no cookies (SameSite), no token. Nothing to clear for it.
    let response = app.client.post("/api/auth/logout").dispatch().await;
    assert!(expired_cookies(&response).is_empty());
    assert_error(response, Status::Unauthorized, "missing_token").await;
    let response = app
        .post_bearer("/api/auth/logout", "not.a.token", None)
        .await;
    assert!(expired_cookies(&response).is_empty());
    assert_error(response, Status::Unauthorized, "invalid_token").await;
    // A token of a session that already ended still clears them.
    let session = app.signed_in("alice").await;
    app.post_bearer("/api/auth/logout", &session.access, None)
        .await;
    let response = app
        .post_bearer("/api/auth/logout", &session.access, None)
        .await;
    let expired = expired_cookies(&response);
    assert_eq!(response.status(), Status::NoContent);
    for name in ["access", "refresh"] {
        assert!(expired.contains(&cookie_name(name)), "{expired:?}");
    }
}

#[rocket::async_test]
async fn logout_by_refresh_cookie_needs_the_csrf_header() {
    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    let refresh = rocket::http::Cookie::new(cookie_name("refresh"), session.refresh.clone());
    let response = app
        .client
        .post("/api/auth/logout")
        .cookie(refresh.clone())
        .dispatch()
        .await;
    assert_error(response, Status::Forbidden, "csrf_failed").await;
    // The session's own CSRF token, as a login by cookie would have set it.
    let sid_token = app
        .post(
            "/api/auth/refresh",
            serde_json::json!({"refresh_token": session.refresh}),
        )
        .await;
    let csrf = sid_token
        .cookies()
        .get(&cookie_name("csrf"))
        .unwrap()
        .value()
        .to_string();
    let body: Value = sid_token.into_json().await.unwrap();
    let refresh = rocket::http::Cookie::new(
        cookie_name("refresh"),
        body["refresh_token"].as_str().unwrap().to_string(),
    );
    let response = app
        .client
        .post("/api/auth/logout")
        .cookie(refresh)
        .header(rocket::http::Header::new("X-CSRF-Token", csrf))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::NoContent);
    assert_error(
        app.get_bearer("/api/auth/me", body["access_token"].as_str().unwrap())
            .await,
        Status::Unauthorized,
        "session_revoked",
    )
    .await;
}

#[rocket::async_test]
async fn sessions_are_listed_with_the_current_one_marked() {
    let app = spawn_app().await;
    let first = app.signed_in("alice").await;
    let response = app
        .client
        .post("/api/auth/login")
        .header(rocket::http::Header::new("User-Agent", "Phone Browser 1.0"))
        .header(rocket::http::ContentType::JSON)
        .body(
            serde_json::json!({"login": "alice", "password": crate::support::PASSWORD}).to_string(),
        )
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);

    let response = app.get_bearer("/api/auth/sessions", &first.access).await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = response.into_json().await.unwrap();
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(sessions
        .iter()
        .any(|s| s["user_agent"] == "Phone Browser 1.0"));
    for session in sessions {
        for key in [
            "id",
            "created_at",
            "last_used_at",
            "expires_at",
            "user_agent",
            "ip",
            "current",
        ] {
            assert!(session.get(key).is_some(), "{key} missing in {session}");
        }
    }
}

#[rocket::async_test]
async fn one_session_can_be_revoked_by_its_owner_only() {
    let app = spawn_app().await;
    let laptop = app.signed_in("alice").await;
    let phone = app.signed_in("alice").await;
    let mallory = app.signed_in("mallory").await;

    let body: Value = app
        .get_bearer("/api/auth/sessions", &laptop.access)
        .await
        .into_json()
        .await
        .unwrap();
    let phone_id = body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Someone else's session id is simply not found.
    let response = app
        .delete_bearer(&format!("/api/auth/sessions/{phone_id}"), &mallory.access)
        .await;
    assert_error(response, Status::NotFound, "not_found").await;
    assert_eq!(
        app.get_bearer("/api/auth/me", &phone.access).await.status(),
        Status::Ok
    );

    let response = app
        .delete_bearer(&format!("/api/auth/sessions/{phone_id}"), &laptop.access)
        .await;
    assert_eq!(response.status(), Status::NoContent);
    assert_error(
        app.get_bearer("/api/auth/me", &phone.access).await,
        Status::Unauthorized,
        "session_revoked",
    )
    .await;
    assert_eq!(
        app.get_bearer("/api/auth/me", &laptop.access)
            .await
            .status(),
        Status::Ok
    );

    let response = app
        .delete_bearer(&format!("/api/auth/sessions/{phone_id}"), &laptop.access)
        .await;
    assert_error(response, Status::NotFound, "not_found").await;
}

#[rocket::async_test]
async fn all_other_sessions_can_be_revoked_at_once() {
    let app = spawn_app().await;
    let keep = app.signed_in("alice").await;
    let others = [app.signed_in("alice").await, app.signed_in("alice").await];
    let response = app.delete_bearer("/api/auth/sessions", &keep.access).await;
    assert_eq!(response.status(), Status::NoContent);
    for other in &others {
        assert_error(
            app.get_bearer("/api/auth/me", &other.access).await,
            Status::Unauthorized,
            "session_revoked",
        )
        .await;
    }
    let body: Value = app
        .get_bearer("/api/auth/sessions", &keep.access)
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(body["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(body["sessions"][0]["current"], true);
}
