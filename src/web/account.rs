//! `/account`: the signed-in person's profile, password, sessions and two-factor
//! authentication.

use askama::Template;
use rocket::form::{Form, FromForm};
use rocket::http::{CookieJar, Status};
use rocket::response::Redirect;
use rocket::{Route, State};

use super::feedback::{Feedback, Incoming};
use super::pages::{csrf_ok, feedback_of};
use super::visitor::Visitor;
use super::{error_page, CsrfOnly, Layout, Page};
use crate::accounts::Account;
use crate::app::App;
use crate::auth;
use crate::clock::utc_minute as when;
use crate::error::AppError;
use crate::sessions::{self, ClientInfo};
use crate::two_factor;

pub fn routes() -> Vec<Route> {
    routes![
        account,
        update_profile,
        change_password,
        revoke_session,
        revoke_other_sessions,
        setup_two_factor,
        setup_two_factor_page,
        enable_two_factor,
        regenerate_recovery_codes,
        disable_two_factor,
    ]
}

/// The signed-in account and session of a page, or the way to the login page.
fn signed_in(visitor: &Visitor) -> Result<(Account, String), Box<Page>> {
    match (visitor.signed_in(), &visitor.session_id) {
        (Some(account), Some(session)) => Ok((account.clone(), session.clone())),
        _ => Err(Box::new(to_login(visitor))),
    }
}

/// What every account form checks first, in this order: the feature (2FA forms), the
/// form's CSRF token, and a signed-in account with its session.
fn form_account(
    app: &App,
    jar: &CookieJar<'_>,
    visitor: &Visitor,
    csrf_token: &str,
    two_factor_form: bool,
) -> Result<(Account, String), Box<Page>> {
    if two_factor_form && !app.settings.two_factor_enabled {
        return Err(Box::new(error_page(Status::NotFound)));
    }
    if !csrf_ok(app, jar, csrf_token) {
        return Err(Box::new(error_page(Status::Forbidden)));
    }
    signed_in(visitor)
}

/// The way to the login page, saying why: the session just refused (blocked, ended),
/// or that the page needs a login.
pub fn to_login(visitor: &Visitor) -> Page {
    let message = match &visitor.refusal {
        Some(error) => error.sentence(),
        None => "Please log in to see that page.".to_string(),
    };
    Page::Feedback(Feedback::error(message).redirect("/login"))
}

/// The answer to a flow's failure on the account page: feedback for what the person
/// can fix, the 500 page for ours.
fn back_with(error: AppError, fields_too: bool) -> Page {
    match error {
        detail if detail.is_internal() => {
            log::error!("account page: {}", detail.with_causes());
            error_page(Status::InternalServerError)
        }
        AppError::Validation(fields) if fields_too => Page::Feedback(
            Feedback::error("Some fields need another look.")
                .with_fields(fields)
                .redirect("/account"),
        ),
        other => Page::Feedback(Feedback::error(other.sentence()).redirect("/account")),
    }
}

struct SessionLine {
    id: String,
    device: String,
    ip: String,
    last_used: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountTemplate {
    layout: Layout,
    username: String,
    email: String,
    display_name: String,
    member_since: String,
    sessions: Vec<SessionLine>,
    two_factor_enabled: bool,
    recovery_codes_left: i64,
}

#[get("/account")]
async fn account(app: &State<App>, visitor: Visitor, incoming: Incoming) -> Page {
    let (account, session_id) = match signed_in(&visitor) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    let rows = match sessions::list_live_sessions(app.pool(), account.id, app.now()).await {
        Ok(rows) => rows,
        Err(error) => return back_with(error.into(), false),
    };
    let status = if app.settings.two_factor_enabled {
        match two_factor::status(app, account.id).await {
            Ok(status) => Some(status),
            Err(error) => return back_with(error, false),
        }
    } else {
        None
    };
    let sessions = rows
        .iter()
        .map(|row| SessionLine {
            id: row.id.clone(),
            device: row
                .user_agent
                .clone()
                .unwrap_or_else(|| "Unknown device".into()),
            ip: row.ip.clone().unwrap_or_default(),
            last_used: when(row.last_used_at),
            current: row.id == session_id,
        })
        .collect();
    Page::render(&AccountTemplate {
        layout: Layout::new(
            "Your account",
            Some(&account),
            &visitor.csrf,
            feedback_of(incoming, &visitor),
        ),
        username: account.username.clone(),
        email: account.email.clone(),
        display_name: account.display_name.clone().unwrap_or_default(),
        member_since: when(account.created_at),
        sessions,
        two_factor_enabled: status.is_some_and(|s| s.enabled),
        recovery_codes_left: status.map_or(0, |s| s.recovery_codes_left),
    })
}

#[derive(FromForm)]
struct ProfileForm {
    #[field(default = String::new())]
    display_name: String,
    #[field(default = String::new())]
    csrf_token: String,
}

#[post("/account/profile", data = "<form>")]
async fn update_profile(
    app: &State<App>,
    jar: &CookieJar<'_>,
    visitor: Visitor,
    form: Form<ProfileForm>,
) -> Page {
    let (account, _) = match form_account(app, jar, &visitor, &form.csrf_token, false) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    match auth::update_display_name(app, account.id, &form.display_name).await {
        Ok(_) => Page::Feedback(Feedback::success("Your profile is saved.").redirect("/account")),
        Err(error) => back_with(error, true),
    }
}

#[derive(FromForm)]
struct PasswordForm {
    #[field(default = String::new())]
    current_password: String,
    #[field(default = String::new())]
    new_password: String,
    #[field(default = String::new())]
    csrf_token: String,
}

#[post("/account/password", data = "<form>")]
async fn change_password(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    form: Form<PasswordForm>,
) -> Page {
    let (account, session_id) = match form_account(app, jar, &visitor, &form.csrf_token, false) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    match auth::change_password(
        app,
        account.id,
        &session_id,
        &form.current_password,
        &form.new_password,
        &client,
    )
    .await
    {
        Ok(()) => Page::Feedback(
            Feedback::success("Your password is changed; your other devices are signed out.")
                .redirect("/account"),
        ),
        Err(error) => back_with(error, true),
    }
}

#[post("/account/sessions/<id>/revoke", data = "<form>")]
async fn revoke_session(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    id: &str,
    form: Form<CsrfOnly>,
) -> Page {
    let (account, _) = match form_account(app, jar, &visitor, &form.csrf_token, false) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    match auth::revoke_own_session(app, account.id, id, &client).await {
        Ok(true) => {
            Page::Feedback(Feedback::success("That device is signed out.").redirect("/account"))
        }
        Ok(false) => {
            Page::Feedback(Feedback::error("That session had already ended.").redirect("/account"))
        }
        Err(error) => back_with(error, false),
    }
}

#[post("/account/sessions/revoke-others", data = "<form>")]
async fn revoke_other_sessions(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    form: Form<CsrfOnly>,
) -> Page {
    let (account, session_id) = match form_account(app, jar, &visitor, &form.csrf_token, false) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    let revoked = auth::revoke_other_sessions(
        app,
        account.id,
        Some(&session_id),
        "revoked_by_owner",
        Some(account.id),
        &client,
    )
    .await;
    match revoked {
        Ok(count) => Page::Feedback(
            Feedback::success(format!(
                "Signed out everywhere else ({count} session{}).",
                if count == 1 { "" } else { "s" }
            ))
            .redirect("/account"),
        ),
        Err(error) => back_with(error, false),
    }
}

#[derive(FromForm)]
struct PasswordOnly {
    #[field(default = String::new())]
    password: String,
    #[field(default = String::new())]
    csrf_token: String,
}

#[post("/account/2fa/setup", data = "<form>")]
async fn setup_two_factor(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    form: Form<PasswordOnly>,
) -> Page {
    let (account, _) = match form_account(app, jar, &visitor, &form.csrf_token, true) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    match two_factor::setup(app, account.id, Some(&form.password), &client).await {
        Ok(_) => Page::Redirect(Redirect::to(uri!(setup_two_factor_page))),
        Err(AppError::Validation(_)) => Page::Feedback(
            Feedback::error("Wrong password: two-factor authentication was not set up.")
                .redirect("/account"),
        ),
        Err(error) => back_with(error, false),
    }
}

#[derive(Template)]
#[template(path = "account_2fa_setup.html")]
struct SetupTemplate {
    layout: Layout,
    qr_svg: String,
    secret: String,
}

#[get("/account/2fa/setup")]
async fn setup_two_factor_page(app: &State<App>, visitor: Visitor, incoming: Incoming) -> Page {
    if !app.settings.two_factor_enabled {
        return error_page(Status::NotFound);
    }
    let (account, _) = match signed_in(&visitor) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    match two_factor::pending_enrolment(app, account.id).await {
        Ok(Some(enrolment)) => Page::render(&SetupTemplate {
            layout: Layout::new(
                "Set up two-factor authentication",
                Some(&account),
                &visitor.csrf,
                feedback_of(incoming, &visitor),
            ),
            qr_svg: enrolment.qr_svg,
            secret: enrolment.secret_base32,
        }),
        Ok(None) => Page::Redirect(Redirect::to(uri!(account))),
        Err(error) => back_with(error, false),
    }
}

#[derive(Template)]
#[template(path = "account_recovery_codes.html")]
struct RecoveryCodesTemplate {
    layout: Layout,
    codes: Vec<String>,
}

/// The recovery codes, shown once: rendered straight in answer to the POST, never
/// stored where a later page could show them again.
fn recovery_codes_page(account: &Account, csrf: &str, codes: Vec<String>, message: &str) -> Page {
    Page::render(&RecoveryCodesTemplate {
        layout: Layout::new(
            "Recovery codes",
            Some(account),
            csrf,
            Some(Feedback::success(message)),
        ),
        codes,
    })
}

#[derive(FromForm)]
struct CodeOnly {
    #[field(default = String::new())]
    code: String,
    #[field(default = String::new())]
    csrf_token: String,
}

#[post("/account/2fa/enable", data = "<form>")]
async fn enable_two_factor(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    form: Form<CodeOnly>,
) -> Page {
    let (account, _) = match form_account(app, jar, &visitor, &form.csrf_token, true) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    match two_factor::enable(app, account.id, &form.code, &client).await {
        Ok(codes) => recovery_codes_page(
            &account,
            &visitor.csrf,
            codes,
            "Two-factor authentication is on.",
        ),
        Err(error @ AppError::InvalidOtp { .. }) => Page::Feedback(
            Feedback::error(format!(
                "{} Try the code your app shows now.",
                error.sentence()
            ))
            .redirect("/account/2fa/setup"),
        ),
        Err(error) => back_with(error, false),
    }
}

#[post("/account/2fa/recovery-codes", data = "<form>")]
async fn regenerate_recovery_codes(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    form: Form<CodeOnly>,
) -> Page {
    let (account, _) = match form_account(app, jar, &visitor, &form.csrf_token, true) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    match two_factor::regenerate_recovery_codes(app, account.id, &form.code, &client).await {
        Ok(codes) => recovery_codes_page(
            &account,
            &visitor.csrf,
            codes,
            "New recovery codes: the old ones no longer work.",
        ),
        Err(error) => back_with(error, false),
    }
}

#[derive(FromForm)]
struct DisableForm {
    #[field(default = String::new())]
    password: String,
    #[field(default = String::new())]
    code: String,
    #[field(default = String::new())]
    csrf_token: String,
}

#[post("/account/2fa/disable", data = "<form>")]
async fn disable_two_factor(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    form: Form<DisableForm>,
) -> Page {
    let (account, _) = match form_account(app, jar, &visitor, &form.csrf_token, true) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    match two_factor::disable(app, account.id, Some(&form.password), &form.code, &client).await {
        Ok(()) => Page::Feedback(
            Feedback::success("Two-factor authentication is off.").redirect("/account"),
        ),
        Err(AppError::Validation(_)) => Page::Feedback(
            Feedback::error("Wrong password: two-factor authentication is still on.")
                .redirect("/account"),
        ),
        Err(error) => back_with(error, false),
    }
}
