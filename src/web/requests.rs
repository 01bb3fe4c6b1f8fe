//! Every request's id, sent back in `X-Request-Id` and kept with the audit events it
//! causes, and its one log line and metrics. The line names the matched route's
//! template, never the path or query themselves, which may carry a link's token.

use std::time::Instant;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Data, Request, Response};

use crate::app::App;

pub const REQUEST_ID_HEADER: &str = "X-Request-Id";

/// Longest incoming id kept; anything longer is replaced by our own.
const MAX_INCOMING_ID: usize = 128;

struct RequestMark {
    id: String,
    started: Instant,
}

/// The id of `request`: the trusted proxy's, or one made for it.
pub fn request_id<'r>(request: &'r Request<'_>) -> &'r str {
    &mark(request).id
}

fn mark<'r>(request: &'r Request<'_>) -> &'r RequestMark {
    request.local_cache(|| RequestMark {
        id: chosen_id(request),
        started: Instant::now(),
    })
}

/// An incoming id is kept only when `trust_request_id` is on, from a trusted proxy
/// (anyone else could pick ids that tie their requests to another's in the logs and
/// the audit trail) and only when it is a plain token.
fn chosen_id(request: &Request<'_>) -> String {
    let incoming = request.headers().get_one(REQUEST_ID_HEADER);
    let from_proxy = match (request.remote(), request.rocket().state::<App>()) {
        (Some(peer), Some(app)) => {
            app.settings.observability.trust_request_id
                && app.settings.clients.trusts(peer.ip().to_canonical())
        }
        _ => false,
    };
    match incoming {
        Some(id) if from_proxy && is_plain_id(id) => id.to_string(),
        _ => crate::random::token(16),
    }
}

fn is_plain_id(id: &str) -> bool {
    (1..=MAX_INCOMING_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:+/=".contains(&b))
}

pub struct RequestLog;

#[rocket::async_trait]
impl Fairing for RequestLog {
    fn info(&self) -> Info {
        Info {
            name: "Request ids, log lines and metrics",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, request: &mut Request<'_>, _data: &mut Data<'_>) {
        mark(request);
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let mark = mark(request);
        response.set_header(Header::new(REQUEST_ID_HEADER, mark.id.clone()));
        let metrics = request
            .rocket()
            .state::<App>()
            .filter(|app| app.settings.observability.metrics_enabled);
        let log = tracing::enabled!(tracing::Level::INFO);
        // Quiet (release logs warnings only) and no metrics: nothing more to do.
        if metrics.is_none() && !log {
            return;
        }
        let elapsed = mark.started.elapsed();
        let route = request
            .route()
            .map(|route| route.uri.path().to_string())
            .unwrap_or_else(|| "(unmatched)".into());
        let method = request.method().as_str();
        let status = response.status().code;
        if let Some(app) = metrics {
            app.metrics
                .request(method, &route, status, elapsed.as_secs_f64());
        }
        tracing::info!(
            request_id = %mark.id,
            method = %method,
            route = %route,
            status,
            duration_ms = %format_args!("{:.3}", elapsed.as_secs_f64() * 1000.0),
            "request"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_bounded_ids_are_kept() {
        assert!(is_plain_id("3f2a9c1e-7b4d-4e2a-9f10-2c6b8d1e0a55"));
        assert!(is_plain_id("Root=1-5759e988-bd862e3fe1be46a994272793"));
        assert!(!is_plain_id(""));
        assert!(!is_plain_id("has space"));
        assert!(!is_plain_id("line\nbreak"));
        assert!(!is_plain_id(&"a".repeat(MAX_INCOMING_ID + 1)));
    }
}
