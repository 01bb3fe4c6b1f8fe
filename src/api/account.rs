//! `/api/auth/me` and `/api/auth/password`: the signed-in account, its export, its
//! display name and its password.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::State;
use serde::Deserialize;
use serde_json::Value;

use super::body::JsonBody;
use crate::accounts::Account;
use crate::app::App;
use crate::auth;
use crate::error::AppError;
use crate::guards::{AuthAccount, Fresh};
use crate::sessions::ClientInfo;

type ApiResult<T> = Result<T, AppError>;

/// Returns the signed-in account.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Account)),
)]
#[get("/me")]
pub fn me(account: AuthAccount) -> Json<Account> {
    Json(account.account)
}

/// An account's data, for its owner.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(examples(json!({
    "exported_at": 1767225600,
    "account": {
        "id": 42,
        "username": "alice",
        "email": "alice@example.com",
        "display_name": "Alice Liddell",
        "is_active": true,
        "is_staff": false,
        "is_superuser": false,
        "created_at": 1767225600,
        "email_verified": true,
        "email_verified_at": 1767225900
    },
    "parts": {
        "two_factor": { "enabled": true, "enabled_at": 1767226000, "recovery_codes_left": 9 },
        "notes": [{ "id": 7, "title": "Groceries", "body": "Eggs, flour", "created_at": 1767226100, "updated_at": 1767226100 }]
    }
})))]
pub struct AccountExport {
    /// When it was made (unix seconds).
    exported_at: i64,
    account: Account,
    /// Each part's and feature's data about the account, under its name.
    #[schema(value_type = Object)]
    parts: Value,
}

/// Exports everything held about the signed-in account.
///
/// The account, and what each part and feature holds about it (its notes, whether
/// 2FA is on), as one JSON document. Secrets are never in it. Needs a recent proof
/// (`Fresh`).
#[utoipa::path(
    context_path = "/api/auth",
    tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = AccountExport),
        (status = 401, description = "`reauthentication_required` (with WWW-Authenticate, RFC 9470), or a token error", body = super::error::ErrorBody),
        (status = 429, description = "`rate_limited`", body = super::error::ErrorBody),
    ),
)]
#[get("/me/export")]
pub async fn export(
    app: &State<App>,
    caller: Fresh<AuthAccount>,
    client: ClientInfo,
) -> ApiResult<Json<Value>> {
    Ok(Json(auth::export(app, caller.0.account.id, &client).await?))
}

/// The fields of the account its owner may change (one for now, required: a body
/// that names nothing changes nothing and says so).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({ "display_name": "Alice Liddell" })))]
pub struct ProfileChange {
    /// A name (one line of at most 100 characters), or null or "" to clear it.
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 100, required = true)]
    display_name: Option<Option<String>>,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// Changes the signed-in account's display name.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "account",
    request_body = ProfileChange,
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses((status = 200, body = Account)),
)]
#[patch("/me", data = "<body>")]
pub async fn update_me(
    app: &State<App>,
    caller: AuthAccount,
    body: JsonBody<ProfileChange>,
) -> ApiResult<Json<Account>> {
    let Some(name) = body.0.display_name else {
        return Err(AppError::field(
            "display_name",
            "is required (null clears it)",
        ));
    };
    let account =
        auth::update_display_name(app, caller.account.id, name.as_deref().unwrap_or("")).await?;
    Ok(Json(account))
}

/// The password now, and the new one.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "current_password": "correct horse battery staple",
    "new_password": "plum orbit lantern quietly"
})))]
pub struct PasswordChange {
    /// The account's password now, at most 1024 bytes.
    #[schema(format = Password, max_length = 1024)]
    current_password: String,
    /// 15 to 1024 characters (the minimum is the `password_min_length` setting, 15 by
    /// default; the maximum counts bytes); not common, nor made of the username or
    /// email.
    #[schema(format = Password, min_length = 15, max_length = 1024)]
    new_password: String,
}

/// Changes the password and ends every other session of the account.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "account",
    request_body = PasswordChange,
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Changed; the other sessions ended."),
        (status = 409, description = "`conflict`: a reset landed meanwhile", body = super::error::ErrorBody),
        (status = 423, description = "`account_locked`", body = super::error::ErrorBody),
        (status = 503, description = "`server_busy`: the hashing queue is full", body = super::error::ErrorBody),
    ),
)]
#[post("/password", data = "<body>")]
pub async fn change_password(
    app: &State<App>,
    account: AuthAccount,
    client: ClientInfo,
    body: JsonBody<PasswordChange>,
) -> ApiResult<Status> {
    auth::change_password(
        app,
        account.account.id,
        &account.session_id,
        &body.0.current_password,
        &body.0.new_password,
        &client,
    )
    .await?;
    Ok(Status::NoContent)
}
