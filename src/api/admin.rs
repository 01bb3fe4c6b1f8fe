//! `/api/admin`: account administration for staff. Every route takes a
//! `StaffAccount`, so anyone else gets 403 `forbidden`; the finer rules (superusers
//! only for roles and deletion, nobody on themselves) live in [`crate::admin`].

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::State;
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::JsonBody;
use crate::admin::{self, Actor, FlagChange, Page};
use crate::app::App;
use crate::error::AppError;
use crate::guards::{Fresh, StaffAccount};
use crate::sessions::ClientInfo;

type ApiResult<T> = Result<T, AppError>;

/// The account id of a path; anything that is not one names no account.
fn account_id(id: &str) -> Result<i64, AppError> {
    id.parse().map_err(|_| AppError::NotFound)
}

/// The acting admin, re-read for actions that change something.
async fn actor(app: &App, staff: StaffAccount) -> Result<Actor, AppError> {
    admin::current_admin(app, staff.account.id).await
}

#[get("/accounts?<q>&<page>&<per_page>")]
pub async fn list_accounts(
    app: &State<App>,
    _staff: StaffAccount,
    q: Option<&str>,
    page: Option<&str>,
    per_page: Option<&str>,
) -> ApiResult<Json<Value>> {
    let page = Page::parse(page, per_page)?;
    let listing = admin::list_accounts(app, q.unwrap_or("").trim(), page).await?;
    Ok(Json(listing.to_json("accounts")))
}

#[get("/accounts/<id>")]
pub async fn show_account(
    app: &State<App>,
    _staff: StaffAccount,
    id: &str,
) -> ApiResult<Json<Value>> {
    let account = admin::account_detail(app, account_id(id)?).await?;
    Ok(Json(json!({ "account": account })))
}

#[post("/accounts/<id>/2fa/disable")]
pub async fn reset_two_factor(
    app: &State<App>,
    staff: Fresh<StaffAccount>,
    client: ClientInfo,
    id: &str,
) -> ApiResult<Json<Value>> {
    let actor = actor(app, staff.0).await?;
    let account = admin::reset_two_factor(app, &actor, account_id(id)?, &client).await?;
    Ok(Json(json!({ "account": account })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    reason: String,
}

#[post("/accounts/<id>/block", data = "<body>")]
pub async fn block_account(
    app: &State<App>,
    staff: StaffAccount,
    client: ClientInfo,
    id: &str,
    body: JsonBody<BlockRequest>,
) -> ApiResult<Json<Value>> {
    let id = account_id(id)?;
    let account = admin::block(app, &actor(app, staff).await?, id, &body.0.reason, &client).await?;
    Ok(Json(json!({ "account": account })))
}

#[post("/accounts/<id>/unblock")]
pub async fn unblock_account(
    app: &State<App>,
    staff: StaffAccount,
    client: ClientInfo,
    id: &str,
) -> ApiResult<Json<Value>> {
    let account = admin::unblock(app, &actor(app, staff).await?, account_id(id)?, &client).await?;
    Ok(Json(json!({ "account": account })))
}

#[post("/accounts/<id>/unlock")]
pub async fn unlock_account(
    app: &State<App>,
    staff: StaffAccount,
    client: ClientInfo,
    id: &str,
) -> ApiResult<Json<Value>> {
    let account = admin::unlock(app, &actor(app, staff).await?, account_id(id)?, &client).await?;
    Ok(Json(json!({ "account": account })))
}

/// The fields `PATCH /api/admin/accounts/{id}` may change; any other is refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    is_active: Option<bool>,
    is_staff: Option<bool>,
    is_superuser: Option<bool>,
}

#[patch("/accounts/<id>", data = "<body>")]
pub async fn update_account(
    app: &State<App>,
    staff: Fresh<StaffAccount>,
    client: ClientInfo,
    id: &str,
    body: JsonBody<AccountPatch>,
) -> ApiResult<Json<Value>> {
    let id = account_id(id)?;
    let change = FlagChange {
        is_active: body.0.is_active,
        is_staff: body.0.is_staff,
        is_superuser: body.0.is_superuser,
    };
    let actor = actor(app, staff.0).await?;
    let account = admin::update_flags(app, &actor, id, change, &client).await?;
    Ok(Json(json!({ "account": account })))
}

#[delete("/accounts/<id>")]
pub async fn delete_account(
    app: &State<App>,
    staff: Fresh<StaffAccount>,
    client: ClientInfo,
    id: &str,
) -> ApiResult<Status> {
    admin::delete(app, &actor(app, staff.0).await?, account_id(id)?, &client).await?;
    Ok(Status::NoContent)
}

#[get("/accounts/<id>/events?<page>&<per_page>")]
pub async fn account_events(
    app: &State<App>,
    _staff: StaffAccount,
    id: &str,
    page: Option<&str>,
    per_page: Option<&str>,
) -> ApiResult<Json<Value>> {
    let page = Page::parse(page, per_page)?;
    let listing = admin::account_events(app, account_id(id)?, page).await?;
    Ok(Json(listing.to_json("events")))
}
