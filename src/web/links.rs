//! The pages mail links open (`/verify-email`, `/reset-password`, `/confirm-email`)
//! and the request form of a reset (`/forgot-password`).
//!
//! A link's token never stays in an address: [`TokenOutOfAddress`] takes it out of the
//! request before anything logs or routes it, the page exchanges it for a form token
//! kept in an HttpOnly cookie and redirects to its own address without it, so neither
//! history, logs nor a Referer header ever hold it. Opening the page spends nothing
//! (mail scanners open links); its form does, with one button press.

use std::collections::HashMap;

use askama::Template;
use rocket::fairing::{Fairing, Info, Kind};
use rocket::form::FromForm;
use rocket::http::uri::Origin;
use rocket::http::{CookieJar, Method, RawStr};
use rocket::request::{self, FromRequest, Request};
use rocket::response::Redirect;
use rocket::{Data, Route, State};

use super::feedback::{Feedback, Incoming};
use super::visitor::{CsrfForm, Visitor};
use super::{CsrfOnly, Layout, Page};
use crate::app::App;
use crate::cookies;
use crate::email::tokens::{self, Presented, Purpose};
use crate::email::{change, password_reset, verification};
use crate::error::AppError;
use crate::rate_limit::Limit;
use crate::sessions::ClientInfo;

pub fn routes() -> Vec<Route> {
    routes![
        verify_email_page,
        verify_email,
        reset_password_page,
        reset_password,
        confirm_email_page,
        confirm_email,
        forgot_password_page,
        forgot_password
    ]
}

/// One kind of link page.
struct LinkKind {
    purpose: Purpose,
    path: &'static str,
    heading: &'static str,
    explanation: &'static str,
    button: &'static str,
    asks_password: bool,
    renew_href: &'static str,
    renew_label: &'static str,
}

const VERIFY: LinkKind = LinkKind {
    purpose: Purpose::VerifyEmail,
    path: "/verify-email",
    heading: "Confirm your address",
    explanation: "Press the button to confirm that this address is yours.",
    button: "Confirm my address",
    asks_password: false,
    renew_href: "/account",
    renew_label: "Ask for a new link from your account page",
};

const RESET: LinkKind = LinkKind {
    purpose: Purpose::PasswordReset,
    path: "/reset-password",
    heading: "Choose a new password",
    explanation: "Your new password signs you out everywhere; you then log in with it.",
    button: "Set the new password",
    asks_password: true,
    renew_href: "/forgot-password",
    renew_label: "Ask for a new link",
};

const CHANGE: LinkKind = LinkKind {
    purpose: Purpose::ChangeEmail,
    path: "/confirm-email",
    heading: "Confirm your new address",
    explanation: "Press the button to make this address the address of your account.",
    button: "Confirm my new address",
    asks_password: false,
    renew_href: "/account",
    renew_label: "Ask again from your account page",
};

/// The link pages whose `token` query value [`TokenOutOfAddress`] takes out.
const LINK_PAGES: [&str; 3] = [VERIFY.path, RESET.path, CHANGE.path];

/// The `token` a link page's address carried, taken out of it on arrival.
struct ArrivingToken(Option<String>);

/// Takes the `token` query value out of a GET of a link page before Rocket logs or
/// routes the request, keeping it for the page alone.
pub struct TokenOutOfAddress;

#[rocket::async_trait]
impl Fairing for TokenOutOfAddress {
    fn info(&self) -> Info {
        Info {
            name: "Link tokens out of addresses",
            kind: Kind::Request,
        }
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        if !matches!(request.method(), Method::Get | Method::Head) {
            return;
        }
        // Compared as Rocket routes it: decoded (`/verify%2Demail`), empty segments
        // ignored (`//verify-email/`).
        let decoded = request.uri().path().url_decode_lossy().into_owned();
        let segments: Vec<&str> = decoded.split('/').filter(|s| !s.is_empty()).collect();
        let normal = format!("/{}", segments.join("/"));
        let Some(page) = LINK_PAGES.iter().find(|page| **page == normal) else {
            return;
        };
        let Some(query) = request.uri().query() else {
            return;
        };
        let mut token = None;
        let mut kept = Vec::new();
        for pair in query.raw_segments() {
            let (name, value) = pair.as_str().split_once('=').unwrap_or((pair.as_str(), ""));
            if RawStr::new(name).url_decode_lossy() == "token" {
                token = Some(RawStr::new(value).url_decode_lossy().into_owned());
            } else {
                kept.push(pair.as_str().to_owned());
            }
        }
        if token.is_none() {
            return;
        }
        let address = match kept.is_empty() {
            true => page.to_string(),
            false => format!("{page}?{}", kept.join("&")),
        };
        if let Ok(origin) = Origin::parse_owned(address) {
            request.set_uri(origin);
            request.local_cache(|| ArrivingToken(token));
        }
    }
}

/// What a link page knows of its visitor's link: the token the address carried (on
/// arrival) and the form tokens this browser holds, by purpose.
struct LinkVisit {
    arriving: Option<String>,
    forms: HashMap<&'static str, String>,
}

impl LinkVisit {
    fn form(&self, kind: &LinkKind) -> Option<&str> {
        self.forms.get(kind.purpose.as_str()).map(String::as_str)
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for LinkVisit {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let arriving = request.local_cache(|| ArrivingToken(None)).0.clone();
        let mut forms = HashMap::new();
        if let Some(app) = request.rocket().state::<App>() {
            for kind in [&VERIFY, &RESET, &CHANGE] {
                let purpose = kind.purpose.as_str();
                if let Some(form) = cookies::link_form(request, &app.settings, purpose) {
                    forms.insert(purpose, form);
                }
            }
        }
        request::Outcome::Success(LinkVisit { arriving, forms })
    }
}

#[derive(Template)]
#[template(path = "link.html")]
struct LinkTemplate {
    layout: Layout,
    valid: bool,
    action: &'static str,
    heading: &'static str,
    explanation: &'static str,
    button: &'static str,
    asks_password: bool,
    renew_href: &'static str,
    renew_label: &'static str,
}

/// A link page: on arrival, the exchange and the redirect; then the form, or word
/// that the link no longer works.
#[allow(clippy::too_many_arguments)]
async fn show(
    kind: &LinkKind,
    app: &App,
    client: &ClientInfo,
    jar: &CookieJar<'_>,
    visitor: Visitor,
    incoming: Incoming,
    visit: LinkVisit,
) -> Page {
    let purpose = kind.purpose.as_str();
    if let Some(token) = &visit.arriving {
        // Each exchange stores a form token: bounded per client like password entries.
        if let Err(error) = app.rate_limits.by_address(Limit::Password, client).await {
            return Page::failed(&error, "/");
        }
        match tokens::exchange(app.pool(), token, kind.purpose, app.now()).await {
            Ok(Some(form)) => cookies::set_link_form(jar, &app.settings, purpose, form),
            Ok(None) => cookies::clear_link_form(jar, &app.settings, purpose),
            Err(error) => return Page::failed(&AppError::from(error), kind.path),
        }
        return Page::Redirect(Redirect::to(kind.path));
    }
    let valid = match visit.form(kind) {
        Some(form) => {
            match tokens::peek(app.pool(), Presented::Form(form), kind.purpose, app.now()).await {
                Ok(found) => found.is_some(),
                Err(error) => return Page::failed(&AppError::from(error), kind.path),
            }
        }
        None => false,
    };
    Page::render(&LinkTemplate {
        layout: visitor.layout(kind.heading, incoming),
        valid,
        action: kind.path,
        heading: kind.heading,
        explanation: kind.explanation,
        button: kind.button,
        asks_password: kind.asks_password,
        renew_href: kind.renew_href,
        renew_label: kind.renew_label,
    })
}

/// The answer to a link form: `success` on the way to `then`; a spent or unknown link
/// forgets the form token and says so on the page; other errors (a refused password)
/// keep it for another try.
fn finish<T>(
    kind: &LinkKind,
    outcome: Result<T, AppError>,
    app: &App,
    jar: &CookieJar<'_>,
    success: impl FnOnce(T) -> Feedback,
    then: &str,
) -> Page {
    match outcome {
        Ok(value) => {
            cookies::clear_link_form(jar, &app.settings, kind.purpose.as_str());
            Page::Feedback(success(value).redirect(then))
        }
        Err(error @ AppError::InvalidLink) => {
            cookies::clear_link_form(jar, &app.settings, kind.purpose.as_str());
            Page::Feedback(Feedback::of(&error).redirect(kind.path))
        }
        Err(error) => Page::failed(&error, kind.path),
    }
}

#[get("/verify-email")]
async fn verify_email_page(
    app: &State<App>,
    client: ClientInfo,
    jar: &CookieJar<'_>,
    visitor: Visitor,
    incoming: Incoming,
    visit: LinkVisit,
) -> Page {
    show(&VERIFY, app, &client, jar, visitor, incoming, visit).await
}

#[post("/verify-email", data = "<_form>")]
async fn verify_email(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visit: LinkVisit,
    _form: CsrfForm<CsrfOnly>,
) -> Page {
    let form = visit.form(&VERIFY).unwrap_or("");
    let outcome = verification::verify(app, Presented::Form(form), &client).await;
    let success = |_| Feedback::success("Your address is confirmed. Thank you.");
    finish(&VERIFY, outcome, app, jar, success, "/")
}

#[get("/reset-password")]
async fn reset_password_page(
    app: &State<App>,
    client: ClientInfo,
    jar: &CookieJar<'_>,
    visitor: Visitor,
    incoming: Incoming,
    visit: LinkVisit,
) -> Page {
    show(&RESET, app, &client, jar, visitor, incoming, visit).await
}

#[derive(FromForm)]
struct NewPasswordForm {
    #[field(default = String::new())]
    new_password: String,
}

#[post("/reset-password", data = "<form>")]
async fn reset_password(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visitor: Visitor,
    visit: LinkVisit,
    form: CsrfForm<NewPasswordForm>,
) -> Page {
    let token = visit.form(&RESET).unwrap_or("");
    let outcome =
        password_reset::reset(app, Presented::Form(token), &form.0.new_password, &client).await;
    if outcome.is_ok() && visitor.session_id.is_some() {
        // Every session ended, this browser's too: its cookies go with it.
        cookies::end_session_cookies(jar, &app.settings);
    }
    let success = |_| {
        Feedback::success(
            "Your password is changed and every session signed out. Log in with the new one.",
        )
    };
    finish(&RESET, outcome, app, jar, success, "/login")
}

#[get("/confirm-email")]
async fn confirm_email_page(
    app: &State<App>,
    client: ClientInfo,
    jar: &CookieJar<'_>,
    visitor: Visitor,
    incoming: Incoming,
    visit: LinkVisit,
) -> Page {
    show(&CHANGE, app, &client, jar, visitor, incoming, visit).await
}

#[post("/confirm-email", data = "<_form>")]
async fn confirm_email(
    app: &State<App>,
    jar: &CookieJar<'_>,
    client: ClientInfo,
    visit: LinkVisit,
    _form: CsrfForm<CsrfOnly>,
) -> Page {
    let form = visit.form(&CHANGE).unwrap_or("");
    let outcome = change::confirm(app, Presented::Form(form), &client).await;
    let success = |account: crate::accounts::Account| {
        Feedback::success(format!(
            "Your address is now {}; it signs in from now on.",
            account.email
        ))
    };
    finish(&CHANGE, outcome, app, jar, success, "/")
}

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotTemplate {
    layout: Layout,
    valid_for: String,
}

#[get("/forgot-password")]
fn forgot_password_page(app: &State<App>, visitor: Visitor, incoming: Incoming) -> Page {
    Page::render(&ForgotTemplate {
        layout: visitor.layout("Forgot your password?", incoming),
        valid_for: crate::email::in_words(app.settings.mail.password_reset_ttl),
    })
}

#[derive(FromForm)]
struct ForgotForm {
    #[field(default = String::new())]
    email: String,
}

#[post("/forgot-password", data = "<form>")]
async fn forgot_password(app: &State<App>, client: ClientInfo, form: CsrfForm<ForgotForm>) -> Page {
    match password_reset::request(app, &form.0.email, None, &client).await {
        Ok(()) => Page::Feedback(
            Feedback::success(format!(
                "If an account has that address, a link to reset its password is on its way. \
                 It works for {}.",
                crate::email::in_words(app.settings.mail.password_reset_ttl)
            ))
            .redirect("/login"),
        ),
        Err(error) => Page::failed(&error, "/forgot-password"),
    }
}
