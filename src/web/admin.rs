//! `/admin`: account administration pages for staff, over the same rules as the admin
//! API ([`crate::admin`]): the list with search and pages, and one account with its
//! actions and recent security events.

use askama::Template;
use rocket::form::{Form, FromForm};
use rocket::http::{CookieJar, Status};
use rocket::{Route, State};

use super::feedback::{Feedback, Incoming};
use super::pages::{csrf_ok, feedback_of};
use super::visitor::Visitor;
use super::{error_page, CsrfOnly, Layout, Page};
use crate::accounts::{Account, AccountDetail};
use crate::admin::{self, Actor, FlagChange, Page as Paging};
use crate::app::App;
use crate::clock::utc_minute as when;
use crate::error::AppError;
use crate::sessions::ClientInfo;

pub fn routes() -> Vec<Route> {
    routes![
        accounts,
        account,
        block,
        unblock,
        unlock,
        reset_two_factor,
        roles,
        delete
    ]
}

/// The signed-in staff member of a page: anonymous visitors go to the login page,
/// others get 403.
fn staff(visitor: &Visitor) -> Result<Account, Box<Page>> {
    match visitor.signed_in() {
        Some(account) if account.is_staff || account.is_superuser => Ok(account.clone()),
        Some(_) => Err(Box::new(error_page(Status::Forbidden))),
        None => Err(Box::new(super::account::to_login(visitor))),
    }
}

struct Row {
    id: i64,
    username: String,
    email: String,
    staff: bool,
    superuser: bool,
    active: bool,
    blocked: bool,
    locked: bool,
    two_factor: bool,
    failed_logins: i64,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AccountsTemplate {
    layout: Layout,
    query: String,
    rows: Vec<Row>,
    total: i64,
    page: i64,
    pages: i64,
}

#[get("/admin?<q>&<page>")]
async fn accounts(
    app: &State<App>,
    visitor: Visitor,
    incoming: Incoming,
    q: Option<&str>,
    page: Option<&str>,
) -> Page {
    let viewer = match staff(&visitor) {
        Ok(viewer) => viewer,
        Err(page) => return *page,
    };
    let query = q.unwrap_or("").trim().to_string();
    let paging = Paging::parse(page, None).unwrap_or(Paging {
        page: 1,
        per_page: Paging::DEFAULT_PER_PAGE,
    });
    let listing = match admin::list_accounts(app, &query, paging).await {
        Ok(listing) => listing,
        Err(error) => return failed(error),
    };
    let pages = ((listing.total + paging.per_page - 1) / paging.per_page).max(1);
    let rows = listing
        .items
        .into_iter()
        .map(|d| Row {
            id: d.account.id,
            username: d.account.username,
            email: d.account.email,
            staff: d.account.is_staff,
            superuser: d.account.is_superuser,
            active: d.account.is_active,
            blocked: d.blocked,
            locked: d.locked,
            two_factor: d.two_factor_enabled,
            failed_logins: d.failed_logins,
        })
        .collect();
    Page::render(&AccountsTemplate {
        layout: Layout::new(
            "Accounts",
            Some(&viewer),
            &visitor.csrf,
            feedback_of(incoming, &visitor),
        ),
        query,
        rows,
        total: listing.total,
        page: paging.page,
        pages,
    })
}

fn failed(error: AppError) -> Page {
    match error {
        AppError::NotFound => error_page(Status::NotFound),
        detail if detail.is_internal() => {
            log::error!("admin page: {}", detail.with_causes());
            error_page(Status::InternalServerError)
        }
        _ => error_page(Status::Forbidden),
    }
}

struct EventLine {
    when: String,
    kind: String,
    detail: String,
    ip: String,
}

#[derive(Template)]
#[template(path = "admin_account.html")]
struct AccountTemplate {
    layout: Layout,
    detail: AccountDetail,
    created: String,
    lock_text: String,
    blocked_at: String,
    block_reason: String,
    viewer_is_superuser: bool,
    events: Vec<EventLine>,
}

#[get("/admin/accounts/<id>")]
async fn account(app: &State<App>, visitor: Visitor, incoming: Incoming, id: &str) -> Page {
    let viewer = match staff(&visitor) {
        Ok(viewer) => viewer,
        Err(page) => return *page,
    };
    let Ok(id) = id.parse::<i64>() else {
        return error_page(Status::NotFound);
    };
    let detail = match admin::account_detail(app, id).await {
        Ok(detail) => detail,
        Err(error) => return failed(error),
    };
    let recent = Paging {
        page: 1,
        per_page: 20,
    };
    let events = match admin::account_events(app, id, recent).await {
        Ok(listing) => listing.items,
        Err(error) => return failed(error),
    };
    let lock_text = match detail.locked_until {
        Some(until) => format!("until {} (UTC)", when(until)),
        None => "until an administrator unlocks it".into(),
    };
    Page::render(&AccountTemplate {
        layout: Layout::new(
            &detail.account.username,
            Some(&viewer),
            &visitor.csrf,
            feedback_of(incoming, &visitor),
        ),
        created: when(detail.account.created_at),
        lock_text,
        blocked_at: detail.blocked_at.map(when).unwrap_or_default(),
        block_reason: detail.block_reason.clone().unwrap_or_default(),
        viewer_is_superuser: viewer.is_superuser,
        events: events
            .into_iter()
            .map(|e| EventLine {
                when: when(e.created_at),
                kind: e.kind.replace('_', " "),
                detail: e.detail.unwrap_or_default(),
                ip: e.ip.unwrap_or_default(),
            })
            .collect(),
        detail,
    })
}

/// Runs an admin action for the staff member of the page and redirects back to the
/// account with its outcome.
async fn act<F, Fut>(
    app: &App,
    jar: &CookieJar<'_>,
    visitor: &Visitor,
    csrf: &str,
    id: i64,
    done: &str,
    action: F,
) -> Page
where
    F: FnOnce(Actor) -> Fut,
    Fut: std::future::Future<Output = Result<(), AppError>>,
{
    if !csrf_ok(app, jar, csrf) {
        return error_page(Status::Forbidden);
    }
    let viewer = match staff(visitor) {
        Ok(viewer) => viewer,
        Err(page) => return *page,
    };
    let back = format!("/admin/accounts/{id}");
    let actor = match admin::current_admin(app, viewer.id).await {
        Ok(actor) => actor,
        Err(_) => return error_page(Status::Forbidden),
    };
    match action(actor).await {
        Ok(()) => Page::Feedback(Feedback::success(done).redirect(back)),
        Err(AppError::Validation(fields)) => Page::Feedback(
            Feedback::error("Some fields need another look.")
                .with_fields(fields)
                .redirect(back),
        ),
        Err(AppError::NotFound) => error_page(Status::NotFound),
        Err(detail) if detail.is_internal() => {
            log::error!("admin page: {}", detail.with_causes());
            error_page(Status::InternalServerError)
        }
        Err(error) => Page::Feedback(Feedback::error(error.sentence()).redirect(back)),
    }
}

#[derive(FromForm)]
struct BlockForm {
    #[field(default = String::new())]
    reason: String,
    #[field(default = String::new())]
    csrf_token: String,
}

#[post("/admin/accounts/<id>/block", data = "<form>")]
async fn block(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    id: i64,
    form: Form<BlockForm>,
) -> Page {
    let BlockForm { reason, csrf_token } = form.into_inner();
    act(
        app,
        jar,
        &visitor,
        &csrf_token,
        id,
        "Blocked; its sessions are signed out.",
        |actor| async move {
            admin::block(app, &actor, id, &reason, &client)
                .await
                .map(drop)
        },
    )
    .await
}

#[post("/admin/accounts/<id>/unblock", data = "<form>")]
async fn unblock(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    id: i64,
    form: Form<CsrfOnly>,
) -> Page {
    act(
        app,
        jar,
        &visitor,
        &form.csrf_token,
        id,
        "Unblocked.",
        |actor| async move { admin::unblock(app, &actor, id, &client).await.map(drop) },
    )
    .await
}

#[post("/admin/accounts/<id>/unlock", data = "<form>")]
async fn unlock(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    id: i64,
    form: Form<CsrfOnly>,
) -> Page {
    act(
        app,
        jar,
        &visitor,
        &form.csrf_token,
        id,
        "Unlocked; failed logins cleared.",
        |actor| async move { admin::unlock(app, &actor, id, &client).await.map(drop) },
    )
    .await
}

#[post("/admin/accounts/<id>/2fa/disable", data = "<form>")]
async fn reset_two_factor(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    id: i64,
    form: Form<CsrfOnly>,
) -> Page {
    act(
        app,
        jar,
        &visitor,
        &form.csrf_token,
        id,
        "Two-factor authentication is off for this account.",
        |actor| async move {
            admin::reset_two_factor(app, &actor, id, &client)
                .await
                .map(drop)
        },
    )
    .await
}

#[derive(FromForm)]
struct RolesForm {
    #[field(default = false)]
    is_active: bool,
    #[field(default = false)]
    is_staff: bool,
    #[field(default = false)]
    is_superuser: bool,
    #[field(default = String::new())]
    csrf_token: String,
}

#[post("/admin/accounts/<id>/roles", data = "<form>")]
async fn roles(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    id: i64,
    form: Form<RolesForm>,
) -> Page {
    let superuser = visitor.signed_in().is_some_and(|a| a.is_superuser);
    // Staff see only the Active box; the role boxes they do not see change nothing.
    let change = FlagChange {
        is_active: Some(form.is_active),
        is_staff: superuser.then_some(form.is_staff),
        is_superuser: superuser.then_some(form.is_superuser),
    };
    let csrf_token = form.csrf_token.clone();
    act(
        app,
        jar,
        &visitor,
        &csrf_token,
        id,
        "Saved.",
        |actor| async move {
            admin::update_flags(app, &actor, id, change, &client)
                .await
                .map(drop)
        },
    )
    .await
}

#[derive(FromForm)]
struct DeleteForm {
    #[field(default = false)]
    confirm: bool,
    #[field(default = String::new())]
    csrf_token: String,
}

#[post("/admin/accounts/<id>/delete", data = "<form>")]
async fn delete(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    id: i64,
    form: Form<DeleteForm>,
) -> Page {
    if !form.confirm {
        return Page::Feedback(
            Feedback::error("Tick the box to confirm the deletion.")
                .redirect(format!("/admin/accounts/{id}")),
        );
    }
    let csrf_token = form.csrf_token.clone();
    let page = act(
        app,
        jar,
        &visitor,
        &csrf_token,
        id,
        "Deleted.",
        |actor| async move { admin::delete(app, &actor, id, &client).await },
    )
    .await;
    // The account page is gone: a successful deletion returns to the list.
    match page {
        Page::Feedback(_)
            if matches!(admin::find_account(app, id).await, Err(AppError::NotFound)) =>
        {
            Page::Feedback(Feedback::success("The account is deleted.").redirect("/admin"))
        }
        other => other,
    }
}
