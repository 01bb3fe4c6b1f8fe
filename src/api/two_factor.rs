//! `/api/auth/2fa`: the account holder's two-factor authentication (status, setup,
//! enable, new recovery codes, disable) and the second step of a login (`verify`).
//! Mounted only when `two_factor_enabled` is on; otherwise these paths answer 404.

use rocket::http::{CookieJar, Status};
use rocket::serde::json::Json;
use rocket::State;
use serde::{Deserialize, Serialize};

use super::auth::TokenPair;
use super::body::JsonBody;
use super::docs::ErrorBody;
use crate::app::App;
use crate::error::AppError;
use crate::guards::{AuthAccount, PendingSession};
use crate::sessions::ClientInfo;
use crate::two_factor;

type ApiResult<T> = Result<T, AppError>;

/// Whether 2FA is on, and how many recovery codes are left.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TwoFactorStatus {
    enabled: bool,
    recovery_codes_left: i64,
}

#[utoipa::path(
    context_path = "/api/auth",
    tag = "two-factor",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = TwoFactorStatus)),
)]
#[get("/2fa")]
pub async fn status(app: &State<App>, caller: AuthAccount) -> ApiResult<Json<TwoFactorStatus>> {
    let status = two_factor::status(app, caller.account.id).await?;
    Ok(Json(TwoFactorStatus {
        enabled: status.enabled,
        recovery_codes_left: status.recovery_codes_left,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    password: Option<String>,
}

/// A new TOTP secret to confirm with `/2fa/enable`: the secret, its otpauth URI and
/// its QR code as SVG markup.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    secret: String,
    otpauth_uri: String,
    qr_svg: String,
}

#[utoipa::path(
    context_path = "/api/auth",
    tag = "two-factor",
    request_body = SetupRequest,
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = Enrolment),
        (status = 409, description = "`conflict`: 2FA is on already", body = ErrorBody),
        (status = 423, description = "`account_locked`", body = ErrorBody),
        (status = 503, description = "`server_busy`: the hashing queue is full", body = ErrorBody),
    ),
)]
#[post("/2fa/setup", data = "<body>")]
pub async fn setup(
    app: &State<App>,
    caller: AuthAccount,
    client: ClientInfo,
    body: JsonBody<SetupRequest>,
) -> ApiResult<Json<Enrolment>> {
    let enrolment = two_factor::setup(
        app,
        caller.account.id,
        &caller.session_id,
        body.0.password.as_deref(),
        &client,
    )
    .await?;
    Ok(Json(Enrolment {
        secret: enrolment.secret_base32,
        otpauth_uri: enrolment.otpauth_uri,
        qr_svg: enrolment.qr_svg,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    code: String,
}

/// Recovery codes, shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

#[utoipa::path(
    context_path = "/api/auth",
    tag = "two-factor",
    request_body = CodeRequest,
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = RecoveryCodes),
        (status = 401, description = "`invalid_otp`", body = ErrorBody),
        (status = 409, description = "`conflict`: no setup to confirm, or 2FA is on already", body = ErrorBody),
        (status = 423, description = "`account_locked`", body = ErrorBody),
    ),
)]
#[post("/2fa/enable", data = "<body>")]
pub async fn enable(
    app: &State<App>,
    caller: AuthAccount,
    client: ClientInfo,
    body: JsonBody<CodeRequest>,
) -> ApiResult<Json<RecoveryCodes>> {
    let codes = two_factor::enable(
        app,
        caller.account.id,
        &caller.session_id,
        &body.0.code,
        &client,
    )
    .await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// New recovery codes (the old ones stop working), for a current TOTP code.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "two-factor",
    request_body = CodeRequest,
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = RecoveryCodes),
        (status = 401, description = "`invalid_otp`", body = ErrorBody),
        (status = 409, description = "`conflict`: 2FA is off", body = ErrorBody),
        (status = 423, description = "`account_locked`", body = ErrorBody),
    ),
)]
#[post("/2fa/recovery-codes", data = "<body>")]
pub async fn recovery_codes(
    app: &State<App>,
    caller: AuthAccount,
    client: ClientInfo,
    body: JsonBody<CodeRequest>,
) -> ApiResult<Json<RecoveryCodes>> {
    let codes =
        two_factor::regenerate_recovery_codes(app, caller.account.id, &body.0.code, &client)
            .await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableRequest {
    password: Option<String>,
    code: String,
}

#[utoipa::path(
    context_path = "/api/auth",
    tag = "two-factor",
    request_body = DisableRequest,
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 204, description = "2FA is off."),
        (status = 401, description = "`invalid_otp`", body = ErrorBody),
        (status = 409, description = "`conflict`: 2FA is off already", body = ErrorBody),
        (status = 423, description = "`account_locked`", body = ErrorBody),
        (status = 503, description = "`server_busy`: the hashing queue is full", body = ErrorBody),
    ),
)]
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
/// Completes a login waiting for its second factor (the access token of that login,
/// with a TOTP or recovery code): the session's full pair.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "two-factor",
    request_body = CodeRequest,
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = super::auth::TokenPair),
        (status = 401, description = "`invalid_otp` (with `attempts_left`), `session_revoked`, `missing_token`, `invalid_token`, `token_expired`", body = ErrorBody),
        (status = 409, description = "`two_factor_unavailable`: the account's TOTP secret no longer opens (`two_factor_key` changed); an admin resets its 2FA", body = ErrorBody),
        (status = 423, description = "`account_locked`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ),
)]
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
    Ok(Json(TokenPair::with_cookies(&tokens, &app.settings)))
}
