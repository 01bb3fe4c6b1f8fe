//! The one error type of the JSON API. Each variant knows its HTTP status and its
//! snake_case code; every error body is `{"error": {"code", "message", "fields"?}}`.
//!
//! Guards and body parsers cannot return a body themselves: they `stash` their error
//! in the request and fail with its status, and the catchers of `/api` render it.

use std::sync::Mutex;

use rocket::http::{Header, Status};
use rocket::response::{self, Responder};
use rocket::serde::json::Json;
use rocket::Request;
use serde_json::json;

use crate::accounts::TakenField;
use crate::auth::{AuthError, FieldErrors};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The flows' errors, each with the status its meaning calls for.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// 400 `invalid_json`: the body is not JSON at all.
    #[error("the request body is not valid JSON: {0}")]
    InvalidJson(String),
    /// 422 `validation_failed`: JSON of the wrong shape (a missing or mistyped field).
    #[error("the request body does not have the expected fields: {message}")]
    BodyShape {
        message: String,
        fields: FieldErrors,
    },
    /// 413 `payload_too_large`.
    #[error("the request body is larger than the {limit} bytes allowed")]
    PayloadTooLarge { limit: u64 },
    /// 503 `database_unavailable`: readiness failed.
    #[error("the database is not answering")]
    DatabaseUnavailable,
    /// Any status reached without a stashed error (for instance an unknown route).
    #[error("{message}")]
    Status { status: Status, message: String },
}

impl ApiError {
    pub fn status(&self) -> Status {
        match self {
            ApiError::Auth(error) => match error {
                AuthError::InvalidCredentials
                | AuthError::MissingToken
                | AuthError::InvalidToken
                | AuthError::TokenExpired
                | AuthError::SessionRevoked
                | AuthError::TokenReused
                | AuthError::TwoFactorRequired
                | AuthError::InvalidOtp { .. } => Status::Unauthorized,
                AuthError::AccountInactive
                | AuthError::AccountBlocked
                | AuthError::RegistrationClosed
                | AuthError::Forbidden(_)
                | AuthError::CsrfFailed => Status::Forbidden,
                AuthError::AccountLocked { .. } => Status::Locked,
                AuthError::Conflict(_) => Status::Conflict,
                AuthError::Validation(_) => Status::UnprocessableEntity,
                AuthError::Taken(_) => Status::Conflict,
                AuthError::NotFound => Status::NotFound,
                AuthError::Internal(_) => Status::InternalServerError,
            },
            ApiError::InvalidJson(_) => Status::BadRequest,
            ApiError::BodyShape { .. } => Status::UnprocessableEntity,
            ApiError::PayloadTooLarge { .. } => Status::PayloadTooLarge,
            ApiError::DatabaseUnavailable => Status::ServiceUnavailable,
            ApiError::Status { status, .. } => *status,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Auth(error) => match error {
                AuthError::InvalidCredentials => "invalid_credentials",
                AuthError::AccountInactive => "account_inactive",
                AuthError::AccountBlocked => "account_blocked",
                AuthError::AccountLocked { .. } => "account_locked",
                AuthError::Forbidden(_) => "forbidden",
                AuthError::CsrfFailed => "csrf_failed",
                AuthError::Conflict(_) => "conflict",
                AuthError::RegistrationClosed => "registration_closed",
                AuthError::Validation(_) => "validation_failed",
                AuthError::Taken(_) => "conflict",
                AuthError::MissingToken => "missing_token",
                AuthError::InvalidToken => "invalid_token",
                AuthError::TokenExpired => "token_expired",
                AuthError::SessionRevoked => "session_revoked",
                AuthError::TokenReused => "token_reused",
                AuthError::NotFound => "not_found",
                AuthError::TwoFactorRequired => "two_factor_required",
                AuthError::InvalidOtp { .. } => "invalid_otp",
                AuthError::Internal(_) => "internal_error",
            },
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::BodyShape { .. } => "validation_failed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::DatabaseUnavailable => "database_unavailable",
            ApiError::Status { status, .. } => status_code(*status),
        }
    }

    /// The text shown to clients; internal details stay in the log.
    fn public_message(&self) -> String {
        match self {
            ApiError::Auth(AuthError::Internal(_)) => "an internal error occurred".into(),
            other => other.to_string(),
        }
    }

    fn fields(&self) -> Option<FieldErrors> {
        match self {
            ApiError::Auth(AuthError::Validation(fields)) | ApiError::BodyShape { fields, .. } => {
                Some(fields.clone())
            }
            ApiError::Auth(AuthError::Taken(field)) => {
                let name = match field {
                    TakenField::Username => "username",
                    TakenField::Email => "email",
                };
                Some(FieldErrors::from([(
                    name.to_string(),
                    "is already taken".to_string(),
                )]))
            }
            _ => None,
        }
    }

    /// The error for a status reached without a more precise one.
    pub fn from_status(status: Status) -> ApiError {
        let message = match status.code {
            404 => "no such resource".to_string(),
            500 => "an internal error occurred".to_string(),
            _ => status.reason_lossy().to_lowercase(),
        };
        ApiError::Status { status, message }
    }
}

/// The code for a bare status: the ones the API documents, else the reason phrase.
fn status_code(status: Status) -> &'static str {
    match status.code {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "validation_failed",
        429 => "too_many_requests",
        503 => "service_unavailable",
        500..=599 => "internal_error",
        _ => "request_failed",
    }
}

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let status = self.status();
        if status.code >= 500 {
            log::error!("{} {}: {self}", request.method(), request.uri().path());
        }
        let mut error = json!({ "code": self.code(), "message": self.public_message() });
        if let Some(fields) = self.fields() {
            error["fields"] = json!(fields);
        }
        let retry_after = match &self {
            ApiError::Auth(AuthError::AccountLocked { retry_after }) => *retry_after,
            _ => None,
        };
        if let Some(seconds) = retry_after {
            error["retry_after"] = json!(seconds);
        }
        if let ApiError::Auth(AuthError::InvalidOtp {
            attempts_left: Some(left),
        }) = &self
        {
            error["attempts_left"] = json!(left);
        }
        let mut response =
            response::Response::build_from(Json(json!({ "error": error })).respond_to(request)?);
        response.status(status);
        if status == Status::Unauthorized {
            response.header(Header::new("WWW-Authenticate", "Bearer"));
        }
        if let Some(seconds) = retry_after {
            response.header(Header::new("Retry-After", seconds.to_string()));
        }
        Ok(response.finalize())
    }
}

/// The error a failing guard or body parser leaves for the catcher.
#[derive(Default)]
struct Stash(Mutex<Option<ApiError>>);

/// Records `error` for the catcher of this request; returns its status.
pub fn stash(request: &Request<'_>, error: ApiError) -> Status {
    let status = error.status();
    let slot = request.local_cache(Stash::default);
    *slot
        .0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(error);
    status
}

/// Takes the stashed error if it matches `status`, else a generic one for it.
pub fn take_stashed(request: &Request<'_>, status: Status) -> ApiError {
    let slot = request.local_cache(Stash::default);
    let stashed = slot
        .0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take();
    match stashed {
        Some(error) if error.status() == status => error,
        _ => ApiError::from_status(status),
    }
}
