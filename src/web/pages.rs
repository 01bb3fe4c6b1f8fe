//! The page routes: home, login (and its 2FA step), registration, logout. A login
//! started by a page guard carries `next`, the page to return to, through both steps.

use askama::Template;
use rocket::form::FromForm;
use rocket::http::{CookieJar, Status};
use rocket::response::Redirect;
use rocket::{Route, State};

use super::feedback::{Feedback, Incoming};
use super::visitor::{safe_next, CsrfForm, Visitor};
use super::{error_page, CsrfOnly, Layout, Page};
use crate::app::App;
use crate::auth::{self, Registration};
use crate::cookies;
use crate::error::AppError;
use crate::feature::hooks::{self, SectionContext, Slot};
use crate::sessions::ClientInfo;

pub fn routes() -> Vec<Route> {
    routes![
        home,
        login_page,
        login,
        register_page,
        register,
        second_factor_page,
        second_factor,
        logout
    ]
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomeTemplate {
    layout: Layout,
}

#[get("/")]
fn home(visitor: Visitor, incoming: Incoming) -> Page {
    if visitor.pending {
        return Page::Redirect(Redirect::to(uri!(second_factor_page(next = None::<&str>))));
    }
    Page::render(&HomeTemplate {
        layout: visitor.layout("Home", incoming),
    })
}

/// Where a completed login goes: `next` if it is a path of this site, else home.
fn after_login(next: Option<&str>) -> String {
    safe_next(next).unwrap_or("/").to_string()
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginTemplate {
    layout: Layout,
    /// The page to return to after logging in, kept in a hidden field ("" for home).
    next: String,
    /// Mail is on: "Forgot password?" shows.
    mail: bool,
    /// The parts' sign-in buttons or forms (see `Slot::Login`).
    slots: Vec<String>,
}

#[get("/login?<next>")]
pub(crate) async fn login_page(
    app: &State<App>,
    visitor: Visitor,
    incoming: Incoming,
    next: Option<&str>,
) -> Page {
    if visitor.signed_in().is_some() {
        return Page::Redirect(Redirect::to(after_login(next)));
    }
    let mut layout = visitor.layout("Log in", incoming);
    let next = safe_next(next).unwrap_or("").to_string();
    let slots = page_slots(app, Slot::Login, &layout.csrf, &next).await;
    layout.scripts = slots.scripts.clone();
    Page::render_with(
        &LoginTemplate {
            layout,
            next,
            mail: app.settings.mail.enabled(),
            slots: slots.html,
        },
        &slots.scripts,
    )
}

#[derive(FromForm)]
struct LoginForm {
    #[field(default = String::new())]
    login: String,
    #[field(default = String::new())]
    password: String,
    #[field(default = false)]
    remember: bool,
    #[field(default = String::new())]
    next: String,
}

#[post("/login", data = "<form>")]
async fn login(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    form: CsrfForm<LoginForm>,
) -> Page {
    let form = form.0;
    let next = safe_next(Some(&form.next));
    match auth::login(app, &form.login, &form.password, form.remember, &client).await {
        Ok(tokens) => {
            // The browser's earlier session (another account, or a login left half-way)
            // ends here rather than lingering without a cookie that points to it.
            if let (Some(account), Some(old)) = (&visitor.account, &visitor.session_id) {
                let reason = "replaced_by_login";
                if let Err(error) =
                    auth::revoke_session(app, account.id, old, reason, Some(account.id), &client)
                        .await
                {
                    log::warn!("could not end the replaced session: {error}");
                }
            }
            cookies::start_session_cookies(jar, &app.settings, &tokens);
            if tokens.two_factor_required {
                Page::Redirect(Redirect::to(uri!(second_factor_page(next = next))))
            } else {
                Page::Feedback(Feedback::success("You are signed in.").redirect(after_login(next)))
            }
        }
        Err(error) if error.is_internal() => {
            log::error!("login page: {}", error.with_causes());
            error_page(Status::InternalServerError)
        }
        Err(error) => Page::Feedback(
            Feedback::error(error.sentence())
                .keep("login", &form.login)
                .redirect(uri!(login_page(next = next)).to_string()),
        ),
    }
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterTemplate {
    layout: Layout,
    next: String,
    /// `registration_open`: when closed the page says so instead of showing the form.
    open: bool,
    /// The parts' sign-up buttons or forms (see `Slot::Registration`).
    slots: Vec<String>,
}

/// The parts' HTML for the login or registration page.
async fn page_slots(app: &App, slot: Slot, csrf: &str, next: &str) -> hooks::Sections {
    let context = SectionContext {
        account: None,
        csrf,
        session_id: None,
        next: Some(next),
        viewer_is_superuser: false,
    };
    hooks::sections(app, slot, &context).await
}

#[get("/register?<next>")]
async fn register_page(
    app: &State<App>,
    visitor: Visitor,
    incoming: Incoming,
    next: Option<&str>,
) -> Page {
    if visitor.signed_in().is_some() {
        return Page::Redirect(Redirect::to(after_login(safe_next(next))));
    }
    let mut layout = visitor.layout("Register", incoming);
    let next = safe_next(next).unwrap_or("").to_string();
    let slots = page_slots(app, Slot::Registration, &layout.csrf, &next).await;
    layout.scripts = slots.scripts.clone();
    Page::render_with(
        &RegisterTemplate {
            layout,
            next,
            open: app.settings.service.registration_open,
            slots: slots.html,
        },
        &slots.scripts,
    )
}

#[derive(FromForm)]
struct RegisterForm {
    #[field(default = String::new())]
    username: String,
    #[field(default = String::new())]
    email: String,
    #[field(default = String::new())]
    display_name: String,
    #[field(default = String::new())]
    password: String,
    #[field(default = String::new())]
    next: String,
}

#[post("/register", data = "<form>")]
async fn register(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    form: CsrfForm<RegisterForm>,
) -> Page {
    let form = form.0;
    let next = safe_next(Some(&form.next));
    let input = Registration {
        username: &form.username,
        email: &form.email,
        password: &form.password,
        display_name: Some(&form.display_name),
        redirect_to: None,
    };
    match auth::register_and_sign_in(app, &input, &client).await {
        Ok((_, Some(tokens))) => {
            cookies::start_session_cookies(jar, &app.settings, &tokens);
            Page::Feedback(
                Feedback::success("Welcome! Your account is ready and you are signed in.")
                    .redirect(after_login(next)),
            )
        }
        Ok((account, None)) => Page::Feedback(
            Feedback::success(
                "Your account is ready. Open the link we sent to your email address, then log in.",
            )
            .keep("login", &account.username)
            .redirect(uri!(login_page(next = next)).to_string()),
        ),
        Err(error) if error.is_internal() => {
            log::error!("register page: {}", error.with_causes());
            error_page(Status::InternalServerError)
        }
        Err(error) => Page::Feedback(
            Feedback::of(&error)
                .keep("username", &form.username)
                .keep("email", &form.email)
                .keep("display_name", &form.display_name)
                .redirect(uri!(register_page(next = next)).to_string()),
        ),
    }
}

#[derive(Template)]
#[template(path = "login_2fa.html")]
struct SecondFactorTemplate {
    layout: Layout,
    next: String,
    /// The parts' other ways to finish the login (see `Slot::SecondStep`).
    sections: Vec<String>,
}

#[get("/login/2fa?<next>")]
pub(crate) async fn second_factor_page(
    app: &State<App>,
    visitor: Visitor,
    incoming: Incoming,
    next: Option<&str>,
) -> Page {
    let (true, Some(account)) = (visitor.pending, &visitor.account) else {
        return Page::Redirect(Redirect::to(uri!(login_page(next = safe_next(next)))));
    };
    let row = match crate::accounts::find_by_id(app.pool(), account.id).await {
        Ok(Some(row)) => row,
        Ok(None) => return Page::Redirect(Redirect::to(uri!(login_page(next = safe_next(next))))),
        Err(error) => return Page::failed(&AppError::from(error), "/login"),
    };
    let mut layout = visitor.layout("Two-factor authentication", incoming);
    let next = safe_next(next).unwrap_or("").to_string();
    let context = SectionContext {
        account: Some(&row),
        csrf: &layout.csrf,
        session_id: visitor.session_id.as_deref(),
        next: Some(&next),
        viewer_is_superuser: false,
    };
    let sections = hooks::sections(app, Slot::SecondStep, &context).await;
    layout.scripts = sections.scripts.clone();
    Page::render_with(
        &SecondFactorTemplate {
            layout,
            next,
            sections: sections.html,
        },
        &sections.scripts,
    )
}

#[derive(FromForm)]
struct CodeForm {
    #[field(default = String::new())]
    code: String,
    #[field(default = String::new())]
    next: String,
}

#[post("/login/2fa", data = "<form>")]
async fn second_factor(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    form: CsrfForm<CodeForm>,
) -> Page {
    let form = form.0;
    let next = safe_next(Some(&form.next));
    let (true, Some(session_id)) = (visitor.pending, visitor.session_id.as_deref()) else {
        return Page::Feedback(Feedback::error("Please log in again.").redirect("/login"));
    };
    match auth::complete_login(app, session_id, &form.code, &client).await {
        Ok(tokens) => {
            cookies::start_session_cookies(jar, &app.settings, &tokens);
            Page::Feedback(Feedback::success("You are signed in.").redirect(after_login(next)))
        }
        Err(error @ AppError::InvalidOtp { .. }) => Page::Feedback(
            Feedback::error(error.sentence())
                .redirect(uri!(second_factor_page(next = next)).to_string()),
        ),
        Err(error) if error.is_internal() => {
            log::error!("2FA page: {}", error.with_causes());
            error_page(Status::InternalServerError)
        }
        Err(error) => {
            cookies::clear_auth_cookies(jar, &app.settings);
            let message = match error {
                AppError::SessionRevoked => {
                    "Too many wrong codes, or the login took too long. Please log in again."
                        .to_string()
                }
                other => other.sentence(),
            };
            Page::Feedback(Feedback::error(message).redirect("/login"))
        }
    }
}

#[post("/logout", data = "<_form>")]
async fn logout(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    _form: CsrfForm<CsrfOnly>,
) -> Page {
    if let (Some(account), Some(session_id)) = (&visitor.account, &visitor.session_id) {
        let revoked = auth::revoke_session(
            app,
            account.id,
            session_id,
            "logout",
            Some(account.id),
            &client,
        )
        .await;
        if let Err(error) = revoked {
            log::error!("logout page: {}", error.with_causes());
            return error_page(Status::InternalServerError);
        }
    }
    cookies::end_session_cookies(jar, &app.settings);
    Page::Feedback(Feedback::success("You are signed out.").redirect("/login"))
}
