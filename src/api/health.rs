//! Health, after the orchestrators' convention: `live` says the process serves;
//! the readiness check also asks the database, within a short timeout, whether every
//! migration this binary needs is applied.

use std::time::Duration;

use rocket::serde::json::Json;
use rocket::State;
use serde_json::{json, Value};

use crate::app::App;
use crate::error::AppError;

/// Tells whether the process serves.
#[utoipa::path(
    context_path = "/api",
    tag = "health",
    responses((
        status = 200,
        description = "`{\"status\": \"ok\"}`",
        body = Object,
        example = json!({ "status": "ok" })
    )),
)]
#[get("/health/live")]
pub fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Tells whether the process serves and its database is ready.
///
/// The database must answer within `health_timeout_ms`, with every migration this
/// version needs applied.
#[utoipa::path(
    context_path = "/api",
    tag = "health",
    responses(
        (
            status = 200,
            description = "`{\"status\": \"ok\", \"database\": \"ok\"}`",
            body = Object,
            example = json!({ "status": "ok", "database": "ok" })
        ),
        (status = 503, description = "`database_unavailable`, or `schema_behind` (migrations this version needs are not applied: `gatehouse migrate`)", body = super::error::ErrorBody),
    ),
)]
#[get("/health")]
pub async fn ready(app: &State<App>) -> Result<Json<Value>, AppError> {
    let timeout = Duration::from_millis(app.settings.service.health_timeout_ms);
    // The pool replaces broken connections on acquire, so this recovers by itself once
    // the database is back.
    let probe = rocket::tokio::time::timeout(timeout, crate::db::pending_migrations(&app.db)).await;
    match probe {
        Ok(Ok(pending)) if pending.is_empty() => {
            Ok(Json(json!({ "status": "ok", "database": "ok" })))
        }
        Ok(Ok(pending)) => {
            log::warn!("readiness: migrations {pending:?} are not applied yet (`migrate`)");
            Err(AppError::SchemaBehind)
        }
        Ok(Err(error)) => {
            log::warn!("readiness: the database failed: {error}");
            Err(AppError::DatabaseUnavailable)
        }
        Err(_) => {
            log::warn!("readiness: the database did not answer within {timeout:?}");
            Err(AppError::DatabaseUnavailable)
        }
    }
}
