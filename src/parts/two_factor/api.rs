//! `/api/auth/2fa`: the account holder's two-factor authentication (status, setup,
//! enable, new recovery codes, disable), and the admins' reset under `/api/admin`.
//! Mounted only when `two_factor_enabled` is on; otherwise these paths answer 404
//! (Gatehouse's `/2fa/verify` too, which the part mounts).

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::State;
use serde::{Deserialize, Serialize};

use super::flows as two_factor;
use crate::accounts::AccountDetailAnswer;
use crate::admin;
use crate::api::body::JsonBody;
use crate::api::error::ErrorBody;
use crate::api::second_step::CodeRequest;
use crate::app::App;
use crate::error::AppError;
use crate::guards::{AuthAccount, Fresh, StaffAccount};
use crate::sessions::ClientInfo;

type ApiResult<T> = Result<T, AppError>;

/// Whether 2FA is on, and how many recovery codes are left.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(examples(json!({ "enabled": true, "recovery_codes_left": 9 })))]
pub struct TwoFactorStatus {
    enabled: bool,
    /// Unused recovery codes (10 in a new set); 0 while 2FA is off.
    recovery_codes_left: i64,
}

/// Tells whether 2FA is on for the account, and how many recovery codes are left.
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

/// The password, which setting up 2FA asks for again.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({ "password": "correct horse battery staple" })))]
pub struct SetupRequest {
    /// The account's password, at most 1024 bytes; required while `two_factor_reauth`
    /// is on (the default).
    #[schema(format = Password, max_length = 1024)]
    password: Option<String>,
}

/// A new TOTP secret to confirm with `/2fa/enable`: the secret, its otpauth URI and
/// its QR code as SVG markup.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "secret": "OEJFCIPR5H45EFLIFFTTDBD7FXAROJI6",
    "otpauth_uri": "otpauth://totp/Gatehouse:alice?secret=OEJFCIPR5H45EFLIFFTTDBD7FXAROJI6&issuer=Gatehouse",
    "qr_svg": "<?xml version=\"1.0\" standalone=\"yes\"?><svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"232\" height=\"232\" viewBox=\"0 0 232 232\" shape-rendering=\"crispEdges\"><rect x=\"0\" y=\"0\" width=\"232\" height=\"232\" fill=\"#fff\"/><path fill=\"#000\" d=\"M32 32h56v8H32V32…\"/></svg>"
})))]
pub struct Enrolment {
    /// The TOTP secret in base32 (160 bits), to type into an authenticator app.
    secret: String,
    /// The `otpauth://totp/…` URI the QR code holds (SHA-1, 6 digits, 30 seconds).
    otpauth_uri: String,
    /// The QR code of `otpauth_uri`, as SVG markup (shortened in the example).
    qr_svg: String,
}

/// Starts setting up 2FA: a new TOTP secret, to confirm with `/2fa/enable`.
///
/// The secret belongs to this session alone until a first code confirms it; a second
/// setup replaces an unconfirmed one.
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

/// Recovery codes, shown this once.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "recovery_codes": [
        "k7qd-m2xa-vf4r",
        "p3wz-hn6t-ye5b",
        "c2ls-r7gu-dq4m",
        "x5jh-ta3k-wn7p",
        "e6vb-zq2f-mr3s",
        "u4ny-gc7d-lh2w",
        "b3tr-kx5m-fa6q",
        "s7pe-dw4j-nz2c",
        "h5ma-vq3y-tb7k",
        "w2fc-ju6r-ex4n"
    ]
})))]
pub struct RecoveryCodes {
    /// Ten single-use codes (`abcd-efgh-2345`), each good once in place of a TOTP code.
    recovery_codes: Vec<String>,
}

/// Switches 2FA on with a first code from the app set up by `/2fa/setup`.
///
/// Answers the recovery codes, shown this once.
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

/// Replaces the recovery codes with a new set, for a current TOTP code.
///
/// The old codes stop working; the new ones are shown this once.
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

/// Both factors, which switching 2FA off asks for.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({
    "password": "correct horse battery staple",
    "code": "123456"
})))]
pub struct DisableRequest {
    /// The account's password, at most 1024 bytes; required while `two_factor_reauth`
    /// is on (the default).
    #[schema(format = Password, max_length = 1024)]
    password: Option<String>,
    /// A TOTP code (6 digits) or an unused recovery code (`abcd-efgh-2345`).
    #[schema(pattern = r"^([0-9]{6}|[A-Za-z2-7]{4}-?[A-Za-z2-7]{4}-?[A-Za-z2-7]{4})$")]
    code: String,
}

/// Switches 2FA off, for the password and a code.
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

/// Switches 2FA off for a user who lost their device.
///
/// Needs a recent proof (`Fresh`).
#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(("id" = String, Path, pattern = r"^[0-9]{1,18}$", description = "The account id")),
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = AccountDetailAnswer),
        (status = 403, description = "`forbidden`: not allowed on this account (staff only; superusers for superusers; never oneself)", body = ErrorBody),
        (status = 401, description = "`reauthentication_required` (with WWW-Authenticate, RFC 9470), or a token error", body = ErrorBody),
        (status = 409, description = "`conflict`: 2FA is off", body = ErrorBody),
    ),
)]
#[post("/accounts/<id>/2fa/disable")]
pub async fn reset_two_factor(
    app: &State<App>,
    staff: Fresh<StaffAccount>,
    client: ClientInfo,
    id: &str,
) -> ApiResult<Json<AccountDetailAnswer>> {
    let actor = admin::current_admin(app, staff.0.account.id).await?;
    let id = id.parse().map_err(|_| AppError::NotFound)?;
    let account = admin::reset_two_factor(app, &actor, id, &client).await?;
    Ok(Json(AccountDetailAnswer::new(account)))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    status,
    setup,
    enable,
    recovery_codes,
    disable,
    crate::api::second_step::verify,
    reset_two_factor,
))]
pub struct TwoFactorApi;
