//! Who is looking at a page. The pages use the API's sessions, carried in cookies: an
//! expired (or dropped) access cookie is renewed from the refresh cookie on the way,
//! with the same rotation and reuse rules as `POST /api/auth/refresh`.

use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::State;

use crate::accounts::Account;
use crate::app::App;
use crate::auth;
use crate::cookies;
use crate::error::AppError;
use crate::sessions::ClientInfo;

/// The visitor of a page: signed in, half-way through a 2FA login, or anonymous, and
/// the browser's CSRF token for the page's forms.
pub struct Visitor {
    pub account: Option<Account>,
    pub session_id: Option<String>,
    /// Signed in with the password only; the session waits for its second factor.
    pub pending: bool,
    pub csrf: String,
    /// Why an existing session was refused (blocked, revoked), to tell the visitor.
    pub refusal: Option<AppError>,
}

impl Visitor {
    /// The signed-in, active account of a complete session.
    pub fn signed_in(&self) -> Option<&Account> {
        self.account
            .as_ref()
            .filter(|account| !self.pending && account.is_active)
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Visitor {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let app = match request.guard::<&State<App>>().await {
            Outcome::Success(app) => app,
            _ => return Outcome::Forward(rocket::http::Status::InternalServerError),
        };
        let jar = request.cookies();
        let settings = &app.settings;
        let csrf = cookies::csrf_token(jar, settings);
        let mut visitor = Visitor {
            account: None,
            session_id: None,
            pending: false,
            csrf,
            refusal: None,
        };
        let access = jar
            .get(&settings.access_cookie)
            .map(|c| c.value().to_string());
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
                visitor.session_id = Some(found.session_id);
                visitor.account = Some(found.account);
            }
            Err(AppError::MissingToken) => {}
            // Our failure, not the session's: keep the cookies for the next request.
            Err(error) if error.is_internal() => visitor.refusal = Some(error),
            Err(error) => {
                cookies::clear_auth_cookies(jar, settings);
                visitor.refusal = Some(error);
            }
        }
        Outcome::Success(visitor)
    }
}

/// Renews the access cookie from the refresh cookie, if there is one.
async fn renew(request: &Request<'_>, app: &App) -> Result<auth::Authenticated, AppError> {
    let jar = request.cookies();
    let Some(refresh) = jar
        .get(&app.settings.refresh_cookie)
        .map(|c| c.value().to_string())
    else {
        return Err(AppError::MissingToken);
    };
    let client = ClientInfo {
        user_agent: request.headers().get_one("User-Agent").map(str::to_owned),
        ip: request.client_ip().map(|ip| ip.to_string()),
    };
    let tokens = auth::refresh(app, &refresh, &client).await?;
    cookies::set_auth_cookies(jar, &app.settings, &tokens);
    auth::authenticate(app, &tokens.access_token).await
}
