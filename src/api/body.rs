//! JSON request bodies. Unlike Rocket's `Json`, these guards give the API's own error
//! codes (400 `invalid_json`, 422 `validation_failed` naming the missing field, 413
//! `payload_too_large`, 415 `unsupported_media_type` for a body not declared as
//! `application/json`), and `OptionalJson` takes an empty body with no Content-Type.

use rocket::data::{self, Data, FromData, ToByteUnit};
use rocket::outcome::Outcome;
use rocket::Request;
use serde::de::DeserializeOwned;

use crate::error::{AppError, FieldErrors};
use crate::guards::stash;

/// A required JSON body, at most `LIMIT` bytes (0: the configured `json` limit). A
/// route whose valid bodies are larger (a long note) names its own limit.
pub struct JsonBody<T, const LIMIT: u64 = 0>(pub T);

/// A JSON body that may be absent (no bytes at all, or only white space).
pub struct OptionalJson<T>(pub Option<T>);

#[rocket::async_trait]
impl<'r, T: DeserializeOwned + Send, const LIMIT: u64> FromData<'r> for JsonBody<T, LIMIT> {
    type Error = ();

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        match read_json(request, data, LIMIT).await {
            Ok(Some(value)) => Outcome::Success(JsonBody(value)),
            Ok(None) => fail(
                request,
                AppError::InvalidJson("a JSON body is required".into()),
            ),
            Err(error) => fail(request, error),
        }
    }
}

#[rocket::async_trait]
impl<'r, T: DeserializeOwned + Send> FromData<'r> for OptionalJson<T> {
    type Error = ();

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        match read_json(request, data, 0).await {
            Ok(value) => Outcome::Success(OptionalJson(value)),
            Err(error) => fail(request, error),
        }
    }
}

fn fail<'r, T>(request: &'r Request<'_>, error: AppError) -> data::Outcome<'r, T, ()> {
    Outcome::Error((stash(request, error), ()))
}

async fn read_json<T: DeserializeOwned>(
    request: &Request<'_>,
    data: Data<'_>,
    route_limit: u64,
) -> Result<Option<T>, AppError> {
    // A body must say it is JSON. A cross-site HTML form can post text/plain that
    // happens to parse as JSON (login CSRF); it cannot send application/json without
    // the browser asking this server first (a CORS preflight it will not get).
    let declared_json = request.content_type().is_some_and(|ct| ct.is_json());
    let limit = match route_limit {
        0 => request.limits().get("json").unwrap_or(16.kibibytes()),
        bytes => bytes.bytes(),
    };
    let text = data
        .open(limit)
        .into_string()
        .await
        .map_err(|e| AppError::InvalidJson(e.to_string()))?;
    if !text.is_complete() {
        return Err(AppError::PayloadTooLarge {
            limit: limit.as_u64(),
        });
    }
    if text.trim().is_empty() {
        return Ok(None);
    }
    if !declared_json {
        return Err(AppError::UnsupportedMediaType);
    }
    serde_json::from_str(&text).map(Some).map_err(|error| {
        let message = error.to_string();
        match error.classify() {
            serde_json::error::Category::Data => AppError::BodyShape {
                fields: missing_field(&message),
                message,
            },
            _ => AppError::InvalidJson(message),
        }
    })
}

/// serde names a missing field as "missing field `x`"; that becomes `{x: "is required"}`.
fn missing_field(message: &str) -> FieldErrors {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(field, _)| FieldErrors::from([(field.to_string(), "is required".to_string())]))
        .unwrap_or_default()
}
