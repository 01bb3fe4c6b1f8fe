//! The passkeys API: registering and managing the signed-in holder's passkeys
//! (`/api/auth/passkeys`), signing in with one (`/passkeys/login`), completing a
//! pending login (`/2fa/passkey`) and starting a re-authentication
//! (`/reauthenticate/passkey/start`; the proof goes to `/reauthenticate`). Each
//! ceremony is a start, whose options go to `navigator.credentials`, and a finish
//! with the browser's answer. Mounted only while passkeys are on.

use rocket::http::CookieJar;
use rocket::response::status::Created;

use super::flows::{self, Purpose, Started};
use crate::api::auth::TokenPair;
use crate::guards::PendingSession;
use crate::prelude::*;
use crate::sessions::ClientInfo;

type ApiResult<T> = Result<T, AppError>;

pub fn routes() -> Vec<Route> {
    routes![
        register_start,
        register_finish,
        list,
        rename,
        remove,
        login_start,
        login_finish,
        second_factor_start,
        second_factor_finish,
        reauthenticate_start,
    ]
}

/// The staff's routes, under `/api/admin`.
pub fn admin_routes() -> Vec<Route> {
    routes![remove_passkeys]
}

/// The part's piece of the API document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    register_start,
    register_finish,
    list,
    rename,
    remove,
    login_start,
    login_finish,
    second_factor_start,
    second_factor_finish,
    reauthenticate_start,
    remove_passkeys
))]
pub struct PasskeysApi;

/// A ceremony's start: its id for the finish, and the options for the browser's
/// `navigator.credentials.create()` or `.get()` (as webauthn-rs writes them).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "challenge_id": "m3Yq0Zb8VvQpK2xW9rTn4sLdHf7Jc1Ae",
    "publicKey": {
        "challenge": "x8cXb2k6Jm3Rz0Qw7Vn1Lp4Ts9Yd5Fh2Ga6Kc8Ne0Ub3",
        "timeout": 300000,
        "rpId": "localhost",
        "allowCredentials": [],
        "userVerification": "required"
    },
    "mediation": "conditional"
})))]
pub struct Ceremony {
    /// Give it back with the finish; it works once, for five minutes.
    challenge_id: String,
    /// The options, base64url where WebAuthn has bytes.
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    public_key: Value,
    /// `conditional` on a passwordless sign-in: the browser may offer its passkeys in
    /// the username field's autofill.
    #[serde(skip_serializing_if = "Option::is_none")]
    mediation: Option<String>,
}

impl From<Started> for Ceremony {
    fn from(started: Started) -> Ceremony {
        let mut options = started.options;
        let mediation = options["mediation"].as_str().map(str::to_string);
        Ceremony {
            challenge_id: started.challenge_id,
            public_key: options["publicKey"].take(),
            mediation,
        }
    }
}

/// One passkey of the account.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "passkey": {
        "id": 3,
        "name": "Laptop",
        "created_at": 1767225600,
        "last_used_at": 1767229200,
        "backed_up": true
    }
})))]
pub struct PasskeyAnswer {
    /// `{id, name, created_at, last_used_at, backed_up}`; `backed_up` is true for a
    /// passkey synced to other devices.
    #[schema(value_type = Object)]
    passkey: Value,
}

/// The account's passkeys, oldest first.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "passkeys": [{
        "id": 3,
        "name": "Laptop",
        "created_at": 1767225600,
        "last_used_at": null,
        "backed_up": false
    }]
})))]
pub struct PasskeyList {
    #[schema(value_type = Vec<Object>)]
    passkeys: Value,
}

/// The finish of a registration: the ceremony, a name, and the browser's answer.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({
    "challenge_id": "m3Yq0Zb8VvQpK2xW9rTn4sLdHf7Jc1Ae",
    "name": "Laptop",
    "credential": { "id": "…", "rawId": "…", "type": "public-key", "response": { "attestationObject": "…", "clientDataJSON": "…" } }
})))]
pub struct RegisterFinish {
    /// The start's `challenge_id`.
    #[schema(max_length = 64)]
    challenge_id: String,
    /// 1 to 64 characters, one line: which device this is.
    #[schema(max_length = 64)]
    name: String,
    /// `navigator.credentials.create()`'s answer as JSON (binary fields base64url).
    #[schema(value_type = Object)]
    credential: Value,
}

/// The finish of a sign-in, a pending login or nothing else: the ceremony and the
/// browser's answer.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({
    "challenge_id": "m3Yq0Zb8VvQpK2xW9rTn4sLdHf7Jc1Ae",
    "credential": { "id": "…", "rawId": "…", "type": "public-key", "response": { "authenticatorData": "…", "clientDataJSON": "…", "signature": "…", "userHandle": "…" } }
})))]
pub struct AssertionFinish {
    /// The start's `challenge_id`.
    #[schema(max_length = 64)]
    challenge_id: String,
    /// `navigator.credentials.get()`'s answer as JSON (binary fields base64url).
    #[schema(value_type = Object)]
    credential: Value,
    /// "Remember me", for a passwordless sign-in: as at `/login`.
    #[serde(default)]
    remember: bool,
}

/// A passkey's new name.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({ "name": "Work laptop" })))]
pub struct RenameRequest {
    /// 1 to 64 characters, one line.
    #[schema(max_length = 64)]
    name: String,
}

async fn row_of(app: &App, account_id: i64) -> Result<AccountRow, AppError> {
    crate::accounts::find_by_id(app.pool(), account_id)
        .await?
        .ok_or(AppError::SessionRevoked)
}

fn passkey_id(id: &str) -> Result<i64, AppError> {
    id.parse().map_err(|_| AppError::NotFound)
}

/// Starts registering a passkey on this account.
///
/// Recently proved sessions only (`Fresh`). `excludeCredentials` lists the account's
/// passkeys, so one authenticator is not registered twice.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "passkeys",
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = Ceremony),
        (status = 401, description = "`reauthentication_required`, or a token error", body = ErrorBody),
        (status = 409, description = "`passkey_limit_reached`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ),
)]
#[post("/passkeys/register/start")]
pub async fn register_start(
    app: &State<App>,
    caller: Fresh<AuthAccount>,
    client: ClientInfo,
) -> ApiResult<Json<Ceremony>> {
    let row = row_of(app, caller.account.id).await?;
    let started = flows::start_registration(app, &row, &caller.session_id, &client).await?;
    Ok(Json(started.into()))
}

/// Finishes a registration this session started, and stores the passkey.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "passkeys",
    request_body = RegisterFinish,
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 201, body = PasskeyAnswer),
        (status = 400, description = "`invalid_challenge`: expired, used, or another session's", body = ErrorBody),
        (status = 401, description = "`reauthentication_required`, or a token error", body = ErrorBody),
        (status = 409, description = "`passkey_limit_reached`, `passkey_known`", body = ErrorBody),
        (status = 422, description = "`validation_failed`: the name, or an answer that did not check out", body = ErrorBody),
    ),
)]
#[post("/passkeys/register/finish", data = "<body>")]
pub async fn register_finish(
    app: &State<App>,
    caller: Fresh<AuthAccount>,
    client: ClientInfo,
    body: JsonBody<RegisterFinish>,
) -> ApiResult<Created<Json<PasskeyAnswer>>> {
    let row = row_of(app, caller.account.id).await?;
    let body = body.0;
    let passkey = flows::finish_registration(
        app,
        &row,
        &caller.session_id,
        &body.challenge_id,
        &body.name,
        &body.credential,
        &client,
    )
    .await?;
    let location = format!("/api/auth/passkeys/{}", passkey.id);
    Ok(Created::new(location).body(Json(PasskeyAnswer {
        passkey: flows::shown(&passkey),
    })))
}

/// Lists the account's passkeys.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "passkeys",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = PasskeyList)),
)]
#[get("/passkeys")]
pub async fn list(app: &State<App>, caller: AuthAccount) -> ApiResult<Json<PasskeyList>> {
    let rows = flows::list(app, caller.account.id).await?;
    Ok(Json(PasskeyList {
        passkeys: flows::exported(&rows),
    }))
}

/// Renames one of the account's passkeys.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "passkeys",
    request_body = RenameRequest,
    params(("id" = i64, Path, description = "The passkey's id")),
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = PasskeyAnswer),
        (status = 404, description = "`not_found`: no such passkey on this account", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
    ),
)]
#[patch("/passkeys/<id>", data = "<body>")]
pub async fn rename(
    app: &State<App>,
    caller: AuthAccount,
    id: &str,
    body: JsonBody<RenameRequest>,
) -> ApiResult<Json<PasskeyAnswer>> {
    let row = flows::rename(app, caller.account.id, passkey_id(id)?, &body.0.name).await?;
    Ok(Json(PasskeyAnswer {
        passkey: flows::shown(&row),
    }))
}

/// Removes one of the account's passkeys.
///
/// Recently proved sessions only (`Fresh`). The account's last way to sign in is
/// never removed.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "passkeys",
    params(("id" = i64, Path, description = "The passkey's id")),
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`reauthentication_required`, or a token error", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`conflict`: the account's last way to sign in", body = ErrorBody),
    ),
)]
#[delete("/passkeys/<id>")]
pub async fn remove(
    app: &State<App>,
    caller: Fresh<AuthAccount>,
    client: ClientInfo,
    id: &str,
) -> ApiResult<Status> {
    let row = row_of(app, caller.account.id).await?;
    flows::remove(app, &row, passkey_id(id)?, Some(row.id), &client).await?;
    Ok(Status::NoContent)
}

/// An empty JSON object: a JSON body keeps other sites' plain form posts out.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({})))]
pub struct EmptyRequest {}

/// Starts a sign-in with a passkey, with no username.
///
/// The options allow any of the site's discoverable passkeys; `mediation` is
/// `conditional`, for the username field's autofill.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "passkeys",
    request_body = EmptyRequest,
    responses(
        (status = 200, body = Ceremony),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 503, description = "`server_busy`: too many sign-ins wait for their finish", body = ErrorBody),
    ),
)]
#[post("/passkeys/login/start", data = "<_body>")]
pub async fn login_start(
    app: &State<App>,
    client: ClientInfo,
    _body: JsonBody<EmptyRequest>,
) -> ApiResult<Json<Ceremony>> {
    Ok(Json(flows::start_sign_in(app, &client).await?.into()))
}

/// Finishes a passkey sign-in: the login's answer, both factors at once.
///
/// Sets the sign-in cookies as `/login` does.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "passkeys",
    request_body = AssertionFinish,
    responses(
        (status = 200, body = TokenPair),
        (status = 400, description = "`invalid_challenge`", body = ErrorBody),
        (status = 401, description = "`passkey_refused`: any answer that did not check out", body = ErrorBody),
        (status = 403, description = "`account_blocked`, `account_inactive`, `email_unverified`", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a WebAuthn answer", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ),
)]
#[post("/passkeys/login/finish", data = "<body>")]
pub async fn login_finish(
    app: &State<App>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
    body: JsonBody<AssertionFinish>,
) -> ApiResult<Json<TokenPair>> {
    let body = body.0;
    let row = flows::finish_sign_in(app, &body.challenge_id, &body.credential, &client).await?;
    let tokens =
        crate::auth::sign_in_without_password(app, &row, "passkey", body.remember, &client).await?;
    Ok(TokenPair::signed_in(cookies, &app.settings, &tokens))
}

/// Starts completing a pending login with a passkey, instead of a code.
///
/// For a login whose answer listed `passkey` in `methods`; takes the pending
/// session's access token.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "passkeys",
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = Ceremony),
        (status = 401, description = "`session_revoked`, or a token error", body = ErrorBody),
        (status = 409, description = "`no_passkey`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ),
)]
#[post("/2fa/passkey/start")]
pub async fn second_factor_start(
    app: &State<App>,
    pending: PendingSession,
    client: ClientInfo,
) -> ApiResult<Json<Ceremony>> {
    let row = row_of(app, pending.account.id).await?;
    let purpose = Purpose::SecondFactor;
    let started =
        flows::start_for_account(app, &row, &pending.session_id, purpose, &client).await?;
    Ok(Json(started.into()))
}

/// Completes a pending login with a passkey: the full pair of a new session.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "passkeys",
    request_body = AssertionFinish,
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = TokenPair),
        (status = 400, description = "`invalid_challenge`", body = ErrorBody),
        (status = 401, description = "`passkey_refused`, `session_revoked`, or a token error", body = ErrorBody),
        (status = 403, description = "`account_blocked`, `account_inactive`", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ),
)]
#[post("/2fa/passkey/finish", data = "<body>")]
pub async fn second_factor_finish(
    app: &State<App>,
    pending: PendingSession,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
    body: JsonBody<AssertionFinish>,
) -> ApiResult<Json<TokenPair>> {
    let body = body.0;
    flows::finish_for_account(
        app,
        pending.account.id,
        &pending.session_id,
        Purpose::SecondFactor,
        &body.challenge_id,
        &body.credential,
        &client,
    )
    .await?;
    let tokens =
        crate::auth::complete_login_proved(app, &pending.session_id, "passkey", &client).await?;
    Ok(TokenPair::signed_in(cookies, &app.settings, &tokens))
}

/// Starts a re-authentication with one of the account's passkeys.
///
/// Bound to this session. Send the answer to `/reauthenticate` as
/// `{challenge_id, credential}`.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "passkeys",
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = Ceremony),
        (status = 409, description = "`no_passkey`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ),
)]
#[post("/reauthenticate/passkey/start")]
pub async fn reauthenticate_start(
    app: &State<App>,
    caller: AuthAccount,
    client: ClientInfo,
) -> ApiResult<Json<Ceremony>> {
    let row = row_of(app, caller.account.id).await?;
    let purpose = Purpose::Reauthenticate;
    let started = flows::start_for_account(app, &row, &caller.session_id, purpose, &client).await?;
    Ok(Json(started.into()))
}

/// How many passkeys an admin removed.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(examples(json!({ "removed": 2 })))]
pub struct Removed {
    removed: u64,
}

/// Removes every passkey of an account, for a user who lost them.
///
/// Needs a recent proof (`Fresh`). Staff act on regular accounts, superusers on any;
/// never on oneself. Refused when the passkeys are the account's only way in.
#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(("id" = String, Path, pattern = r"^[0-9]{1,18}$", description = "The account id")),
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = Removed),
        (status = 401, description = "`reauthentication_required` (with WWW-Authenticate, RFC 9470), or a token error", body = ErrorBody),
        (status = 403, description = "`forbidden`: not allowed on this account", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`conflict`: the passkeys are the account's only way in", body = ErrorBody),
    ),
)]
#[delete("/accounts/<id>/passkeys")]
pub async fn remove_passkeys(
    app: &State<App>,
    staff: Fresh<StaffAccount>,
    client: ClientInfo,
    id: &str,
) -> ApiResult<Json<Removed>> {
    let actor = crate::admin::current_admin(app, staff.0.account.id).await?;
    let id = id.parse().map_err(|_| AppError::NotFound)?;
    let removed = flows::remove_all_for(app, &actor, id, &client).await?;
    Ok(Json(Removed { removed }))
}
