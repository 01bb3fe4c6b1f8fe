//! How the API answers an [`AppError`]: `{"error": {"code", "message", "fields"?}}`
//! with the status of the error table, plus `retry_after` (and `Retry-After`) on a
//! lock and `attempts_left` on a wrong second-factor code.

use std::collections::BTreeMap;
use std::sync::Arc;

use rocket::http::{Header, Status};
use rocket::response::{self, Responder};
use rocket::serde::json::Json;
use rocket::Request;
use serde_json::json;
use utoipa::openapi::{ContentBuilder, RefOr, Response, ResponseBuilder};
use utoipa::ToSchema;

use crate::error::AppError;

impl<'r> Responder<'r, 'static> for AppError {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        json_answer(&self, request)
    }
}

/// A stashed error (see [`crate::guards::stash`]), shared with the request's cache.
pub struct Stashed(pub Arc<AppError>);

impl<'r> Responder<'r, 'static> for Stashed {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        json_answer(&self.0, request)
    }
}

fn json_answer(error: &AppError, request: &Request<'_>) -> response::Result<'static> {
    let description = error.describe();
    let status = description.status;
    if status.code >= 500 {
        log::error!(
            "{} {} (request {}): {}",
            request.method(),
            request
                .route()
                .map_or("(unmatched)".into(), |r| r.uri.path().to_string()),
            crate::web::requests::request_id(request),
            error.with_causes()
        );
    }
    let mut body = json!({ "code": description.code, "message": error.public_message() });
    if let Some(fields) = error.fields() {
        body["fields"] = json!(fields);
    }
    let retry_after = match error {
        AppError::AccountLocked { retry_after } => *retry_after,
        AppError::ServerBusy { retry_after } | AppError::RateLimited { retry_after } => {
            Some(*retry_after)
        }
        _ => None,
    };
    if let Some(seconds) = retry_after {
        body["retry_after"] = json!(seconds);
    }
    if let AppError::InvalidOtp {
        attempts_left: Some(left),
    } = error
    {
        body["attempts_left"] = json!(left);
    }
    let mut response =
        response::Response::build_from(Json(json!({ "error": body })).respond_to(request)?);
    response.status(status);
    match error {
        // RFC 9470: the token is fine, its proof of the user is too old.
        AppError::ReauthenticationRequired { max_age } => {
            response.header(Header::new(
                "WWW-Authenticate",
                format!("Bearer error=\"insufficient_user_authentication\", max_age={max_age}"),
            ));
        }
        _ if status == Status::Unauthorized => {
            response.header(Header::new("WWW-Authenticate", "Bearer"));
        }
        _ => {}
    }
    if let Some(seconds) = retry_after {
        response.header(Header::new("Retry-After", seconds.to_string()));
    }
    Ok(response.finalize())
}

/// Every error answer: `{"error": {code, message, fields?, retry_after?, attempts_left?}}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// The stable code (`invalid_token`, `validation_failed`, …); see the book's JSON API chapter (docs/src/api.md).
    code: String,
    /// A sentence for people.
    message: String,
    /// Per field, what is wrong (`validation_failed`, `conflict`).
    fields: Option<BTreeMap<String, String>>,
    /// Seconds to wait (`account_locked`, `rate_limited`, `server_busy`).
    retry_after: Option<i64>,
    /// Codes left before a pending login ends (`invalid_otp`).
    attempts_left: Option<i64>,
}

/// An error answer with the shared body.
pub fn error_answer(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    "ErrorBody",
                ))))
                .build(),
        )
        .build()
}
