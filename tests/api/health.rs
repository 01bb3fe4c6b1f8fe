use rocket::http::Status;
use serde_json::Value;

use crate::support::{assert_error, spawn_app, spawn_app_with};

#[rocket::async_test]
async fn liveness_answers_ok_and_reveals_nothing() {
    let app = spawn_app().await;
    let response = app.client.get("/api/health/live").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = response.into_json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

#[rocket::async_test]
async fn readiness_checks_the_database() {
    let app = spawn_app().await;
    let response = app.client.get("/api/health").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = response.into_json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok", "database": "ok"}));
}

#[rocket::async_test]
async fn readiness_fails_with_503_while_the_database_cannot_answer_and_recovers() {
    let app = spawn_app_with(|f| {
        f.merge(("databases.gatehouse.max_connections", 1))
            .merge(("gatehouse.health_timeout_ms", 200))
    })
    .await;
    let pool = app.pool();
    // Holding the only connection makes the database unreachable for the app.
    let held = pool.acquire().await.unwrap();
    let response = app.client.get("/api/health").dispatch().await;
    assert_error(response, Status::ServiceUnavailable, "database_unavailable").await;
    drop(held);
    let response = app.client.get("/api/health").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
}

#[rocket::async_test]
async fn readiness_recovers_after_the_server_drops_every_connection() {
    if crate::support::postgres_url().is_none() {
        return; // Only PostgreSQL can cut connections from the server side.
    }
    let app = spawn_app().await;
    assert_eq!(
        app.client.get("/api/health").dispatch().await.status(),
        Status::Ok
    );
    let killer = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&killer)
    .await
    .unwrap();
    // The first probe may meet a dead connection; the pool replaces it by itself.
    let mut status = Status::ServiceUnavailable;
    for _ in 0..5 {
        status = app.client.get("/api/health").dispatch().await.status();
        if status == Status::Ok {
            break;
        }
    }
    assert_eq!(status, Status::Ok);
}

#[rocket::async_test]
async fn unknown_api_routes_answer_json_404() {
    let app = spawn_app().await;
    let response = app.client.get("/api/does-not-exist").dispatch().await;
    assert_error(response, Status::NotFound, "not_found").await;
    let response = app.client.put("/api/auth/login").dispatch().await;
    assert_error(response, Status::NotFound, "not_found").await;
}
