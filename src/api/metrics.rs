//! `GET /metrics` for Prometheus (see [`crate::metrics`]): mounted only while
//! `metrics_enabled` is on, and then answered only to `metrics_allowed` addresses;
//! anyone else gets the same 404 as for a path that does not exist.

use rocket::http::{ContentType, Status};
use rocket::State;

use crate::app::App;
use crate::sessions::ClientInfo;

#[get("/metrics")]
pub fn scrape(app: &State<App>, client: ClientInfo) -> Result<(ContentType, String), Status> {
    let allowed = client
        .ip
        .as_deref()
        .and_then(|ip| ip.parse().ok())
        .is_some_and(|ip| app.settings.observability.may_read_metrics(ip));
    if !allowed {
        return Err(Status::NotFound);
    }
    let content_type =
        ContentType::parse_flexible(crate::metrics::CONTENT_TYPE).unwrap_or(ContentType::Plain);
    Ok((content_type, app.metrics.render()))
}
