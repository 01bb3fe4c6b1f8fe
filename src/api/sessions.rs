//! `/api/auth/sessions`: the caller's own sessions (devices), listed and revoked.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::State;

use crate::app::App;
use crate::auth;
use crate::error::AppError;
use crate::guards::AuthAccount;
use crate::sessions::{self, ClientInfo};

/// The account's live sessions, one per device.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SessionsAnswer {
    sessions: Vec<sessions::SessionView>,
}

#[utoipa::path(
    context_path = "/api/auth",
    tag = "sessions",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = SessionsAnswer)),
)]
#[get("/sessions")]
pub async fn list(app: &State<App>, caller: AuthAccount) -> Result<Json<SessionsAnswer>, AppError> {
    let rows = sessions::list_live_sessions(app.pool(), caller.account.id, app.now()).await?;
    let views: Vec<_> = rows
        .iter()
        .map(|row| row.view(&caller.session_id))
        .collect();
    Ok(Json(SessionsAnswer { sessions: views }))
}

/// Ends one of the account's own sessions.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "sessions",
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Ended."),
        (status = 404, description = "`not_found`: not a live session of yours", body = super::docs::ErrorBody),
    ),
)]
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

/// Ends every session of the account but this one.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "sessions",
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses((status = 204, description = "The others ended.")),
)]
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
