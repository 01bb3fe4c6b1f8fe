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
#[schema(examples(json!({
    "sessions": [
        {
            "id": "q8Wv2nT0bYkL5xR3mZs9Aw",
            "created_at": 1767225600,
            "last_used_at": 1767229200,
            "expires_at": 1767312000,
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "ip": "203.0.113.7",
            "current": true
        },
        {
            "id": "P1USB0weH5hy3rf1jJXFKw",
            "created_at": 1767139200,
            "last_used_at": 1767142800,
            "expires_at": 1769731200,
            "user_agent": "ExampleApp/2.1 (iPhone; iOS 18.2)",
            "ip": "198.51.100.23",
            "current": false
        }
    ]
})))]
pub struct SessionsAnswer {
    sessions: Vec<sessions::SessionView>,
}

/// Lists the account's live sessions, one per signed-in device.
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
    params((
        "id" = String,
        Path,
        description = "The session's id, as the list shows it (22 characters)",
        pattern = r"^[A-Za-z0-9_-]{22}$"
    )),
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Ended."),
        (status = 404, description = "`not_found`: not a live session of yours", body = super::error::ErrorBody),
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
