//! `POST /api/auth/2fa/verify`: the second step of a login, Gatehouse's own whatever
//! second factor completes it; the TOTP part mounts it (so it answers 404 while no
//! part takes codes), and the codes are checked by that part's hook.

use rocket::http::CookieJar;
use rocket::serde::json::Json;
use rocket::State;
use serde::Deserialize;

use super::auth::TokenPair;
use super::body::JsonBody;
use super::error::ErrorBody;
use crate::app::App;
use crate::error::AppError;
use crate::guards::PendingSession;
use crate::sessions::ClientInfo;

/// A code from the authenticator app, or a recovery code where one is accepted.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({ "code": "123456" })))]
pub struct CodeRequest {
    /// A TOTP code (6 digits) or, for `/2fa/verify`, an unused recovery code (12
    /// base32 characters, as `abcd-efgh-2345`, any case). `/2fa/enable` and
    /// `/2fa/recovery-codes` take a TOTP code only.
    #[schema(pattern = r"^([0-9]{6}|[A-Za-z2-7]{4}-?[A-Za-z2-7]{4}-?[A-Za-z2-7]{4})$")]
    pub code: String,
}

/// Completes a login that waits for its second factor.
///
/// The second step of a login: the access token of that login, with a TOTP or recovery
/// code, gives the full pair of a new, complete session.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "two-factor",
    request_body = CodeRequest,
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = TokenPair),
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
) -> Result<Json<TokenPair>, AppError> {
    let tokens =
        crate::auth::complete_login(app, &pending.session_id, &body.0.code, &client).await?;
    Ok(TokenPair::signed_in(cookies, &app.settings, &tokens))
}
