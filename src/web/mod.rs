//! The server-rendered pages (askama templates under `templates/`, one stylesheet under
//! `static/`, no JavaScript): home, login with its second step, registration and
//! logout, with HTML error pages. Forms post, then redirect to a page that shows their
//! outcome (POST/redirect/GET), and carry the browser's CSRF token.
//!
//! The pages use the API's sessions through cookies, so they need `cookie` among the
//! `token_locations`; without it they are not mounted.

pub mod account;
pub mod feedback;
pub mod headers;
pub mod links;
pub mod pages;
pub mod requests;
pub mod spa;
pub mod visitor;

use askama::Template;
use rocket::fairing::AdHoc;
use rocket::http::Status;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::Request;

use crate::accounts::Account;
use crate::error::AppError;
use feedback::Feedback;
use visitor::{LoginReason, NavLink};

/// What every page's layout shows: the title, who is signed in, the CSRF token of its
/// forms and the feedback of the previous POST.
#[derive(Clone)]
pub struct Layout {
    pub title: String,
    /// The app's name (see [`crate::config::brand`]).
    pub brand: String,
    pub username: Option<String>,
    pub is_staff: bool,
    pub csrf: String,
    pub feedback: Feedback,
    /// The features' links, for signed-in visitors.
    pub nav: Vec<NavLink>,
    /// Signed in with an address not verified yet (and mail on): the banner shows.
    pub unverified_email: bool,
    /// The password rule new-password fields show (`password_min_length`).
    pub password_min_length: usize,
    /// The parts' scripts this page loads (see [`crate::feature::hooks::Sections`]).
    pub scripts: Vec<&'static str>,
}

impl Layout {
    pub fn new(
        title: &str,
        account: Option<&Account>,
        csrf: &str,
        feedback: Option<Feedback>,
    ) -> Layout {
        Layout {
            title: title.to_string(),
            brand: crate::config::brand(),
            username: account.map(|a| a.display_name.clone().unwrap_or_else(|| a.username.clone())),
            is_staff: account.is_some_and(|a| a.is_staff || a.is_superuser),
            csrf: csrf.to_string(),
            feedback: feedback.unwrap_or_default(),
            nav: Vec::new(),
            unverified_email: false,
            password_min_length: 0,
            scripts: Vec::new(),
        }
    }
}

/// A form whose only field is the CSRF token (logout, sign-out buttons, admin actions).
#[derive(FromForm)]
pub struct CsrfOnly {
    #[field(default = String::new())]
    pub csrf_token: String,
}

/// A page's answer: the page itself, a redirect (with or without feedback), or an
/// error page with its status.
#[derive(Responder)]
pub enum Page {
    Html(RawHtml<String>),
    /// A page that loads the parts' scripts, under [`headers::SCRIPTED_POLICY`].
    Scripted(headers::WithPolicy<RawHtml<String>>),
    Redirect(Redirect),
    Feedback(feedback::FeedbackRedirect),
    Error((Status, RawHtml<String>)),
}

impl Page {
    /// The answer to a flow's failure: the 500 page for ours (logged), the 404 page for
    /// something that is not there, else the error's sentence (and field errors) on
    /// the page `back`.
    pub fn failed(error: &AppError, back: &str) -> Page {
        if error.is_internal() {
            log::error!("page {back}: {}", error.with_causes());
            return error_page(Status::InternalServerError);
        }
        if matches!(error, AppError::NotFound) {
            return error_page(Status::NotFound);
        }
        Page::Feedback(Feedback::of(error).redirect(back))
    }

    /// The page of a template whose layout lists the parts' `scripts`: it answers
    /// with the policy that lets them run, and a page without any, with none.
    pub fn render_with(template: &impl Template, scripts: &[&'static str]) -> Page {
        match Page::render(template) {
            Page::Html(html) if !scripts.is_empty() => {
                Page::Scripted(headers::WithPolicy(headers::SCRIPTED_POLICY, html))
            }
            other => other,
        }
    }

    pub fn render(template: &impl Template) -> Page {
        match template.render() {
            Ok(html) => Page::Html(RawHtml(html)),
            Err(error) => {
                log::error!("a page template failed to render: {error}");
                error_page(Status::InternalServerError)
            }
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    layout: Layout,
    heading: String,
    explanation: String,
}

/// The styled page for an error status.
pub fn error_page(status: Status) -> Page {
    error_page_in(status, None)
}

/// The error page under `layout`'s header (a signed-in visitor's), or the anonymous one.
fn error_page_in(status: Status, layout: Option<Layout>) -> Page {
    let (heading, explanation) = match status.code {
        403 => (
            "Not allowed",
            "This form has expired or was sent from another site, or this page is not for your account. Reload the page and try again.",
        ),
        404 => ("Page not found", "There is nothing at this address."),
        422 | 400 => ("That did not work", "The form was incomplete or malformed. Go back and try again."),
        500..=599 => ("Something went wrong", "An error occurred on our side. Please try again in a moment."),
        _ => ("That did not work", "The request could not be completed."),
    };
    let mut layout = layout.unwrap_or_else(|| Layout::new(heading, None, "", None));
    layout.title = heading.to_string();
    let page = ErrorTemplate {
        layout,
        heading: heading.to_string(),
        explanation: explanation.to_string(),
    };
    let html = page
        .render()
        .unwrap_or_else(|_| format!("<!doctype html><title>{heading}</title><h1>{heading}</h1>"));
    Page::Error((status, RawHtml(html)))
}

/// The 403 page of a signed-in account that is not staff, under its own header.
fn staff_only_page(layout: Layout) -> Page {
    let heading = "For staff only";
    let page = ErrorTemplate {
        layout,
        heading: heading.to_string(),
        explanation: "This page is for staff accounts, and yours is not one. Ask an administrator if you need access.".to_string(),
    };
    match page.render() {
        Ok(html) => Page::Error((Status::Forbidden, RawHtml(html))),
        Err(_) => error_page(Status::Forbidden),
    }
}

/// Mounts the pages, the stylesheet and the HTML catchers, and adds the security
/// headers to every response (the API's included).
pub fn stage(pages: bool, https: bool, mail: bool) -> AdHoc {
    AdHoc::on_ignite("Pages", move |rocket| async move {
        let rocket = rocket
            .attach(requests::RequestLog)
            .attach(headers::SecurityHeaders { https });
        if !pages {
            return rocket;
        }
        let rocket = if mail {
            rocket
                .attach(links::TokenOutOfAddress)
                .mount("/", links::routes())
        } else {
            rocket
        };
        rocket
            .mount("/", pages::routes())
            .mount("/", account::routes(mail))
            .mount("/static", routes![stylesheet])
            .register("/", catchers![html_error])
    })
}

/// The stylesheet, compiled into the binary: a deployed binary needs no `static/`
/// folder beside it, and what is served is what was tested.
#[get("/style.css")]
fn stylesheet() -> (rocket::http::ContentType, &'static str) {
    (
        rocket::http::ContentType::CSS,
        include_str!("../../static/style.css"),
    )
}

/// Error pages; a page guard's 401 instead sends the visitor to the login page, with
/// the way back (`next`) when the page was one to go back to (a GET).
#[catch(default)]
fn html_error(status: Status, request: &Request<'_>) -> Page {
    if status == Status::Forbidden {
        if let Some(layout) = &request.local_cache(visitor::StaffOnly::default).0 {
            return staff_only_page(layout.clone());
        }
    }
    if status != Status::Unauthorized {
        // A visitor the page's guards already found signed in keeps their header (a
        // malformed form, say); no guard runs here for pages that had none.
        let layout = request
            .local_cache(|| None::<visitor::Visitor>)
            .as_ref()
            .filter(|visitor| visitor.signed_in().is_some())
            .map(|visitor| visitor.layout("", feedback::Incoming(None)));
        return error_page_in(status, layout);
    }
    // A FreshPage refused: signed in, but the proof is too old.
    let fresh = request.local_cache(visitor::Reauthenticate::default);
    if fresh.refused {
        let back = fresh.back.as_deref().unwrap_or("/account");
        let to = uri!(account::reauthenticate_page(next = Some(back)));
        return Page::Feedback(
            Feedback::error("Please confirm your password to continue.").redirect(to.to_string()),
        );
    }
    let reason = request.local_cache(|| LoginReason {
        message: "Please log in to see that page.".to_string(),
        second_factor: false,
    });
    let next = (request.method() == rocket::http::Method::Get)
        .then(|| request.uri().to_string())
        .filter(|next| visitor::safe_next(Some(next)).is_some() && next != "/");
    let to = if reason.second_factor {
        uri!(pages::second_factor_page(next = next.as_deref()))
    } else {
        uri!(pages::login_page(next = next.as_deref()))
    };
    Page::Feedback(Feedback::error(reason.message.clone()).redirect(to.to_string()))
}
