//! The JSON API under `/api`: one file per resource, one error type, and catchers that
//! keep every answer under `/api` JSON, errors included.

pub mod account;
pub mod auth;
pub mod body;
pub mod cors;
pub mod docs;
pub mod email;
pub mod error;
pub mod health;
pub mod introspection;
pub mod jwks;
pub mod metrics;
pub mod second_step;
pub mod sessions;
pub mod ws;

use rocket::fairing::AdHoc;
use rocket::http::Status;
use rocket::Request;

use crate::guards::take_stashed;
use error::Stashed;

/// Mounts the API's routes and catchers; the email routes only when mail is on,
/// `/metrics` only when `metrics` is, the document and its viewer when given one. The
/// parts mount their own (two-factor, admin).
pub fn stage(mail: bool, metrics: bool, document: Option<utoipa::openapi::OpenApi>) -> AdHoc {
    AdHoc::on_ignite("JSON API", move |rocket| async move {
        let rocket = if metrics {
            rocket.mount("/", routes![metrics::scrape])
        } else {
            rocket
        };
        let rocket = match document {
            Some(document) => rocket.mount("/", docs::routes(document)),
            None => rocket,
        };
        let rocket = if mail {
            rocket.mount("/api/auth", email::routes())
        } else {
            rocket
        };
        rocket
            .mount("/api", routes![health::live, health::ready, ws::socket])
            .mount("/.well-known", routes![jwks::jwks])
            .mount(
                "/api/auth",
                routes![
                    auth::register,
                    auth::login,
                    auth::refresh,
                    auth::logout,
                    account::me,
                    account::export,
                    account::update_me,
                    account::change_password,
                    auth::reauthenticate,
                    introspection::introspect,
                    auth::csrf,
                    sessions::list,
                    sessions::revoke_one,
                    sessions::revoke_others,
                ],
            )
            .register("/api", catchers![json_error])
    })
}

/// Every error status under `/api` answers in the API's JSON shape, with the precise
/// error a guard or body parser stashed when there is one.
#[catch(default)]
fn json_error(status: Status, request: &Request<'_>) -> Stashed {
    Stashed(take_stashed(request, status))
}
