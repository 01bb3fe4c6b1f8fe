//! Request guards for the routes of apps built on Gatehouse.
//!
//! - [`AuthSession`]: a valid access token of a live (not revoked, not expired) session.
//! - [`AuthAccount`]: the same, and the account is active.
//! - [`StaffAccount`]: an active staff member (or superuser); others get 403 `forbidden`.
//! - [`SuperuserAccount`]: an active superuser; others get 403 `forbidden`.
//! - `Option<AuthAccount>` / `Option<AuthSession>`: `None` for anonymous or refused
//!   requests, for routes that serve everyone but greet the signed-in.
//!
//! The token is read from `Authorization: Bearer …` and then from the access cookie,
//! as `token_locations` allows. Every check looks at the session's state (from the
//! short-lived session cache or one primary-key read), so revocation takes effect on
//! the next request, not at token expiry. A refused request fails with 401 (missing,
//! invalid or expired token, revoked session), 403 (`account_blocked`,
//! `account_inactive`, `forbidden`) and, under `/api`, a JSON body with the code.
//!
//! Beside them: the error stash (`stash.rs`), the client's address behind proxies
//! (`client.rs`) and [`DistinctQuery`] (`query.rs`).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::State;

use crate::accounts::Account;
use crate::app::App;
use crate::auth::{self, Authenticated};
use crate::config::{Clients, TokenLocation};
use crate::error::AppError;
use crate::sessions::ClientInfo;
use crate::tokens::{TokenKind, VerifiedToken};

mod client;
mod query;
mod stash;

pub use client::{client_address, client_of, known_client_address};
pub use query::DistinctQuery;
pub use stash::{stash, take_stashed};

/// A request with a valid access token of a live session.
#[derive(Debug, Clone)]
pub struct AuthSession {
    pub session_id: String,
    pub account: Account,
    token: VerifiedToken,
}

/// A request from an active account with a live session.
#[derive(Debug, Clone)]
pub struct AuthAccount {
    pub session_id: String,
    pub account: Account,
    token: VerifiedToken,
}

impl AuthSession {
    /// The app's own claims of the request's access token (see `Feature::claims`).
    pub fn custom_claims(&self) -> serde_json::Map<String, serde_json::Value> {
        self.token.custom_claims()
    }
}

impl AuthAccount {
    /// The app's own claims of the request's access token (see `Feature::claims`).
    pub fn custom_claims(&self) -> serde_json::Map<String, serde_json::Value> {
        self.token.custom_claims()
    }
}

/// The access token of the request, from the header or the cookie as configured. A
/// token from the cookie on an unsafe request (anything but GET, HEAD, OPTIONS) must
/// come with the browser's CSRF token in `X-CSRF-Token` (double submit): a cross-site
/// page can make the browser send the cookie, but cannot read the token to echo it.
pub fn access_token(request: &Request<'_>, app: &App) -> Result<String, AppError> {
    if app.settings.accepts(TokenLocation::Header) {
        if let Some(value) = request.headers().get_one("Authorization") {
            return bearer(value)
                .map(str::to_owned)
                .ok_or(AppError::InvalidToken);
        }
    }
    if app.settings.accepts(TokenLocation::Cookie) {
        if let Some(token) = crate::cookies::read(request, &app.settings.cookies.access_cookie) {
            check_csrf_header(request, app, &token, TokenKind::Access)?;
            return Ok(token);
        }
    }
    Err(AppError::MissingToken)
}

/// Requires, on unsafe requests, `X-CSRF-Token` to be the CSRF token of the session
/// the cookie-borne `token` belongs to (see [`crate::cookies`]).
pub fn check_csrf_header(
    request: &Request<'_>,
    app: &App,
    token: &str,
    kind: TokenKind,
) -> Result<(), AppError> {
    use rocket::http::Method;
    if matches!(
        request.method(),
        Method::Get | Method::Head | Method::Options
    ) {
        return Ok(());
    }
    let claims = app.keys.decode_ignoring_expiry(token, kind, app.now())?;
    let presented = request.headers().get_one("X-CSRF-Token").unwrap_or("");
    if crate::cookies::csrf_matches(request, &app.settings, Some(&claims.sid), presented) {
        Ok(())
    } else {
        Err(AppError::CsrfFailed)
    }
}

/// The token of an `Authorization: Bearer <token>` header value.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Authenticates once per request; every guard of the request shares the result.
async fn authenticated<'r>(request: &'r Request<'_>) -> &'r Result<Authenticated, Arc<AppError>> {
    request
        .local_cache_async(async {
            let app = match request.guard::<&State<App>>().await {
                Outcome::Success(app) => app,
                _ => return Err(Arc::new(AppError::from_status(Status::InternalServerError))),
            };
            let token = access_token(request, app)?;
            Ok(auth::authenticate(app, &token).await?)
        })
        .await
}

fn refuse<T>(request: &Request<'_>, error: impl Into<Arc<AppError>>) -> request::Outcome<T, ()> {
    Outcome::Error((stash(request, error), ()))
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AuthSession {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        match authenticated(request).await {
            Ok(found) if found.pending => refuse(request, AppError::TwoFactorRequired),
            Ok(found) => Outcome::Success(AuthSession {
                session_id: found.session_id.clone(),
                account: found.account.clone(),
                token: found.token.clone(),
            }),
            Err(error) => refuse(request, error.clone()),
        }
    }
}

/// A session waiting for its second factor: the guard of `POST /api/auth/2fa/verify`.
/// A complete session is refused with 401 `session_revoked` (it has nothing to verify).
#[derive(Debug, Clone)]
pub struct PendingSession {
    pub session_id: String,
    pub account: Account,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for PendingSession {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        match authenticated(request).await {
            Ok(found) if found.pending => Outcome::Success(PendingSession {
                session_id: found.session_id.clone(),
                account: found.account.clone(),
            }),
            Ok(_) => refuse(request, AppError::SessionRevoked),
            Err(error) => refuse(request, error.clone()),
        }
    }
}

/// Any live session, complete or pending: the guard of logout, which must be able to
/// abandon a login half-way.
#[derive(Debug, Clone)]
pub struct AnySession {
    pub session_id: String,
    pub account: Account,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AnySession {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        match authenticated(request).await {
            Ok(found) => Outcome::Success(AnySession {
                session_id: found.session_id.clone(),
                account: found.account.clone(),
            }),
            Err(error) => refuse(request, error.clone()),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AuthAccount {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        match authenticated(request).await {
            Ok(found) if found.pending => refuse(request, AppError::TwoFactorRequired),
            Ok(found) if found.account.is_active => Outcome::Success(AuthAccount {
                session_id: found.session_id.clone(),
                account: found.account.clone(),
                token: found.token.clone(),
            }),
            Ok(_) => refuse(request, AppError::AccountInactive),
            Err(error) => refuse(request, error.clone()),
        }
    }
}

/// A request from an active staff member or superuser.
#[derive(Debug, Clone)]
pub struct StaffAccount {
    pub session_id: String,
    pub account: Account,
}

/// A request from an active superuser.
#[derive(Debug, Clone)]
pub struct SuperuserAccount {
    pub session_id: String,
    pub account: Account,
}

/// The active account of the request if `allowed` says yes, else the refusal.
async fn active_account_where<'r>(
    request: &'r Request<'_>,
    allowed: fn(&Account) -> bool,
    refusal: &'static str,
) -> request::Outcome<AuthAccount, ()> {
    match AuthAccount::from_request(request).await {
        Outcome::Success(found) if allowed(&found.account) => Outcome::Success(found),
        Outcome::Success(_) => refuse(request, AppError::Forbidden(refusal)),
        Outcome::Error(error) => Outcome::Error(error),
        Outcome::Forward(status) => Outcome::Forward(status),
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for StaffAccount {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        active_account_where(
            request,
            |account| account.is_staff || account.is_superuser,
            "this needs a staff account",
        )
        .await
        .map(|found| StaffAccount {
            session_id: found.session_id,
            account: found.account,
        })
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SuperuserAccount {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        active_account_where(
            request,
            |account| account.is_superuser,
            "this needs a superuser account",
        )
        .await
        .map(|found| SuperuserAccount {
            session_id: found.session_id,
            account: found.account,
        })
    }
}

/// A guard `G` (say [`AuthAccount`] or [`SuperuserAccount`]) whose session proved its
/// user within `reauthentication_max_age` (a login, or `POST /api/auth/reauthenticate`;
/// a refresh proves nothing). Otherwise 401 `reauthentication_required` with
/// `WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age=…`
/// (RFC 9470). Put it on routes that change what matters and take no password in
/// their body: `admin: Fresh<SuperuserAccount>`.
pub struct Fresh<G>(pub G);

impl<G> std::ops::Deref for Fresh<G> {
    type Target = G;

    fn deref(&self) -> &G {
        &self.0
    }
}

#[rocket::async_trait]
impl<'r, G: FromRequest<'r, Error = ()> + Send> FromRequest<'r> for Fresh<G> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let inner = match G::from_request(request).await {
            Outcome::Success(inner) => inner,
            Outcome::Error(error) => return Outcome::Error(error),
            Outcome::Forward(status) => return Outcome::Forward(status),
        };
        let Outcome::Success(app) = request.guard::<&State<App>>().await else {
            return refuse(request, AppError::from_status(Status::InternalServerError));
        };
        let max_age = app.settings.bounds.reauthentication_max_age;
        match authenticated(request).await {
            Ok(found) if proved_within(found.proved_at, max_age, app.now()) => {
                Outcome::Success(Fresh(inner))
            }
            Ok(_) => refuse(request, AppError::ReauthenticationRequired { max_age }),
            Err(error) => refuse(request, error.clone()),
        }
    }
}

/// Whether a proof at `proved_at` is at most `max_age` seconds old at `now`.
pub fn proved_within(proved_at: Option<i64>, max_age: i64, now: i64) -> bool {
    proved_at.is_some_and(|at| now - at <= max_age)
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn a_bearer_header_gives_its_token() {
        assert_eq!(bearer("Bearer abc.def"), Some("abc.def"));
        assert_eq!(bearer("bearer   abc "), Some("abc"));
        for bad in ["", "Bearer", "Bearer ", "Basic abc", "Token abc", "abc"] {
            assert_eq!(bearer(bad), None, "{bad:?}");
        }
    }
}
