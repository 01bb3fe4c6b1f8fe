//! Security headers on every response, pages and API alike, and cache headers: static
//! files may be cached for a day, everything else (account data) never. A route that
//! sets its own `Cache-Control` (the public JWKS) keeps it, and a route that declares
//! its own Content-Security-Policy ([`WithPolicy`], [`with_policy`]) keeps that.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::response::{self, Responder};
use rocket::route::{Handler, Outcome};
use rocket::{Data, Request, Response, Route};

/// Every response but those whose route declares another: no script at all, styles
/// and images only from this origin (the QR code is inline SVG markup, not a script),
/// never framed, forms only to this origin.
pub const DEFAULT_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A page that shows a part's section with a script (the passkey buttons): scripts
/// and requests to this origin only, never inline; otherwise as [`DEFAULT_POLICY`].
pub const SCRIPTED_POLICY: &str = "default-src 'none'; script-src 'self'; \
     connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Swagger UI's page (`/api/docs`, only while `api_docs` is on): its own scripts and
/// styles (some inline), images inline, requests to this origin only.
pub const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A single-page app's built files (`spa_dir`): scripts, styles, fonts and images from
/// this origin only, never inline; API calls and the WebSocket to this origin.
pub const SPA_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'self'";

const CSP: &str = "Content-Security-Policy";

/// A responder answered with its own Content-Security-Policy instead of
/// [`DEFAULT_POLICY`]: `WithPolicy(SPA_POLICY, page)`. Error answers (a catcher's) keep
/// the default.
pub struct WithPolicy<R>(pub &'static str, pub R);

impl<'r, 'o: 'r, R: Responder<'r, 'o>> Responder<'r, 'o> for WithPolicy<R> {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'o> {
        let mut response = self.1.respond_to(request)?;
        response.set_header(Header::new(CSP, self.0));
        Ok(response)
    }
}

/// The same routes, each answering with `policy`: for handlers that are not ours to
/// wrap one by one (Swagger UI, a file server). A route that forwards or fails sets
/// nothing, so the next route or the catcher decides.
pub fn with_policy(policy: &'static str, routes: impl Into<Vec<Route>>) -> Vec<Route> {
    routes
        .into()
        .into_iter()
        .map(|mut route| {
            route.handler = Box::new(Policed {
                policy,
                inner: route.handler,
            });
            route
        })
        .collect()
}

#[derive(Clone)]
struct Policed {
    policy: &'static str,
    inner: Box<dyn Handler>,
}

#[rocket::async_trait]
impl Handler for Policed {
    async fn handle<'r>(&self, request: &'r Request<'_>, data: Data<'r>) -> Outcome<'r> {
        match self.inner.handle(request, data).await {
            Outcome::Success(mut response) => {
                response.set_header(Header::new(CSP, self.policy));
                Outcome::Success(response)
            }
            other => other,
        }
    }
}

pub struct SecurityHeaders {
    /// Served over HTTPS (release): add Strict-Transport-Security.
    pub https: bool,
}

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info {
            name: "Security headers",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        // Only a route's own answer may carry another policy; a catcher's never does
        // (a route that failed may have set one on the answer it dropped).
        let answered_by_route = request.route().is_some() && response.status().code < 400;
        if !(answered_by_route && response.headers().contains(CSP)) {
            response.set_header(Header::new(CSP, DEFAULT_POLICY));
        }
        response.set_header(Header::new("X-Content-Type-Options", "nosniff"));
        response.set_header(Header::new("Referrer-Policy", "same-origin"));
        response.set_header(Header::new("X-Frame-Options", "DENY"));
        // No other origin's window keeps a handle on ours, and no other origin may
        // embed our responses (pages, JSON or the stylesheet).
        response.set_header(Header::new("Cross-Origin-Opener-Policy", "same-origin"));
        response.set_header(Header::new("Cross-Origin-Resource-Policy", "same-origin"));
        if self.https {
            response.set_header(Header::new(
                "Strict-Transport-Security",
                "max-age=31536000; includeSubDomains",
            ));
        }
        if response.headers().contains("Cache-Control") && response.status().code == 200 {
            return;
        }
        let cache = if request.uri().path().starts_with("/static/") && response.status().code == 200
        {
            "public, max-age=86400"
        } else {
            "no-store"
        };
        response.set_header(Header::new("Cache-Control", cache));
    }
}
