//! `/api/admin`: account administration for staff. Every route takes a
//! `StaffAccount`, so anyone else gets 403 `forbidden`; the finer rules (superusers
//! only for roles and deletion, nobody on themselves) live in [`crate::admin`].

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::body::JsonBody;
use super::docs::ErrorBody;
use crate::accounts::AccountDetail;
use crate::admin::{self, Actor, FlagChange, Paging};
use crate::app::App;
use crate::error::AppError;
use crate::guards::{DistinctQuery, Fresh, StaffAccount};
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

/// An account as staff see it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AccountDetailAnswer {
    account: AccountDetail,
}

/// A page of accounts (oldest first).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AccountsPage {
    accounts: Vec<AccountDetail>,
    page: i64,
    per_page: i64,
    /// Counted up to 10000; past it `total_exact` is false.
    total: i64,
    total_exact: bool,
    /// The `after` of the next page; null on the last one.
    next_after: Option<i64>,
}

/// A page of an account's audit events (newest first).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct EventsPage {
    events: Vec<crate::events::Event>,
    page: i64,
    per_page: i64,
    total: i64,
}

/// Accounts whose username or email contains `q`, a page at a time.
#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(
        ("q" = Option<String>, Query, description = "Three characters or more: part of a username or email; one or two: their start"),
        ("page" = Option<i64>, Query, description = "From 1, within the first 10000 accounts"),
        ("after" = Option<i64>, Query, description = "The page after this account id (`next_after`), at any depth"),
        ("per_page" = Option<i64>, Query, description = "From 1 to 100 (20)"),
    ),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = AccountsPage),
        (status = 403, description = "`forbidden`: staff only; `account_blocked`, `account_inactive`", body = ErrorBody),
    ),
)]
#[get("/accounts?<q>&<page>&<per_page>&<after>")]
pub async fn list_accounts(
    app: &State<App>,
    _staff: StaffAccount,
    _distinct: DistinctQuery,
    q: Option<&str>,
    page: Option<&str>,
    per_page: Option<&str>,
    after: Option<&str>,
) -> ApiResult<Json<Value>> {
    let page = Paging::parse(page, per_page)?;
    let after = after
        .map(|text| {
            text.trim()
                .parse::<i64>()
                .ok()
                .filter(|id| *id >= 0)
                .ok_or_else(|| AppError::field("after", "must be an account id (next_after)"))
        })
        .transpose()?;
    let listing = admin::list_accounts(app, q.unwrap_or("").trim(), page, after).await?;
    Ok(Json(listing.to_json("accounts")))
}

#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(("id" = String, Path, description = "The account id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = AccountDetailAnswer),
        (status = 403, description = "`forbidden`: staff only", body = ErrorBody),
    ),
)]
#[get("/accounts/<id>")]
pub async fn show_account(
    app: &State<App>,
    _staff: StaffAccount,
    id: &str,
) -> ApiResult<Json<AccountDetailAnswer>> {
    let account = admin::account_detail(app, account_id(id)?).await?;
    Ok(Json(AccountDetailAnswer { account }))
}

/// Switches 2FA off for a user who lost their device (Fresh).
#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(("id" = String, Path, description = "The account id")),
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
    let actor = actor(app, staff.0).await?;
    let account = admin::reset_two_factor(app, &actor, account_id(id)?, &client).await?;
    Ok(Json(AccountDetailAnswer { account }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    reason: String,
}

/// Blocks the account and ends its sessions.
#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(("id" = String, Path, description = "The account id")),
    request_body = BlockRequest,
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = AccountDetailAnswer),
        (status = 403, description = "`forbidden`: not allowed on this account (staff only; superusers for superusers; never oneself)", body = ErrorBody),
    ),
)]
#[post("/accounts/<id>/block", data = "<body>")]
pub async fn block_account(
    app: &State<App>,
    staff: StaffAccount,
    client: ClientInfo,
    id: &str,
    body: JsonBody<BlockRequest>,
) -> ApiResult<Json<AccountDetailAnswer>> {
    let id = account_id(id)?;
    let account = admin::block(app, &actor(app, staff).await?, id, &body.0.reason, &client).await?;
    Ok(Json(AccountDetailAnswer { account }))
}

/// Lifts a block.
#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(("id" = String, Path, description = "The account id")),
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = AccountDetailAnswer),
        (status = 403, description = "`forbidden`: not allowed on this account (staff only; superusers for superusers; never oneself)", body = ErrorBody),
    ),
)]
#[post("/accounts/<id>/unblock")]
pub async fn unblock_account(
    app: &State<App>,
    staff: StaffAccount,
    client: ClientInfo,
    id: &str,
) -> ApiResult<Json<AccountDetailAnswer>> {
    let account = admin::unblock(app, &actor(app, staff).await?, account_id(id)?, &client).await?;
    Ok(Json(AccountDetailAnswer { account }))
}

/// Clears the failed-login counter and any lock.
#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(("id" = String, Path, description = "The account id")),
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = AccountDetailAnswer),
        (status = 403, description = "`forbidden`: not allowed on this account (staff only; superusers for superusers; never oneself)", body = ErrorBody),
    ),
)]
#[post("/accounts/<id>/unlock")]
pub async fn unlock_account(
    app: &State<App>,
    staff: StaffAccount,
    client: ClientInfo,
    id: &str,
) -> ApiResult<Json<AccountDetailAnswer>> {
    let account = admin::unlock(app, &actor(app, staff).await?, account_id(id)?, &client).await?;
    Ok(Json(AccountDetailAnswer { account }))
}

/// The fields `PATCH /api/admin/accounts/{id}` may change; any other is refused.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    is_active: Option<bool>,
    is_staff: Option<bool>,
    is_superuser: Option<bool>,
}

/// Changes roles or the active flag (Fresh; roles: superusers only; never the last superuser).
#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(("id" = String, Path, description = "The account id")),
    request_body = AccountPatch,
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = AccountDetailAnswer),
        (status = 403, description = "`forbidden`: not allowed on this account (staff only; superusers for superusers; never oneself)", body = ErrorBody),
        (status = 401, description = "`reauthentication_required` (with WWW-Authenticate, RFC 9470), or a token error", body = ErrorBody),
        (status = 409, description = "`conflict`: it would leave no active superuser", body = ErrorBody),
    ),
)]
#[patch("/accounts/<id>", data = "<body>")]
pub async fn update_account(
    app: &State<App>,
    staff: Fresh<StaffAccount>,
    client: ClientInfo,
    id: &str,
    body: JsonBody<AccountPatch>,
) -> ApiResult<Json<AccountDetailAnswer>> {
    let id = account_id(id)?;
    let change = FlagChange {
        is_active: body.0.is_active,
        is_staff: body.0.is_staff,
        is_superuser: body.0.is_superuser,
    };
    let actor = actor(app, staff.0).await?;
    let account = admin::update_flags(app, &actor, id, change, &client).await?;
    Ok(Json(AccountDetailAnswer { account }))
}

/// Deletes the account and its sessions (Fresh; superusers only; never oneself or the
/// last superuser).
#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(("id" = String, Path, description = "The account id")),
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, description = "`reauthentication_required` (with WWW-Authenticate, RFC 9470), or a token error", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 409, description = "`conflict`: the last active superuser", body = ErrorBody),
    ),
)]
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

#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(
        ("id" = String, Path, description = "The account id"),
        ("page" = Option<i64>, Query, description = "From 1"),
        ("per_page" = Option<i64>, Query, description = "From 1 to 100 (20)"),
    ),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = EventsPage),
        (status = 403, description = "`forbidden`: staff only", body = ErrorBody),
    ),
)]
#[get("/accounts/<id>/events?<page>&<per_page>")]
pub async fn account_events(
    app: &State<App>,
    _staff: StaffAccount,
    _distinct: DistinctQuery,
    id: &str,
    page: Option<&str>,
    per_page: Option<&str>,
) -> ApiResult<Json<Value>> {
    let page = Paging::parse(page, per_page)?;
    let listing = admin::account_events(app, account_id(id)?, page).await?;
    Ok(Json(listing.to_json("events")))
}
