//! CORS for `/api`: a single-page app on an origin listed in `cors_allowed_origins`
//! may call the API with bearer tokens or cookies. The answer echoes that origin with
//! credentials allowed; any other origin gets no CORS header at all, so browsers keep
//! refusing it, and same-origin requests are unchanged. A small fairing of our own:
//! rocket_cors answers an unlisted origin with 403, which would break same-origin
//! requests that carry an `Origin` header.

use std::sync::Arc;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{Header, Method, Status};
use rocket::{Request, Response, Route};

use crate::config::Cors;

/// What a preflight may ask for.
const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOWED_HEADERS: &str = "Authorization, Content-Type, X-CSRF-Token";
/// What the app's scripts may read from an answer.
const EXPOSED_HEADERS: &str = "Retry-After, X-Request-Id, WWW-Authenticate";
/// How long a browser may keep a preflight's answer, in seconds.
const MAX_AGE: &str = "600";

/// The fairing; attached only when at least one origin is listed.
pub struct CorsHeaders {
    allowed: Arc<[String]>,
}

impl CorsHeaders {
    pub fn new(settings: &Cors) -> Option<CorsHeaders> {
        (!settings.cors_allowed_origins.is_empty()).then(|| CorsHeaders {
            allowed: settings.cors_allowed_origins.clone().into(),
        })
    }
}

#[rocket::async_trait]
impl Fairing for CorsHeaders {
    fn info(&self) -> Info {
        Info {
            name: "CORS for /api",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let path = request.uri().path();
        if path != "/api" && !path.starts_with("/api/") {
            return;
        }
        // Caches must keep answers apart by Origin, listed or not.
        response.adjoin_header(Header::new("Vary", "Origin"));
        // Browsers send one Origin; a request with several is no browser's, and
        // gets no CORS header whichever comes first.
        let mut origins = request.headers().get("Origin");
        let (Some(origin), None) = (origins.next(), origins.next()) else {
            return;
        };
        if !self.allowed.iter().any(|allowed| allowed == origin) {
            return;
        }
        response.set_header(Header::new(
            "Access-Control-Allow-Origin",
            origin.to_string(),
        ));
        response.set_header(Header::new("Access-Control-Allow-Credentials", "true"));
        let preflight = request.method() == Method::Options
            && request.headers().contains("Access-Control-Request-Method");
        if preflight {
            response.set_header(Header::new("Access-Control-Allow-Methods", ALLOWED_METHODS));
            response.set_header(Header::new("Access-Control-Allow-Headers", ALLOWED_HEADERS));
            response.set_header(Header::new("Access-Control-Max-Age", MAX_AGE));
        } else {
            response.set_header(Header::new(
                "Access-Control-Expose-Headers",
                EXPOSED_HEADERS,
            ));
        }
    }
}

/// Every preflight under `/api` is answered 204; the fairing adds the CORS headers
/// when the origin is listed (otherwise the browser refuses the call).
/// Any path: a segment a `PathBuf` would refuse (`.x`, `*`) is still a path a
/// feature's route may take.
#[options("/<_..>")]
fn preflight() -> Status {
    Status::NoContent
}

pub fn routes() -> Vec<Route> {
    routes![preflight]
}
