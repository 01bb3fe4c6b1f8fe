//! `/admin`: account administration pages for staff, over the same rules as the admin
//! API ([`crate::admin`]): the list with search and pages, and one account with its
//! actions, the other parts' sections and recent security events.

use crate::prelude::*;

use crate::accounts::AccountDetail;
use crate::admin::{self, Actor, FlagChange};
use crate::clock::utc_minute as when;
use crate::feature::hooks::{self, SectionContext, Slot};
use crate::guards::DistinctQuery;
use crate::sessions::ClientInfo;
use crate::web::error_page;

pub fn routes() -> Vec<Route> {
    routes![accounts, account, block, unblock, unlock, roles, delete]
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
#[template(path = "admin/accounts.html")]
struct AccountsTemplate {
    layout: Layout,
    query: String,
    rows: Vec<Row>,
    total: i64,
    total_exact: bool,
    page: i64,
    pages: i64,
    /// Listing the accounts after an id (deep pages): no page number to show.
    by_keyset: bool,
    next: NextPage,
}

enum NextPage {
    None,
    Number(i64),
    After(i64),
}

#[get("/admin?<q>&<page>&<after>")]
async fn accounts(
    app: &State<App>,
    staff: StaffPage,
    _distinct: DistinctQuery,
    q: Option<&str>,
    page: Option<&str>,
    after: Option<i64>,
) -> Page {
    let me = staff.0;
    let query = q.unwrap_or("").trim().to_string();
    let paging = Paging::parse(page, None).unwrap_or(Paging {
        page: 1,
        per_page: Paging::DEFAULT_PER_PAGE,
    });
    let listing = match super::list_accounts(app, &query, paging, after).await {
        Ok(listing) => listing,
        Err(error) => return failed(error),
    };
    let pages = listing.pages();
    let next_after = listing.keyset.and_then(|keyset| keyset.next_after);
    // Numbered pages while they reach; past the counted ones, or once following
    // `after`, the next page is the one after the last account shown.
    let next = match next_after {
        None => NextPage::None,
        Some(_) if after.is_none() && paging.page < pages => NextPage::Number(paging.page + 1),
        Some(id) => NextPage::After(id),
    };
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
        layout: me.layout("Accounts"),
        query,
        rows,
        total: listing.total,
        total_exact: listing.keyset.is_none_or(|keyset| keyset.total_exact),
        page: paging.page,
        pages,
        by_keyset: after.is_some(),
        next,
    })
}

fn failed(error: AppError) -> Page {
    match error {
        AppError::NotFound => error_page(Status::NotFound),
        AppError::Validation(_) => error_page(Status::UnprocessableEntity),
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
#[template(path = "admin/account.html")]
struct AccountTemplate {
    layout: Layout,
    detail: AccountDetail,
    created: String,
    lock_text: String,
    blocked_at: String,
    block_reason: String,
    viewer_is_superuser: bool,
    /// The ways the account can sign in now (`password`, …).
    ways: String,
    /// The other parts' sections (two-factor, say).
    sections: Vec<String>,
    events: Vec<EventLine>,
}

#[get("/admin/accounts/<id>")]
async fn account(app: &State<App>, staff: StaffPage, id: &str) -> Page {
    let me = staff.0;
    let Ok(id) = id.parse::<i64>() else {
        return error_page(Status::NotFound);
    };
    // One read of the row serves the detail, the ways in and the sections.
    let row = match admin::find_account(app, id).await {
        Ok(row) => row,
        Err(error) => return failed(error),
    };
    let detail = AccountDetail::new(row.clone(), app.now());
    let recent = Paging {
        page: 1,
        per_page: 20,
    };
    let events = match admin::account_events(app, id, recent).await {
        Ok(listing) => listing.items,
        Err(error) => return failed(error),
    };
    let ways = match hooks::ways_to_sign_in(app, &row).await {
        Ok(ways) if ways.is_empty() => "nothing (it cannot sign in)".to_string(),
        Ok(ways) => ways.join(", "),
        Err(error) => return failed(error),
    };
    let mut layout = me.layout(&detail.account.username);
    let context = SectionContext {
        account: Some(&row),
        csrf: &layout.csrf,
        next: None,
        session_id: None,
        viewer_is_superuser: me.account.is_superuser,
    };
    let sections = hooks::sections(app, Slot::AdminAccountView, &context).await;
    layout.scripts = sections.scripts.clone();
    let scripts = sections.scripts;
    let sections = sections.html;
    let lock_text = match detail.locked_until {
        Some(until) => format!("until {} (UTC)", when(until)),
        None => "until an administrator unlocks it".into(),
    };
    let page = AccountTemplate {
        layout,
        ways,
        sections,
        created: when(detail.account.created_at),
        lock_text,
        blocked_at: detail.blocked_at.map(when).unwrap_or_default(),
        block_reason: detail.block_reason.clone().unwrap_or_default(),
        viewer_is_superuser: me.account.is_superuser,
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
    };
    Page::render_with(&page, &scripts)
}

/// Runs an admin action for the staff member of the page and redirects back to the
/// account with its outcome.
async fn act<F, Fut>(app: &App, me: &StaffPage, id: i64, done: &str, action: F) -> Page
where
    F: FnOnce(Actor) -> Fut,
    Fut: std::future::Future<Output = Result<(), AppError>>,
{
    let back = format!("/admin/accounts/{id}");
    act_then(app, me, id, (done, &back), action).await
}

/// Like [`act`], but a success goes to `done.1` (a deletion leaves no page to return to).
async fn act_then<F, Fut>(app: &App, me: &StaffPage, id: i64, done: (&str, &str), action: F) -> Page
where
    F: FnOnce(Actor) -> Fut,
    Fut: std::future::Future<Output = Result<(), AppError>>,
{
    let back = format!("/admin/accounts/{id}");
    let actor = match admin::current_admin(app, me.0.account.id).await {
        Ok(actor) => actor,
        Err(_) => return error_page(Status::Forbidden),
    };
    match action(actor).await {
        Ok(()) => Page::Feedback(Feedback::success(done.0).redirect(done.1)),
        Err(error) => Page::failed(&error, &back),
    }
}

#[derive(FromForm)]
struct BlockForm {
    #[field(default = String::new())]
    reason: String,
}

#[post("/admin/accounts/<id>/block", data = "<form>")]
async fn block(
    app: &State<App>,
    client: ClientInfo,
    me: StaffPage,
    id: i64,
    form: CsrfForm<BlockForm>,
) -> Page {
    let reason = form.0.reason;
    act(
        app,
        &me,
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

#[post("/admin/accounts/<id>/unblock", data = "<_form>")]
async fn unblock(
    app: &State<App>,
    client: ClientInfo,
    me: StaffPage,
    id: i64,
    _form: CsrfForm<CsrfOnly>,
) -> Page {
    act(app, &me, id, "Unblocked.", |actor| async move {
        admin::unblock(app, &actor, id, &client).await.map(drop)
    })
    .await
}

#[post("/admin/accounts/<id>/unlock", data = "<_form>")]
async fn unlock(
    app: &State<App>,
    client: ClientInfo,
    me: StaffPage,
    id: i64,
    _form: CsrfForm<CsrfOnly>,
) -> Page {
    act(
        app,
        &me,
        id,
        "Unlocked; failed logins cleared.",
        |actor| async move { admin::unlock(app, &actor, id, &client).await.map(drop) },
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
}

#[post("/admin/accounts/<id>/roles", data = "<form>")]
async fn roles(
    app: &State<App>,
    client: ClientInfo,
    me: FreshPage<StaffPage>,
    id: i64,
    form: CsrfForm<RolesForm>,
) -> Page {
    let me = me.0;
    let superuser = me.0.account.is_superuser;
    let form = form.0;
    // Staff see only the Active box; the role boxes they do not see change nothing.
    let change = FlagChange {
        is_active: Some(form.is_active),
        is_staff: superuser.then_some(form.is_staff),
        is_superuser: superuser.then_some(form.is_superuser),
    };
    act(app, &me, id, "Saved.", |actor| async move {
        admin::update_flags(app, &actor, id, change, &client)
            .await
            .map(drop)
    })
    .await
}

#[derive(FromForm)]
struct DeleteForm {
    #[field(default = false)]
    confirm: bool,
}

#[post("/admin/accounts/<id>/delete", data = "<form>")]
async fn delete(
    app: &State<App>,
    client: ClientInfo,
    me: FreshPage<StaffPage>,
    id: i64,
    form: CsrfForm<DeleteForm>,
) -> Page {
    let me = me.0;
    if !form.0.confirm {
        return Page::Feedback(
            Feedback::error("Tick the box to confirm the deletion.")
                .redirect(format!("/admin/accounts/{id}")),
        );
    }
    // The account page is gone: a successful deletion returns to the list.
    act_then(
        app,
        &me,
        id,
        ("The account is deleted.", "/admin"),
        |actor| async move { admin::delete(app, &actor, id, &client).await },
    )
    .await
}
