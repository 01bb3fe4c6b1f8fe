//! `/api/auth/sessions`: the caller's own sessions (devices), listed and revoked.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::State;
use serde_json::{json, Value};

use crate::app::App;
use crate::auth;
use crate::error::AppError;
use crate::guards::AuthAccount;
use crate::sessions::{self, ClientInfo};

#[get("/sessions")]
pub async fn list(app: &State<App>, caller: AuthAccount) -> Result<Json<Value>, AppError> {
    let rows = sessions::list_live_sessions(app.pool(), caller.account.id, app.now()).await?;
    let views: Vec<_> = rows
        .iter()
        .map(|row| row.view(&caller.session_id))
        .collect();
    Ok(Json(json!({ "sessions": views })))
}

#[delete("/sessions/<id>")]
pub async fn revoke_one(
    app: &State<App>,
    caller: AuthAccount,
    client: ClientInfo,
    id: &str,
) -> Result<Status, AppError> {
    let revoked = auth::revoke_own_session(app, caller.account.id, id, &client).await?;
    if revoked {
        Ok(Status::NoContent)
    } else {
        Err(AppError::NotFound)
    }
}

#[delete("/sessions")]
pub async fn revoke_others(
    app: &State<App>,
    caller: AuthAccount,
    client: ClientInfo,
) -> Result<Status, AppError> {
    auth::revoke_other_sessions(
        app,
        caller.account.id,
        Some(&caller.session_id),
        "revoked_by_owner",
        Some(caller.account.id),
        &client,
    )
    .await?;
    Ok(Status::NoContent)
}
