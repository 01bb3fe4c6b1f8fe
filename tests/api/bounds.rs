//! Bounds on sessions and storage: an absolute session lifetime, a cap on live
//! sessions per account, user agents cut to size wherever stored, and pruning of ended
//! sessions and old audit events (by the server's task and by `gatehouse prune`).

use rocket::http::{ContentType, Header, Status};
use serde_json::{json, Value};

use crate::cli::{gatehouse, stderr, stdout};
use crate::support::{assert_error, spawn_app, spawn_app_with, PASSWORD};

async fn refresh(app: &crate::support::TestApp, token: &str) -> (Status, Value) {
    let response = app
        .post("/api/auth/refresh", json!({ "refresh_token": token }))
        .await;
    let status = response.status();
    (status, response.into_json().await.unwrap_or(Value::Null))
}

#[rocket::async_test]
async fn refreshing_never_extends_a_session_past_its_absolute_lifetime() {
    let app = spawn_app_with(|f| f.merge(("gatehouse.session_max_lifetime", 3600))).await;
    let session = app.signed_in("alice").await;
    let mut token = session.refresh;
    for _ in 0..3 {
        app.clock.advance(1000);
        let (status, body) = refresh(&app, &token).await;
        assert_eq!(status, Status::Ok, "{body}");
        let listed: Value = app
            .get_bearer("/api/auth/sessions", body["access_token"].as_str().unwrap())
            .await
            .into_json()
            .await
            .unwrap();
        let current = &listed["sessions"][0];
        let lifetime =
            current["expires_at"].as_i64().unwrap() - current["created_at"].as_i64().unwrap();
        assert_eq!(
            lifetime, 3600,
            "the end does not slide past the login's hour: {listed}"
        );
        token = body["refresh_token"].as_str().unwrap().to_string();
    }
    app.clock.advance(601);
    let (status, body) = refresh(&app, &token).await;
    assert_eq!(status, Status::Unauthorized, "{body}");
    // A new login starts a new hour.
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn a_new_login_beyond_the_cap_ends_the_oldest_sessions() {
    let app = spawn_app_with(|f| f.merge(("gatehouse.max_sessions_per_account", 3))).await;
    let mut sessions = Vec::new();
    for _ in 0..5 {
        sessions.push(app.signed_in("alice").await);
        app.clock.advance(1);
    }
    for (i, session) in sessions.iter().enumerate() {
        let response = app.get_bearer("/api/auth/me", &session.access).await;
        if i < 2 {
            assert_error(response, Status::Unauthorized, "session_revoked").await;
        } else {
            assert_eq!(response.status(), Status::Ok, "session {i}");
        }
    }
    let listed: Value = app
        .get_bearer("/api/auth/sessions", &sessions[4].access)
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 3);
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT revoke_reason FROM sessions WHERE revoked_at IS NOT NULL ORDER BY created_at",
    )
    .fetch_all(&app.pool())
    .await
    .unwrap();
    assert_eq!(reasons, ["session_limit", "session_limit"]);
}

#[rocket::async_test]
async fn user_agents_are_cut_to_size_in_sessions_and_the_audit_trail() {
    let app = spawn_app().await;
    app.register("alice", "alice@example.com").await;
    let agent = "Mozilla/5.0 ".repeat(700);
    for password in [PASSWORD, "not the password"] {
        let response = app
            .client
            .post("/api/auth/login")
            .header(ContentType::JSON)
            .header(Header::new("User-Agent", agent.clone()))
            .body(json!({"login": "alice", "password": password}).to_string())
            .dispatch()
            .await;
        assert_ne!(response.status(), Status::InternalServerError);
    }
    let longest: Vec<i64> = sqlx::query_scalar(
        "SELECT MAX(LENGTH(user_agent)) FROM sessions UNION ALL \
         SELECT MAX(LENGTH(user_agent)) FROM auth_events",
    )
    .fetch_all(&app.pool())
    .await
    .unwrap();
    assert_eq!(longest, [512, 512]);
}

/// Sessions and events that are old enough to go, and some that are not.
async fn age_some_rows(app: &crate::support::TestApp) -> i64 {
    let old = app.signed_in("alice").await;
    app.post_bearer("/api/auth/logout", &old.access, None).await;
    app.signed_in("alice").await;
    let now = gatehouse::clock::Clock::now(&app.clock);
    let day = 24 * 60 * 60;
    // The logged-out session ended 40 days ago; every event but the newest is 400 days old.
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE revoked_at IS NOT NULL")
        .bind(now - 40 * day)
        .execute(&app.pool())
        .await
        .unwrap();
    sqlx::query(
        "UPDATE auth_events SET created_at = $1 WHERE id < (SELECT MAX(id) FROM auth_events)",
    )
    .bind(now - 400 * day)
    .execute(&app.pool())
    .await
    .unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM auth_events")
        .fetch_one(&app.pool())
        .await
        .unwrap()
}

async fn counts(app: &crate::support::TestApp) -> (i64, i64) {
    sqlx::query_as("SELECT (SELECT COUNT(*) FROM sessions), (SELECT COUNT(*) FROM auth_events)")
        .fetch_one(&app.pool())
        .await
        .unwrap()
}

#[rocket::async_test]
async fn gatehouse_prune_deletes_ended_sessions_and_old_events() {
    let app = spawn_app().await;
    let events = age_some_rows(&app).await;
    assert_eq!(counts(&app).await, (2, events));
    let pruned = gatehouse(&app.db, &["prune"]).output().unwrap();
    assert!(pruned.status.success(), "{}", stderr(&pruned));
    assert_eq!(
        stdout(&pruned).trim(),
        format!(
            "pruned 1 ended session(s), {} audit event(s) and 0 expired link token(s)",
            events - 1
        )
    );
    assert_eq!(counts(&app).await, (1, 1));
    // The live session still works.
    let again = gatehouse(&app.db, &["prune"]).output().unwrap();
    assert!(stdout(&again).contains("pruned 0 ended session(s), 0 audit event(s) and 0"));
}

#[rocket::async_test]
async fn the_server_prunes_on_its_own() {
    let app = spawn_app_with(|f| f.merge(("gatehouse.prune_interval", 1))).await;
    age_some_rows(&app).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while counts(&app).await != (1, 1) {
        assert!(
            std::time::Instant::now() < deadline,
            "not pruned: {:?}",
            counts(&app).await
        );
        rocket::tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[rocket::async_test]
async fn a_backlog_larger_than_a_batch_is_pruned_in_full() {
    let app = spawn_app().await;
    let day = 24 * 60 * 60;
    let long_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 400 * day;
    let backlog = 2 * gatehouse::pruning::PRUNE_BATCH as u64 + 345;
    crate::support::seed(&app.pool(), 10, backlog, backlog, long_ago).await;
    app.signed_in("alice").await;
    let pruned = gatehouse(&app.db, &["prune"]).output().unwrap();
    assert!(pruned.status.success(), "{}", stderr(&pruned));
    assert_eq!(
        stdout(&pruned).trim(),
        format!("pruned {backlog} ended session(s), {backlog} audit event(s) and 0 expired link token(s)")
    );
    let (sessions, _) = counts(&app).await;
    assert_eq!(sessions, 1, "alice's session stays");
}
