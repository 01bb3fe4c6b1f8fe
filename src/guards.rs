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

/// The error a failing guard or body parser leaves for the catcher, which renders
/// it (guards and data guards cannot answer with a body themselves).
#[derive(Default)]
struct Stash(Mutex<Option<Arc<AppError>>>);

/// Records `error` for the catcher of this request; returns its status.
pub fn stash(request: &Request<'_>, error: impl Into<Arc<AppError>>) -> Status {
    let error = error.into();
    let status = error.status();
    let slot = request.local_cache(Stash::default);
    *slot
        .0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(error);
    status
}

/// Takes the stashed error if it matches `status`, else a generic one for it.
pub fn take_stashed(request: &Request<'_>, status: Status) -> Arc<AppError> {
    let slot = request.local_cache(Stash::default);
    let stashed = slot
        .0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take();
    match stashed {
        Some(error) if error.status() == status => error,
        _ => Arc::new(AppError::from_status(status)),
    }
}

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
    /// The app's own claims of the request's access token (see `features::claims`).
    pub fn custom_claims(&self) -> serde_json::Map<String, serde_json::Value> {
        self.token.custom_claims()
    }
}

impl AuthAccount {
    /// The app's own claims of the request's access token (see `features::claims`).
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

/// Where the request came from, recorded on the session it opens.
#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientInfo {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        Outcome::Success(client_of(request))
    }
}

/// The request's client: its user agent (cut to a bounded length) and its address,
/// the peer's unless the peer is a trusted proxy (see [`client_address`]).
pub fn client_of(request: &Request<'_>) -> ClientInfo {
    let ip = request.remote().map(|peer| {
        let peer = peer.ip().to_canonical();
        match request.rocket().state::<App>() {
            Some(app) => client_address(peer, request, &app.settings.clients),
            None => peer,
        }
    });
    ClientInfo {
        request_id: Some(crate::web::requests::request_id(request).to_string()),
        ..ClientInfo::new(
            request.headers().get_one("User-Agent"),
            ip.map(|ip| ip.to_string()),
        )
    }
}

/// The client's address: `peer` itself, unless it is a trusted proxy; then the
/// configured header's addresses are read right to left (every occurrence, in order),
/// skipping trusted proxies, and the first untrusted one is the client. A hop that is
/// not an address ends the walk at the last trusted one, so garbage is never believed.
pub fn client_address(peer: IpAddr, request: &Request<'_>, clients: &Clients) -> IpAddr {
    walk_hops(peer, request, clients).0
}

/// [`client_address`], or `None` when a trusted proxy's header held a hop that is not
/// an address: the client is then unknown, which is not the same as being the proxy
/// (what may only be shown to listed addresses, `/metrics`, must not take it for one).
pub fn known_client_address(
    peer: IpAddr,
    request: &Request<'_>,
    clients: &Clients,
) -> Option<IpAddr> {
    match walk_hops(peer, request, clients) {
        (address, true) => Some(address),
        (_, false) => None,
    }
}

/// The client's address, and whether the walk ended on an address (not on garbage).
fn walk_hops(peer: IpAddr, request: &Request<'_>, clients: &Clients) -> (IpAddr, bool) {
    let Some(header) = &clients.client_ip_header else {
        return (peer, true);
    };
    if !clients.trusts(peer) {
        return (peer, true);
    }
    let hops: Vec<&str> = request
        .headers()
        .get(header)
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(address) = parse_hop(hop) else {
            return (client, false);
        };
        client = address;
        if !clients.trusts(address) {
            break;
        }
    }
    (client, true)
}

/// Refuses (422, naming the field) a query string that gives a field twice: Rocket
/// would drop both values, and a search would silently become a list of everything.
/// `q[]`, `q.x` and `q[0]` are all the field `q` to Rocket's form parser, so the
/// comparison is of the name's first key.
pub struct DistinctQuery;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for DistinctQuery {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let mut seen = std::collections::HashSet::new();
        let fields = request
            .uri()
            .query()
            .into_iter()
            .flat_map(|query| query.segments());
        for (name, _) in fields {
            let field = name.split(['.', '[']).next().unwrap_or(name);
            if !seen.insert(field) {
                let error = AppError::field(field, "is given more than once");
                return Outcome::Error((stash(request, error), ()));
            }
        }
        Outcome::Success(DistinctQuery)
    }
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443` or `203.0.113.7:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<std::net::SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
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
