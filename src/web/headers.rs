//! Security headers on every response, pages and API alike, and cache headers: static
//! files may be cached for a day, everything else (account data) never. A route that
//! sets its own `Cache-Control` (the public JWKS) keeps it.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Request, Response};

/// No script at all, styles and images only from this origin (the QR code is inline
/// SVG markup, not a script), never framed, forms only to this origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Swagger UI's page (`/api/docs`, only while `api_docs` is on): its own scripts and
/// styles (some inline), images inline, requests to this origin only.
const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

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
        // By the route that answered, not the raw path: only the viewer's own route
        // (mounted while api_docs is on) gets the looser policy.
        let viewer = crate::api::docs::VIEWER_PATH;
        let served_by_viewer = request.route().is_some_and(|route| {
            let path = route.uri.path().to_string();
            path == viewer || path.starts_with(&format!("{viewer}/"))
        });
        let policy = if served_by_viewer {
            DOCS_CONTENT_SECURITY_POLICY
        } else {
            CONTENT_SECURITY_POLICY
        };
        response.set_header(Header::new("Content-Security-Policy", policy));
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
