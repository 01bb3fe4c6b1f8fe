//! Who is looking at a page, and the guards page routes take instead of checking by
//! hand:
//! - [`Visitor`]: anyone, signed in or not (renewing an expired access cookie from the
//!   refresh cookie on the way, with the rotation and reuse rules of
//!   `POST /api/auth/refresh`);
//! - [`SignedIn`]: the active account of a complete session; anyone else is sent to
//!   `/login?next=<this page>` and brought back after logging in;
//! - [`StaffPage`]: the same for staff and superusers; other accounts get the 403 page;
//! - [`CsrfForm`]: a form body that carries this browser's CSRF token, else 403.

use std::sync::Arc;

use rocket::data::{self, Data, FromData, ToByteUnit};
use rocket::form::{Form, FromForm};
use rocket::http::{RawStr, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::State;

use super::feedback::{Feedback, Incoming};
use super::{CsrfOnly, Layout};
use crate::accounts::Account;
use crate::app::App;
use crate::auth;
use crate::cookies;
use crate::error::AppError;

/// A link of the pages' navigation, shown to signed-in visitors (features add theirs).
#[derive(Debug, Clone)]
pub struct NavLink {
    pub label: &'static str,
    pub href: &'static str,
}

/// The navigation links of the registered features, managed by Rocket.
#[derive(Debug, Clone, Default)]
pub struct Navigation(pub Arc<[NavLink]>);

/// The visitor of a page: signed in, half-way through a 2FA login, or anonymous, and
/// the browser's CSRF token for the page's forms.
#[derive(Clone)]
pub struct Visitor {
    pub account: Option<Account>,
    pub session_id: Option<String>,
    /// Signed in with the password only; the session waits for its second factor.
    pub pending: bool,
    /// When the session's holder last proved themselves (see `guards::Fresh`).
    pub proved_at: Option<i64>,
    pub csrf: String,
    /// Why an existing session was refused (blocked, revoked), to tell the visitor.
    pub refusal: Option<Arc<AppError>>,
    nav: Navigation,
    /// Mail is on, so an unverified address can be verified (the banner).
    mail: bool,
    /// Shown under every new-password field before it is submitted.
    password_min_length: usize,
}

impl Visitor {
    /// The signed-in, active account of a complete session.
    pub fn signed_in(&self) -> Option<&Account> {
        self.account
            .as_ref()
            .filter(|account| !self.pending && account.is_active)
    }

    /// The layout of a page titled `title`, with the feedback to show: why the
    /// visitor's session just ended, else what the previous POST left.
    pub fn layout(&self, title: &str, incoming: Incoming) -> Layout {
        let feedback = match &self.refusal {
            Some(error) => Some(Feedback::error(error.sentence())),
            None => incoming.0,
        };
        let mut layout = Layout::new(title, self.signed_in(), &self.csrf, feedback);
        layout.password_min_length = self.password_min_length;
        if let Some(account) = self.signed_in() {
            layout.nav = self.nav.0.to_vec();
            layout.unverified_email = self.mail && !account.email_verified;
        }
        layout
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Visitor {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        // Once per request: renewing twice would rotate the refresh token twice.
        let visitor = request
            .local_cache_async(async { find_visitor(request).await })
            .await;
        match visitor {
            Some(visitor) => Outcome::Success(visitor.clone()),
            None => Outcome::Error((Status::InternalServerError, ())),
        }
    }
}

async fn find_visitor(request: &Request<'_>) -> Option<Visitor> {
    let app = request.rocket().state::<App>()?;
    let jar = request.cookies();
    let settings = &app.settings;
    let mut visitor = Visitor {
        account: None,
        session_id: None,
        pending: false,
        proved_at: None,
        csrf: String::new(),
        refusal: None,
        nav: request
            .rocket()
            .state::<Navigation>()
            .cloned()
            .unwrap_or_default(),
        mail: settings.mail.enabled(),
        password_min_length: settings.passwords.password_min_length,
    };
    let access = cookies::read(request, &settings.cookies.access_cookie);
    let outcome = match access {
        Some(token) => auth::authenticate(app, &token).await,
        None => Err(AppError::MissingToken),
    };
    let outcome = match outcome {
        Err(AppError::MissingToken | AppError::TokenExpired) => renew(request, app).await,
        other => other,
    };
    match outcome {
        Ok(found) => {
            visitor.pending = found.pending;
            visitor.proved_at = found.proved_at;
            visitor.session_id = Some(found.session_id);
            visitor.account = Some(found.account);
        }
        Err(AppError::MissingToken) => {}
        // Our failure, not the session's: keep the cookies for the next request.
        Err(error) if error.is_internal() => visitor.refusal = Some(Arc::new(error)),
        Err(error) => {
            cookies::clear_auth_cookies(jar, settings);
            visitor.refusal = Some(Arc::new(error));
        }
    }
    visitor.csrf = match &visitor.session_id {
        Some(session_id) => cookies::session_csrf_cookie(jar, settings, session_id),
        None => cookies::csrf_token(request, settings),
    };
    Some(visitor)
}

/// Renews the access cookie from the refresh cookie, if there is one.
async fn renew(request: &Request<'_>, app: &App) -> Result<auth::Authenticated, AppError> {
    let jar = request.cookies();
    let Some(refresh) = cookies::read(request, &app.settings.cookies.refresh_cookie) else {
        return Err(AppError::MissingToken);
    };
    let client = crate::guards::client_of(request);
    let tokens = auth::refresh(app, &refresh, &client).await?;
    cookies::set_auth_cookies(jar, &app.settings, &tokens);
    auth::authenticate(app, &tokens.access_token).await
}

/// Why a page sent its visitor to log in, for the login page to say, and whether the
/// login is half-way (the password was right; the second factor is due).
pub struct LoginReason {
    pub message: String,
    pub second_factor: bool,
}

/// The signed-in, active account of a page, with its session. Anyone else gets 401,
/// which the pages' catcher turns into a redirect to `/login?next=<the page>`.
pub struct SignedIn {
    pub account: Account,
    pub session_id: String,
    pub visitor: Visitor,
    incoming: Option<Feedback>,
}

impl SignedIn {
    /// The layout of a page titled `title`, with the previous POST's feedback.
    pub fn layout(&self, title: &str) -> Layout {
        self.visitor.layout(title, Incoming(self.incoming.clone()))
    }

    /// This browser's CSRF token, for forms a page renders.
    pub fn csrf(&self) -> &str {
        &self.visitor.csrf
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SignedIn {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let visitor = match request.guard::<Visitor>().await {
            Outcome::Success(visitor) => visitor,
            Outcome::Error(error) => return Outcome::Error(error),
            Outcome::Forward(status) => return Outcome::Forward(status),
        };
        match (visitor.signed_in().cloned(), visitor.session_id.clone()) {
            (Some(account), Some(session_id)) => {
                let incoming = match request.guard::<Incoming>().await {
                    Outcome::Success(incoming) => incoming.0,
                    _ => None,
                };
                Outcome::Success(SignedIn {
                    account,
                    session_id,
                    visitor,
                    incoming,
                })
            }
            _ => {
                let message = match &visitor.refusal {
                    Some(error) => error.sentence(),
                    None if visitor.pending => AppError::TwoFactorRequired.sentence(),
                    None => "Please log in to see that page.".to_string(),
                };
                request.local_cache(|| LoginReason {
                    message,
                    second_factor: visitor.pending,
                });
                Outcome::Error((Status::Unauthorized, ()))
            }
        }
    }
}

/// A signed-in staff member or superuser. Anonymous visitors are sent to the login
/// page; other accounts get the 403 page.
pub struct StaffPage(pub SignedIn);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for StaffPage {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        match SignedIn::from_request(request).await {
            Outcome::Success(me) if me.account.is_staff || me.account.is_superuser => {
                Outcome::Success(StaffPage(me))
            }
            Outcome::Success(me) => {
                request.local_cache(|| StaffOnly(Some(me.layout("For staff only"))));
                Outcome::Error((Status::Forbidden, ()))
            }
            Outcome::Error(error) => Outcome::Error(error),
            Outcome::Forward(status) => Outcome::Forward(status),
        }
    }
}

/// Set when [`StaffPage`] refused a signed-in account: the 403 page keeps that
/// account's header and says the page is for staff (not that a form expired).
#[derive(Default)]
pub struct StaffOnly(pub Option<Layout>);

/// A page guard `G` ([`SignedIn`], [`StaffPage`]) whose session proved its user within
/// `reauthentication_max_age`, like the API's [`crate::guards::Fresh`]. Otherwise the
/// visitor is sent to `/reauthenticate`, and from there back to the page (a GET) or to
/// the page whose form it was (a POST: then they repeat the action).
pub struct FreshPage<G>(pub G);

/// Set when a [`FreshPage`] refused: where to come back to after re-authenticating.
#[derive(Default)]
pub struct Reauthenticate {
    pub refused: bool,
    pub back: Option<String>,
}

#[rocket::async_trait]
impl<'r, G: FromRequest<'r, Error = ()> + Send> FromRequest<'r> for FreshPage<G> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let inner = match G::from_request(request).await {
            Outcome::Success(inner) => inner,
            Outcome::Error(error) => return Outcome::Error(error),
            Outcome::Forward(status) => return Outcome::Forward(status),
        };
        let (Outcome::Success(app), Outcome::Success(visitor)) = (
            request.guard::<&State<App>>().await,
            request.guard::<Visitor>().await,
        ) else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        let max_age = app.settings.bounds.reauthentication_max_age;
        if crate::guards::proved_within(visitor.proved_at, max_age, app.now()) {
            return Outcome::Success(FreshPage(inner));
        }
        let back = if request.method() == rocket::http::Method::Get {
            Some(request.uri().to_string())
        } else {
            // Referrer-Policy same-origin: a form of ours names its page. Another
            // site's page (a cross-site POST) chooses nothing: its host is not ours.
            let host = request.headers().get_one("Host").unwrap_or("");
            request
                .headers()
                .get_one("Referer")
                .and_then(|referer| referer.split_once("://"))
                .and_then(|(_, rest)| rest.find('/').map(|slash| rest.split_at(slash)))
                .filter(|(authority, _)| !host.is_empty() && *authority == host)
                .map(|(_, path)| path.to_string())
        };
        let back = back.filter(|next| safe_next(Some(next)).is_some());
        request.local_cache(|| Reauthenticate {
            refused: true,
            back,
        });
        Outcome::Error((Status::Unauthorized, ()))
    }
}

/// A form (`application/x-www-form-urlencoded`) whose `csrf_token` field is the
/// visitor's CSRF token (its session's, or before a login the browser's cookie). Otherwise the request fails with 403 and the handler never
/// runs, so nothing changes. At most `LIMIT` bytes (0: the configured `form` limit),
/// for a route whose valid forms are larger.
pub struct CsrfForm<T, const LIMIT: u64 = 0>(pub T);

#[rocket::async_trait]
impl<'r, T, const LIMIT: u64> FromData<'r> for CsrfForm<T, LIMIT>
where
    T: for<'a> FromForm<'a> + Send + 'static,
{
    type Error = ();

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        if !request.content_type().is_some_and(|ct| ct.is_form()) {
            return Outcome::Error((Status::UnsupportedMediaType, ()));
        }
        let limit = match LIMIT {
            0 => request.limits().get("form").unwrap_or(32.kibibytes()),
            bytes => bytes.bytes(),
        };
        let text = match data.open(limit).into_string().await {
            Ok(text) if text.is_complete() => text.into_inner(),
            Ok(_) => return Outcome::Error((Status::PayloadTooLarge, ())),
            Err(_) => return Outcome::Error((Status::BadRequest, ())),
        };
        let Outcome::Success(app) = request.guard::<&State<App>>().await else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        let Outcome::Success(visitor) = request.guard::<Visitor>().await else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        let presented = Form::<CsrfOnly>::parse_encoded(RawStr::new(&text))
            .map(|form| form.csrf_token)
            .unwrap_or_default();
        let session = visitor.session_id.as_deref();
        if !cookies::csrf_matches(request, &app.settings, session, &presented) {
            return Outcome::Error((Status::Forbidden, ()));
        }
        match Form::<T>::parse_encoded(RawStr::new(&text)) {
            Ok(form) => Outcome::Success(CsrfForm(form)),
            Err(_) => Outcome::Error((Status::UnprocessableEntity, ())),
        }
    }
}

/// `next` if it is a path on this site (`/notes?page=2`), else `None`: never another
/// host (`//evil.example`, `/\evil.example`), a scheme, or control characters.
pub fn safe_next(next: Option<&str>) -> Option<&str> {
    let next = next?;
    // Printable ASCII only, without the characters a URI cannot hold as they are
    // (browsers send those percent-encoded): then the `Location` header is exactly
    // what was checked.
    let safe = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 2048
        && next
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"\\\"<>`^{}|".contains(&b))
        && rocket::http::uri::Origin::parse(next).is_ok();
    safe.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_only_ever_a_path_on_this_site() {
        for good in [
            "/",
            "/notes",
            "/notes?page=2",
            "/admin/accounts/3",
            "/notes?q=%C3%A9",
        ] {
            assert_eq!(safe_next(Some(good)), Some(good));
        }
        for bad in [
            "",
            "notes",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "/a\\b",
            "/a\nb",
            "/\u{0}",
            "/a b",
            "/x\"",
            "/x<",
            "/x{",
            "/x|",
            "/\u{e9}",
            "/\u{3002}evil.example",
            "/notes?q=\u{e9}",
            "/x\u{a0}",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(safe_next(None), None);
        assert_eq!(safe_next(Some(&format!("/{}", "a".repeat(3000)))), None);
    }
}
