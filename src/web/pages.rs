//! The page routes: home, login (and its 2FA step), registration, logout.

use askama::Template;
use rocket::form::{Form, FromForm};
use rocket::http::{CookieJar, Status};
use rocket::response::Redirect;
use rocket::{Route, State};

use super::feedback::{Feedback, Incoming};
use super::visitor::Visitor;
use super::{error_page, CsrfOnly, Layout, Page};
use crate::app::App;
use crate::auth::{self, Registration};
use crate::cookies;
use crate::error::AppError;
use crate::sessions::ClientInfo;
use crate::two_factor;

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

/// True when a form carries this browser's CSRF token; otherwise the form is refused
/// with 403 and nothing changes.
pub fn csrf_ok(app: &App, jar: &CookieJar<'_>, presented: &str) -> bool {
    cookies::csrf_matches(jar, &app.settings, presented)
}

/// The feedback to show: why the visitor's session just ended, else the previous POST's.
pub fn feedback_of(incoming: Incoming, visitor: &Visitor) -> Option<Feedback> {
    match &visitor.refusal {
        Some(error) => Some(Feedback::error(error.sentence())),
        None => incoming.0,
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomeTemplate {
    layout: Layout,
}

#[get("/")]
fn home(visitor: Visitor, incoming: Incoming) -> Page {
    if visitor.pending {
        return Page::Redirect(Redirect::to(uri!(second_factor_page)));
    }
    let feedback = feedback_of(incoming, &visitor);
    Page::render(&HomeTemplate {
        layout: Layout::new("Home", visitor.signed_in(), &visitor.csrf, feedback),
    })
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginTemplate {
    layout: Layout,
}

#[get("/login")]
fn login_page(visitor: Visitor, incoming: Incoming) -> Page {
    if visitor.signed_in().is_some() {
        return Page::Redirect(Redirect::to(uri!(home)));
    }
    let feedback = feedback_of(incoming, &visitor);
    Page::render(&LoginTemplate {
        layout: Layout::new("Log in", None, &visitor.csrf, feedback),
    })
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
    csrf_token: String,
}

#[post("/login", data = "<form>")]
async fn login(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    form: Form<LoginForm>,
) -> Page {
    if !csrf_ok(app, jar, &form.csrf_token) {
        return error_page(Status::Forbidden);
    }
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
                Page::Redirect(Redirect::to(uri!(second_factor_page)))
            } else {
                Page::Feedback(Feedback::success("You are signed in.").redirect("/"))
            }
        }
        Err(error) if error.is_internal() => {
            log::error!("login page: {}", error.with_causes());
            error_page(Status::InternalServerError)
        }
        Err(error) => Page::Feedback(
            Feedback::error(error.sentence())
                .keep("login", &form.login)
                .redirect("/login"),
        ),
    }
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterTemplate {
    layout: Layout,
}

#[get("/register")]
fn register_page(visitor: Visitor, incoming: Incoming) -> Page {
    if visitor.signed_in().is_some() {
        return Page::Redirect(Redirect::to(uri!(home)));
    }
    let feedback = feedback_of(incoming, &visitor);
    Page::render(&RegisterTemplate {
        layout: Layout::new("Register", None, &visitor.csrf, feedback),
    })
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
    csrf_token: String,
}

#[post("/register", data = "<form>")]
async fn register(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    form: Form<RegisterForm>,
) -> Page {
    if !csrf_ok(app, jar, &form.csrf_token) {
        return error_page(Status::Forbidden);
    }
    let input = Registration {
        username: &form.username,
        email: &form.email,
        password: &form.password,
        display_name: Some(&form.display_name),
    };
    let keep = |feedback: Feedback| {
        feedback
            .keep("username", &form.username)
            .keep("email", &form.email)
            .keep("display_name", &form.display_name)
            .redirect("/register")
    };
    match auth::register(app, &input, &client).await {
        Ok(account) => Page::Feedback(
            Feedback::success("Your account is ready. Log in to continue.")
                .keep("login", &account.username)
                .redirect("/login"),
        ),
        Err(error) if error.is_internal() => {
            log::error!("register page: {}", error.with_causes());
            error_page(Status::InternalServerError)
        }
        Err(error) => Page::Feedback(keep(Feedback::of(&error))),
    }
}

#[derive(Template)]
#[template(path = "login_2fa.html")]
struct SecondFactorTemplate {
    layout: Layout,
}

#[get("/login/2fa")]
fn second_factor_page(visitor: Visitor, incoming: Incoming) -> Page {
    if !visitor.pending {
        return Page::Redirect(Redirect::to(uri!(login_page)));
    }
    let feedback = feedback_of(incoming, &visitor);
    Page::render(&SecondFactorTemplate {
        layout: Layout::new("Two-factor authentication", None, &visitor.csrf, feedback),
    })
}

#[derive(FromForm)]
struct CodeForm {
    #[field(default = String::new())]
    code: String,
    #[field(default = String::new())]
    csrf_token: String,
}

#[post("/login/2fa", data = "<form>")]
async fn second_factor(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    form: Form<CodeForm>,
) -> Page {
    if !csrf_ok(app, jar, &form.csrf_token) {
        return error_page(Status::Forbidden);
    }
    let (true, Some(session_id)) = (visitor.pending, visitor.session_id.as_deref()) else {
        return Page::Feedback(Feedback::error("Please log in again.").redirect("/login"));
    };
    match two_factor::complete_login(app, session_id, &form.code, &client).await {
        Ok(tokens) => {
            cookies::start_session_cookies(jar, &app.settings, &tokens);
            Page::Feedback(Feedback::success("You are signed in.").redirect("/"))
        }
        Err(error @ AppError::InvalidOtp { .. }) => {
            Page::Feedback(Feedback::error(error.sentence()).redirect("/login/2fa"))
        }
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

#[post("/logout", data = "<form>")]
async fn logout(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    form: Form<CsrfOnly>,
) -> Page {
    if !csrf_ok(app, jar, &form.csrf_token) {
        return error_page(Status::Forbidden);
    }
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
            log::error!("logout page: {error}");
            return error_page(Status::InternalServerError);
        }
    }
    cookies::end_session_cookies(jar, &app.settings);
    Page::Feedback(Feedback::success("You are signed out.").redirect("/login"))
}
