//! `/api/auth/2fa`: the account holder's two-factor authentication (status, setup,
//! enable, new recovery codes, disable) and the second step of a login (`verify`).
//! Mounted only when `two_factor_enabled` is on; otherwise these paths answer 404.

use rocket::http::{CookieJar, Status};
use rocket::serde::json::Json;
use rocket::State;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::TokenPair;
use super::body::JsonBody;
use crate::app::App;
use crate::error::AppError;
use crate::guards::{AuthAccount, PendingSession};
use crate::sessions::ClientInfo;
use crate::two_factor;

type ApiResult<T> = Result<T, AppError>;

#[get("/2fa")]
pub async fn status(app: &State<App>, caller: AuthAccount) -> ApiResult<Json<Value>> {
    let status = two_factor::status(app, caller.account.id).await?;
    Ok(Json(json!({
        "enabled": status.enabled,
        "recovery_codes_left": status.recovery_codes_left,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    password: Option<String>,
}

#[post("/2fa/setup", data = "<body>")]
pub async fn setup(
    app: &State<App>,
    caller: AuthAccount,
    client: ClientInfo,
    body: JsonBody<SetupRequest>,
) -> ApiResult<Json<Value>> {
    let enrolment = two_factor::setup(
        app,
        caller.account.id,
        &caller.session_id,
        body.0.password.as_deref(),
        &client,
    )
    .await?;
    Ok(Json(json!({
        "secret": enrolment.secret_base32,
        "otpauth_uri": enrolment.otpauth_uri,
        "qr_svg": enrolment.qr_svg,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    code: String,
}

#[post("/2fa/enable", data = "<body>")]
pub async fn enable(
    app: &State<App>,
    caller: AuthAccount,
    client: ClientInfo,
    body: JsonBody<CodeRequest>,
) -> ApiResult<Json<Value>> {
    let codes = two_factor::enable(
        app,
        caller.account.id,
        &caller.session_id,
        &body.0.code,
        &client,
    )
    .await?;
    Ok(Json(json!({ "recovery_codes": codes })))
}

#[post("/2fa/recovery-codes", data = "<body>")]
pub async fn recovery_codes(
    app: &State<App>,
    caller: AuthAccount,
    client: ClientInfo,
    body: JsonBody<CodeRequest>,
) -> ApiResult<Json<Value>> {
    let codes =
        two_factor::regenerate_recovery_codes(app, caller.account.id, &body.0.code, &client)
            .await?;
    Ok(Json(json!({ "recovery_codes": codes })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisableRequest {
    password: Option<String>,
    code: String,
}

#[post("/2fa/disable", data = "<body>")]
pub async fn disable(
    app: &State<App>,
    caller: AuthAccount,
    client: ClientInfo,
    body: JsonBody<DisableRequest>,
) -> ApiResult<Status> {
    let request = body.0;
    two_factor::disable(
        app,
        caller.account.id,
        request.password.as_deref(),
        &request.code,
        &client,
    )
    .await?;
    Ok(Status::NoContent)
}

/// The second step of a login: the pending session's token and a code give the full
/// pair of a new, complete session.
#[post("/2fa/verify", data = "<body>")]
pub async fn verify(
    app: &State<App>,
    pending: PendingSession,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
    body: JsonBody<CodeRequest>,
) -> ApiResult<Json<TokenPair>> {
    let tokens =
        two_factor::complete_login(app, &pending.session_id, &body.0.code, &client).await?;
    crate::cookies::start_session_cookies(cookies, &app.settings, &tokens);
    Ok(Json(TokenPair::from(&tokens)))
}
