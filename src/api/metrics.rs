//! `GET /metrics` for Prometheus (see [`crate::metrics`]): mounted only while
//! `metrics_enabled` is on, and then answered only to `metrics_allowed` addresses;
//! anyone else gets the same 404 as for a path that does not exist.

use rocket::http::{ContentType, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::State;

use crate::app::App;
use crate::guards::known_client_address;

/// A client whose address (after the trusted-proxy rules) is listed in
/// `metrics_allowed`; anyone else, and a client the proxy's header leaves unknown,
/// is refused.
pub struct MetricsReader;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for MetricsReader {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let (Some(peer), Some(app)) = (request.remote(), request.rocket().state::<App>()) else {
            return Outcome::Forward(Status::NotFound);
        };
        let peer = peer.ip().to_canonical();
        let client = known_client_address(peer, request, &app.settings.clients);
        match client {
            Some(client) if app.settings.observability.may_read_metrics(client) => {
                Outcome::Success(MetricsReader)
            }
            _ => Outcome::Forward(Status::NotFound),
        }
    }
}

#[get("/metrics")]
pub fn scrape(app: &State<App>, _reader: MetricsReader) -> (ContentType, String) {
    let content_type =
        ContentType::parse_flexible(crate::metrics::CONTENT_TYPE).unwrap_or(ContentType::Plain);
    (content_type, app.metrics.render())
}
