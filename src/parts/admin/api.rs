//! `/api/admin`: account administration for staff. Every route takes a
//! `StaffAccount`, so anyone else gets 403 `forbidden`; the finer rules (superusers
//! only for roles and deletion, nobody on themselves) live in [`crate::admin`].

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::State;
use serde::Deserialize;
use serde_json::Value;

use crate::accounts::{AccountDetail, AccountDetailAnswer};
use crate::admin::{self, Actor, FlagChange, Paging};
use crate::api::body::JsonBody;
use crate::api::error::ErrorBody;
use crate::app::App;
use crate::error::AppError;
use crate::guards::{DistinctQuery, Fresh, StaffAccount};
use crate::sessions::ClientInfo;

type ApiResult<T> = Result<T, AppError>;

/// The account id of a path; anything that is not one names no account.
pub fn account_id(id: &str) -> Result<i64, AppError> {
    id.parse().map_err(|_| AppError::NotFound)
}

/// The acting admin, re-read for actions that change something.
pub async fn actor(app: &App, staff: StaffAccount) -> Result<Actor, AppError> {
    admin::current_admin(app, staff.account.id).await
}

/// A page of accounts (oldest first).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(examples(json!({
    "accounts": [{
        "id": 42,
        "username": "alice",
        "email": "alice@example.com",
        "display_name": "Alice Liddell",
        "is_active": true,
        "is_staff": false,
        "is_superuser": false,
        "created_at": 1767225600,
        "email_verified": true,
        "email_verified_at": 1767225900,
        "failed_logins": 0,
        "locked": false,
        "locked_until": null,
        "blocked": false,
        "block_reason": null,
        "blocked_at": null,
        "blocked_by": null,
        "two_factor_enabled": true
    }],
    "page": 1,
    "per_page": 20,
    "total": 1,
    "total_exact": true,
    "next_after": null
})))]
pub struct AccountsPage {
    accounts: Vec<AccountDetail>,
    /// The page number (1 when `after` was given).
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
#[schema(examples(json!({
    "events": [{
        "id": 1207,
        "kind": "login_succeeded",
        "account_id": 42,
        "actor_id": 42,
        "detail": null,
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "created_at": 1767225600,
        "repeats": 1,
        "last_at": null,
        "request_id": "Zk3u9QmW1xTq7LbV2nRp4g"
    }],
    "page": 1,
    "per_page": 20,
    "total": 1
})))]
pub struct EventsPage {
    events: Vec<crate::events::Event>,
    page: i64,
    per_page: i64,
    total: i64,
}

/// Lists accounts, a page at a time, optionally those matching a search.
///
/// Oldest first: numbered pages reach the first 10000 matches; `after` (the answer's
/// `next_after`) pages on at any depth.
#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(
        ("q" = Option<String>, Query, max_length = 254, description = "Empty: every account; else 3 characters or more, found anywhere in the username or email (on PostgreSQL, a search without three letters or digits in a row matches their start instead); at most 254 bytes"),
        ("page" = Option<i64>, Query, minimum = 1, maximum = 10000, description = "From 1, within the first 10000 accounts (1 with `after`)"),
        ("after" = Option<i64>, Query, minimum = 0, description = "The page after this account id (`next_after`), at any depth; not with `page` past 1"),
        ("per_page" = Option<i64>, Query, minimum = 1, maximum = 100, description = "From 1 to 100 (20)"),
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
    let listing = super::list_accounts(app, q.unwrap_or("").trim(), page, after).await?;
    Ok(Json(listing.to_json("accounts")))
}

/// Shows one account with its lock and block state.
#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(("id" = String, Path, pattern = r"^[0-9]{1,18}$", description = "The account id")),
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
    Ok(Json(AccountDetailAnswer::new(account)))
}

/// Why the account is blocked.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({ "reason": "Sent spam to other members" })))]
pub struct BlockRequest {
    /// Why, for the audit trail and other staff: one line of 1 to 500 characters.
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

/// Blocks the account and ends its sessions.
#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(("id" = String, Path, pattern = r"^[0-9]{1,18}$", description = "The account id")),
    request_body = BlockRequest,
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = AccountDetailAnswer),
        (status = 403, description = "`forbidden`: not allowed on this account (staff only; superusers for superusers; never oneself)", body = ErrorBody),
        (status = 409, description = "`conflict`: the account is already blocked", body = ErrorBody),
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
    Ok(Json(AccountDetailAnswer::new(account)))
}

/// Lifts a block.
#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(("id" = String, Path, pattern = r"^[0-9]{1,18}$", description = "The account id")),
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = AccountDetailAnswer),
        (status = 403, description = "`forbidden`: not allowed on this account (staff only; superusers for superusers; never oneself)", body = ErrorBody),
        (status = 409, description = "`conflict`: the account is not blocked", body = ErrorBody),
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
    Ok(Json(AccountDetailAnswer::new(account)))
}

/// Clears the failed-login counter and any lock.
#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(("id" = String, Path, pattern = r"^[0-9]{1,18}$", description = "The account id")),
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
    Ok(Json(AccountDetailAnswer::new(account)))
}

/// The fields `PATCH /api/admin/accounts/{id}` may change (at least one); any other is
/// refused.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({ "is_staff": true })))]
pub struct AccountPatch {
    /// False deactivates the account (it cannot sign in; its sessions end); absent:
    /// unchanged.
    is_active: Option<bool>,
    /// Staff may use the admin API (superusers only may change it); absent: unchanged.
    is_staff: Option<bool>,
    /// Superusers may also change roles and delete accounts (superusers only may
    /// change it); absent: unchanged.
    is_superuser: Option<bool>,
}

/// Changes an account's roles or active flag.
///
/// Needs a recent proof (`Fresh`). Roles: superusers only; never the last active
/// superuser.
#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(("id" = String, Path, pattern = r"^[0-9]{1,18}$", description = "The account id")),
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
    Ok(Json(AccountDetailAnswer::new(account)))
}

/// Deletes an account and its sessions.
///
/// Needs a recent proof (`Fresh`); superusers only; never oneself or the last
/// superuser.
#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(("id" = String, Path, pattern = r"^[0-9]{1,18}$", description = "The account id")),
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

/// Lists an account's audit events, newest first, a page at a time.
#[utoipa::path(
    context_path = "/api/admin",
    tag = "admin",
    params(
        ("id" = String, Path, pattern = r"^[0-9]{1,18}$", description = "The account id"),
        ("page" = Option<i64>, Query, minimum = 1, maximum = 1000000, description = "From 1"),
        ("per_page" = Option<i64>, Query, minimum = 1, maximum = 100, description = "From 1 to 100 (20)"),
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

pub fn routes() -> Vec<rocket::Route> {
    routes![
        list_accounts,
        show_account,
        block_account,
        unblock_account,
        unlock_account,
        update_account,
        delete_account,
        account_events,
    ]
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_accounts,
    show_account,
    block_account,
    unblock_account,
    unlock_account,
    update_account,
    delete_account,
    account_events,
))]
pub struct AdminApi;
