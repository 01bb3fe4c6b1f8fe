//! `/api/auth` routes of the email flows (mounted only when mail is on): address
//! verification, password reset and change of address. Each link token of these
//! routes comes from a message; every failure of one is 400 `invalid_link`, alike.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::State;
use serde::{Deserialize, Serialize};

use super::auth::AccountAnswer;
use super::body::{JsonBody, OptionalJson};
use super::error::ErrorBody;
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

/// The token of a link from a message.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(examples(json!({ "token": "Bxllje8LJNQziqmF3HdmrXYSUfaZ4_Kso2eFPaGpaCk" })))]
pub struct LinkToken {
    /// The `token` parameter of the link: 43 characters of URL-safe base64.
    #[schema(pattern = r"^[A-Za-z0-9_-]{43}$")]
    token: String,
}

/// Verifies the account's address with the token of a verification link.
///
/// Answers the account, its address verified.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "email",
    request_body = LinkToken,
    responses(
        (status = 200, body = AccountAnswer),
        (status = 400, description = "`invalid_link`: unknown, used, expired or of another purpose", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ),
)]
#[post("/email/verify", data = "<body>")]
pub async fn verify_email(
    app: &State<App>,
    client: ClientInfo,
    body: JsonBody<LinkToken>,
) -> ApiResult<Json<AccountAnswer>> {
    let account = verification::verify(app, Presented::Link(&body.0.token), &client).await?;
    Ok(Json(AccountAnswer { account }))
}

/// Where the link of the message should lead.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[schema(examples(json!({})))]
pub struct LinkTarget {
    /// An SPA's own page for the link, among `link_allowlist`.
    redirect_to: Option<String>,
}

/// Sends a new verification link to the signed-in account's address.
///
/// 202 while the address is unverified; 409 once it is verified.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "email",
    request_body(
        content = Option<LinkTarget>,
        description = "Optional: with `redirect_to` (an entry of `link_allowlist`), the link leads to that page of an SPA.",
        example = json!({})
    ),
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 202, description = "A new link is on its way."),
        (status = 409, description = "`conflict`: the address is verified already", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ),
)]
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

/// The address to send a reset link to.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(examples(json!({ "email": "alice@example.com" })))]
pub struct ForgotPassword {
    /// The account's email address, at most 254 bytes.
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// An SPA's own page for the link, among `link_allowlist`.
    #[serde(default)]
    redirect_to: Option<String>,
}

/// Sends a password reset link to the address, if an account has it.
///
/// 202 with the same body whether the address has an account or not; a link goes to
/// it if it does.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "email",
    request_body = ForgotPassword,
    responses(
        (status = 202, body = MessageAnswer),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ),
)]
#[post("/password/forgot", data = "<body>")]
pub async fn forgot_password(
    app: &State<App>,
    client: ClientInfo,
    body: JsonBody<ForgotPassword>,
) -> ApiResult<(Status, Json<MessageAnswer>)> {
    let body = body.0;
    password_reset::request(app, &body.email, body.redirect_to.as_deref(), &client).await?;
    let message =
        "If an account has this address, a link to reset its password is on its way.".into();
    Ok((Status::Accepted, Json(MessageAnswer { message })))
}

/// A sentence for the person, the same whatever happened behind it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "message": "If an account has this address, a link to reset its password is on its way."
})))]
pub struct MessageAnswer {
    message: String,
}

/// A reset link's token and the new password.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "token": "Bxllje8LJNQziqmF3HdmrXYSUfaZ4_Kso2eFPaGpaCk",
    "new_password": "plum orbit lantern quietly"
})))]
pub struct ResetPassword {
    /// The `token` parameter of the reset link: 43 characters of URL-safe base64.
    #[schema(pattern = r"^[A-Za-z0-9_-]{43}$")]
    token: String,
    /// 15 to 1024 characters (the minimum is the `password_min_length` setting, 15 by
    /// default; the maximum counts bytes); not common, nor made of the username or
    /// email.
    #[schema(format = Password, min_length = 15, max_length = 1024)]
    new_password: String,
}

/// Sets a new password with the token of a reset link.
///
/// Every session of the account ends. A 422 (`fields.new_password`) leaves the token
/// for another try.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "email",
    request_body = ResetPassword,
    responses(
        (status = 204, description = "The password is set; every session of the account ended."),
        (status = 400, description = "`invalid_link`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 503, description = "`server_busy`: the hashing queue is full", body = ErrorBody),
    ),
)]
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

/// The new address, and the password that allows the change.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "new_email": "alice@example.org",
    "password": "correct horse battery staple"
})))]
pub struct ChangeEmail {
    /// The new email address, at most 254 bytes.
    #[schema(format = Email, max_length = 254)]
    new_email: String,
    /// The account's password, at most 1024 bytes.
    #[schema(format = Password, max_length = 1024)]
    password: String,
    /// An SPA's own page for the link, among `link_allowlist`.
    #[serde(default)]
    redirect_to: Option<String>,
}

/// Asks to change the signed-in account's address; a confirmation link goes to it.
///
/// 202 whatever the new address; a confirmation link goes to it and a notice to the
/// current one.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "email",
    request_body = ChangeEmail,
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 202, description = "A confirmation link is on its way to the new address (whatever it is)."),
        (status = 423, description = "`account_locked`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 503, description = "`server_busy`: the hashing queue is full", body = ErrorBody),
    ),
)]
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

/// Confirms a change of address with the token of the link sent to the new one.
///
/// Answers the account under its new address.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "email",
    request_body = LinkToken,
    responses(
        (status = 200, body = AccountAnswer),
        (status = 400, description = "`invalid_link`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ),
)]
#[post("/email/confirm", data = "<body>")]
pub async fn confirm_email(
    app: &State<App>,
    client: ClientInfo,
    body: JsonBody<LinkToken>,
) -> ApiResult<Json<AccountAnswer>> {
    let account = change::confirm(app, Presented::Link(&body.0.token), &client).await?;
    Ok(Json(AccountAnswer { account }))
}
