//! `/api/auth` routes of the email flows (mounted only when mail is on): address
//! verification, password reset and change of address. Each link token of these
//! routes comes from a message; every failure of one is 400 `invalid_link`, alike.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::State;
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::{JsonBody, OptionalJson};
use crate::app::App;
use crate::email::tokens::Presented;
use crate::email::{change, password_reset, verification};
use crate::error::AppError;
use crate::guards::AuthAccount;
use crate::sessions::ClientInfo;

type ApiResult<T> = Result<T, AppError>;

pub fn routes() -> Vec<rocket::Route> {
    routes![
        verify_email,
        resend_verification,
        forgot_password,
        reset_password,
        change_email,
        confirm_email
    ]
}

#[derive(Deserialize)]
pub struct LinkToken {
    token: String,
}

/// Spends a verification link's token: 200 with the account, its address verified.
#[post("/email/verify", data = "<body>")]
pub async fn verify_email(
    app: &State<App>,
    client: ClientInfo,
    body: JsonBody<LinkToken>,
) -> ApiResult<Json<Value>> {
    let account = verification::verify(app, Presented::Link(&body.0.token), &client).await?;
    Ok(Json(json!({ "account": account })))
}

#[derive(Deserialize, Default)]
pub struct LinkTarget {
    /// An SPA's own page for the link, among `link_allowlist`.
    redirect_to: Option<String>,
}

/// Sends a new verification link to the signed-in account's address (202; 409 when
/// it is verified already).
#[post("/email/resend", data = "<body>")]
pub async fn resend_verification(
    app: &State<App>,
    caller: AuthAccount,
    body: OptionalJson<LinkTarget>,
) -> ApiResult<Status> {
    let target = body.0.unwrap_or_default().redirect_to;
    verification::resend(app, caller.account.id, target.as_deref()).await?;
    Ok(Status::Accepted)
}

#[derive(Deserialize)]
pub struct ForgotPassword {
    email: String,
    #[serde(default)]
    redirect_to: Option<String>,
}

/// 202 with the same body whether the address has an account or not; a link goes to
/// it if it does.
#[post("/password/forgot", data = "<body>")]
pub async fn forgot_password(
    app: &State<App>,
    client: ClientInfo,
    body: JsonBody<ForgotPassword>,
) -> ApiResult<(Status, Json<Value>)> {
    let body = body.0;
    password_reset::request(app, &body.email, body.redirect_to.as_deref(), &client).await?;
    Ok((
        Status::Accepted,
        Json(json!({
            "message": "If an account has this address, a link to reset its password is on its way."
        })),
    ))
}

#[derive(Deserialize)]
pub struct ResetPassword {
    token: String,
    new_password: String,
}

/// Sets a new password with a reset link's token: 204; every session of the account
/// ends. 422 (`fields.new_password`) leaves the token for another try.
#[post("/password/reset", data = "<body>")]
pub async fn reset_password(
    app: &State<App>,
    client: ClientInfo,
    body: JsonBody<ResetPassword>,
) -> ApiResult<Status> {
    let body = body.0;
    password_reset::reset(
        app,
        Presented::Link(&body.token),
        &body.new_password,
        &client,
    )
    .await?;
    Ok(Status::NoContent)
}

#[derive(Deserialize)]
pub struct ChangeEmail {
    new_email: String,
    password: String,
    #[serde(default)]
    redirect_to: Option<String>,
}

/// Asks to change the signed-in account's address: 202 whatever the new address; a
/// confirmation link goes to it and a notice to the current one.
#[post("/email", data = "<body>")]
pub async fn change_email(
    app: &State<App>,
    caller: AuthAccount,
    client: ClientInfo,
    body: JsonBody<ChangeEmail>,
) -> ApiResult<Status> {
    let body = body.0;
    change::request(
        app,
        caller.account.id,
        &body.new_email,
        &body.password,
        body.redirect_to.as_deref(),
        &client,
    )
    .await?;
    Ok(Status::Accepted)
}

/// Spends a change link's token: 200 with the account under its new address.
#[post("/email/confirm", data = "<body>")]
pub async fn confirm_email(
    app: &State<App>,
    client: ClientInfo,
    body: JsonBody<LinkToken>,
) -> ApiResult<Json<Value>> {
    let account = change::confirm(app, Presented::Link(&body.0.token), &client).await?;
    Ok(Json(json!({ "account": account })))
}
