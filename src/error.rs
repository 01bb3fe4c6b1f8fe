//! The application's one error type. Flows return it, handlers pass it on with `?`,
//! and [`AppError::describe`] is the single table that gives each variant its HTTP
//! status, its JSON `code` and the sentence a person reads, on a page or in the CLI.
//!
//! A feature adds errors of its own without editing this file: it implements
//! [`FeatureError`] (status, code, sentence) and converts into `AppError` with `?`.

use std::collections::BTreeMap;

use rocket::http::Status;

use crate::accounts::TakenField;

/// Field name → what is wrong with it.
pub type FieldErrors = BTreeMap<String, String>;

/// The cause of an internal error, kept for the log (never shown to clients).
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error a feature defines for itself. Its `Display` is the API's `message`.
pub trait FeatureError: std::error::Error + Send + Sync + 'static {
    fn status(&self) -> Status;
    /// The snake_case `code` of the JSON error body.
    fn code(&self) -> &'static str;
    /// What a person reads on a page or in the CLI.
    fn sentence(&self) -> String {
        sentence_of(&self.to_string())
    }
    /// Errors to show next to form fields, if any.
    fn fields(&self) -> Option<FieldErrors> {
        None
    }
}

impl<E: FeatureError> From<E> for AppError {
    fn from(error: E) -> AppError {
        AppError::Feature(Box::new(error))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid login or password")]
    InvalidCredentials,
    #[error("this account is inactive")]
    AccountInactive,
    /// `email_verification_required` and the address is not verified yet.
    #[error("verify your email address first: follow the link sent to it")]
    EmailUnverified,
    /// A route behind `Fresh` wants a proof newer than `max_age` seconds (RFC 9470).
    #[error("confirm your password (or a code) to continue")]
    ReauthenticationRequired { max_age: i64 },
    #[error("this account has been blocked by an administrator")]
    AccountBlocked,
    /// Too many wrong passwords; `retry_after` is `None` when only an admin can unlock.
    #[error("this account is locked after too many failed logins")]
    AccountLocked { retry_after: Option<i64> },
    /// Signed in, but not allowed to do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The request contradicts the resource's current state.
    #[error("{0}")]
    Conflict(&'static str),
    #[error("registration is closed")]
    RegistrationClosed,
    #[error("some fields are invalid")]
    Validation(FieldErrors),
    #[error("this {} is already taken", .0.name())]
    Taken(TakenField),
    #[error("no access token was presented")]
    MissingToken,
    #[error("the token is malformed, forged, of the wrong kind, or not for this service")]
    InvalidToken,
    #[error("the token has expired")]
    TokenExpired,
    #[error("the session has been revoked or has ended")]
    SessionRevoked,
    #[error("this refresh token was already used; the session has been revoked")]
    TokenReused,
    #[error("not found")]
    NotFound,
    /// A pending session's token used where a complete session is needed.
    #[error("this session waits for its second factor: POST /api/auth/2fa/verify")]
    TwoFactorRequired,
    /// The account's TOTP secret does not open under the current `two_factor_key` (the
    /// key changed since enrolment), so no code of its can be checked.
    #[error("your second factor cannot be checked; ask an administrator to reset it")]
    TwoFactorUnavailable,
    /// A wrong one-time or recovery code; `attempts_left` on a pending login.
    #[error("the code is wrong, expired or already used")]
    InvalidOtp { attempts_left: Option<i64> },
    /// A cookie-authenticated unsafe request without the matching CSRF token.
    #[error(
        "the CSRF token is missing or does not match; send the csrf_token of the login answer (or of GET /api/auth/csrf) in X-CSRF-Token"
    )]
    CsrfFailed,
    /// A WebSocket opened with the sign-in cookie from a page of another origin.
    #[error("a cookie-authenticated WebSocket must come from the app's own origin")]
    OriginRefused,
    /// The body is not JSON at all.
    #[error("the request body is not valid JSON: {0}")]
    InvalidJson(String),
    /// JSON of the wrong shape (a missing or mistyped field).
    #[error("the request body does not have the expected fields: {message}")]
    BodyShape {
        message: String,
        fields: FieldErrors,
    },
    #[error("the request body is larger than the {limit} bytes allowed")]
    PayloadTooLarge { limit: u64 },
    #[error("send the body with Content-Type: application/json")]
    UnsupportedMediaType,
    /// Too many password checks are queued: come back in `retry_after` seconds.
    #[error("the server is busy checking passwords")]
    ServerBusy { retry_after: i64 },
    /// Too many requests from this client or for this login.
    #[error("too many requests")]
    RateLimited { retry_after: i64 },
    /// A mail link's token that is unknown, spent, expired or for another purpose.
    #[error("this link is no longer valid")]
    InvalidLink,
    /// Readiness failed.
    #[error("the database is not answering")]
    DatabaseUnavailable,
    /// Readiness: the database lacks migrations this binary needs (`gatehouse migrate`).
    #[error("the database schema is behind this version: run `migrate`")]
    SchemaBehind,
    /// A status reached without a more precise error (an unknown route, say).
    #[error("{message}")]
    Bare { status: Status, message: String },
    /// An error of a feature, which describes itself.
    #[error("{0}")]
    Feature(Box<dyn FeatureError>),
    /// A database failure: ours, not the client's.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Any other failure of ours, with what was being done and why it failed.
    #[error("{context}: {cause}")]
    Internal {
        context: &'static str,
        #[source]
        cause: Cause,
    },
}

/// What an error means to each boundary.
pub struct Description {
    pub status: Status,
    /// The JSON `code`.
    pub code: &'static str,
    /// What a person reads.
    pub sentence: String,
}

impl AppError {
    /// An internal error with its cause.
    pub fn internal(context: &'static str, cause: impl Into<Cause>) -> AppError {
        AppError::Internal {
            context,
            cause: cause.into(),
        }
    }

    /// What a database error means when the service is unavailable for now rather
    /// than broken: the database is out of reach, or the schema lacks a migration.
    fn as_unavailable(&self) -> Option<AppError> {
        match self {
            AppError::Database(error) if crate::db::unreachable(error) => {
                Some(AppError::DatabaseUnavailable)
            }
            AppError::Database(error) if crate::db::schema_missing(error) => {
                Some(AppError::SchemaBehind)
            }
            _ => None,
        }
    }

    /// An error on one field (422 `validation_failed`).
    pub fn field(field: &str, message: impl Into<String>) -> AppError {
        AppError::Validation(FieldErrors::from([(field.to_string(), message.into())]))
    }

    /// The one table: status, code and sentence of every variant.
    pub fn describe(&self) -> Description {
        use AppError::*;
        if let Some(plain) = self.as_unavailable() {
            return plain.describe();
        }
        let (status, code, sentence) = match self {
            InvalidCredentials => (
                Status::Unauthorized,
                "invalid_credentials",
                "Wrong username, email or password.".to_string(),
            ),
            AccountInactive => (
                Status::Forbidden,
                "account_inactive",
                "This account is inactive.".into(),
            ),
            ReauthenticationRequired { .. } => (
                Status::Unauthorized,
                "reauthentication_required",
                "Please confirm your password to continue.".into(),
            ),
            EmailUnverified => (
                Status::Forbidden,
                "email_unverified",
                "Please confirm your email address first: follow the link we sent you.".into(),
            ),
            AccountBlocked => (
                Status::Forbidden,
                "account_blocked",
                "This account has been blocked by an administrator.".into(),
            ),
            AccountLocked { retry_after } => (
                Status::Locked,
                "account_locked",
                match retry_after {
                    Some(seconds) => {
                        let minutes = (seconds + 59) / 60;
                        format!(
                            "Too many failed attempts: this account is locked for {minutes} more minute{}.",
                            plural(minutes)
                        )
                    }
                    None => "Too many failed attempts: this account is locked until an administrator unlocks it.".into(),
                },
            ),
            Forbidden(reason) => (Status::Forbidden, "forbidden", sentence_of(reason)),
            Conflict(reason) => (Status::Conflict, "conflict", sentence_of(reason)),
            RegistrationClosed => (
                Status::Forbidden,
                "registration_closed",
                "Registration is closed.".into(),
            ),
            Validation(_) => (
                Status::UnprocessableEntity,
                "validation_failed",
                "Some fields need another look.".into(),
            ),
            Taken(field) => (
                Status::Conflict,
                "conflict",
                format!("That {} is already taken.", field.name()),
            ),
            MissingToken | InvalidToken | TokenExpired => (
                Status::Unauthorized,
                match self {
                    MissingToken => "missing_token",
                    InvalidToken => "invalid_token",
                    _ => "token_expired",
                },
                "Please log in.".into(),
            ),
            SessionRevoked | TokenReused => (
                Status::Unauthorized,
                if matches!(self, SessionRevoked) {
                    "session_revoked"
                } else {
                    "token_reused"
                },
                "Your session has ended. Please log in again.".into(),
            ),
            NotFound => (
                Status::NotFound,
                "not_found",
                "There is no such thing here; it may have been deleted.".into(),
            ),
            TwoFactorRequired => (
                Status::Unauthorized,
                "two_factor_required",
                "Enter your two-factor code first.".into(),
            ),
            TwoFactorUnavailable => (
                Status::Conflict,
                "two_factor_unavailable",
                "Your second factor cannot be checked. Ask an administrator to reset it.".into(),
            ),
            InvalidOtp { attempts_left } => (
                Status::Unauthorized,
                "invalid_otp",
                match attempts_left {
                    Some(left) => format!("Wrong code. {left} attempt{} left.", plural(*left)),
                    None => "Wrong code.".into(),
                },
            ),
            CsrfFailed => (
                Status::Forbidden,
                "csrf_failed",
                "This form has expired. Reload the page and try again.".into(),
            ),
            OriginRefused => (
                Status::Forbidden,
                "origin_refused",
                "Connections signed in by cookie are accepted only from this app's own pages."
                    .into(),
            ),
            InvalidJson(_) => (
                Status::BadRequest,
                "invalid_json",
                sentence_of(&self.to_string()),
            ),
            BodyShape { .. } => (
                Status::UnprocessableEntity,
                "validation_failed",
                sentence_of(&self.to_string()),
            ),
            PayloadTooLarge { .. } => (
                Status::PayloadTooLarge,
                "payload_too_large",
                sentence_of(&self.to_string()),
            ),
            UnsupportedMediaType => (
                Status::UnsupportedMediaType,
                "unsupported_media_type",
                sentence_of(&self.to_string()),
            ),
            ServerBusy { .. } => (
                Status::ServiceUnavailable,
                "server_busy",
                "The server is busy. Please try again in a moment.".into(),
            ),
            RateLimited { retry_after } => (
                Status::TooManyRequests,
                "rate_limited",
                format!(
                    "Too many attempts. Please wait {retry_after} second{} and try again.",
                    plural(*retry_after)
                ),
            ),
            InvalidLink => (
                Status::BadRequest,
                "invalid_link",
                "This link is no longer valid. Ask for a new one.".into(),
            ),
            DatabaseUnavailable => (
                Status::ServiceUnavailable,
                "database_unavailable",
                "The database is not answering. Please try again in a moment.".into(),
            ),
            SchemaBehind => (
                Status::ServiceUnavailable,
                "schema_behind",
                "This service is being upgraded. Please try again in a moment.".into(),
            ),
            Bare { status, message } => (*status, status_code(*status), sentence_of(message)),
            Feature(error) => (error.status(), error.code(), error.sentence()),
            // A row this one refers to was deleted meanwhile (an account while it
            // logged in, blocked or wrote a note): a race the client lost, not a fault.
            Database(error) if crate::db::vanished_reference(error) => (
                Status::Conflict,
                "conflict",
                "Something this depends on was just deleted or changed. Please try again."
                    .into(),
            ),
            Database(_) | Internal { .. } => (
                rocket::http::Status::InternalServerError,
                "internal_error",
                "Something went wrong on our side. Please try again.".into(),
            ),
        };
        Description {
            status,
            code,
            sentence,
        }
    }

    pub fn status(&self) -> Status {
        self.describe().status
    }

    pub fn code(&self) -> &'static str {
        self.describe().code
    }

    /// What a person reads on a page or in the CLI.
    pub fn sentence(&self) -> String {
        self.describe().sentence
    }

    /// True for our own failures (5xx), whose details stay in the log.
    pub fn is_internal(&self) -> bool {
        self.status().code >= 500
    }

    /// The message of the API's error body: internal details never leave the server.
    pub fn public_message(&self) -> String {
        if let Some(plain) = self.as_unavailable() {
            return plain.to_string();
        }
        match self {
            AppError::Database(error) if crate::db::vanished_reference(error) => {
                "something this request depends on was just deleted or changed; try again".into()
            }
            AppError::Database(_) | AppError::Internal { .. } => {
                "an internal error occurred".into()
            }
            _ => self.to_string(),
        }
    }

    /// Errors to show next to fields, if any.
    pub fn fields(&self) -> Option<FieldErrors> {
        match self {
            AppError::Validation(fields) | AppError::BodyShape { fields, .. } => {
                Some(fields.clone())
            }
            AppError::Taken(field) => Some(FieldErrors::from([(
                field.name().to_string(),
                "is already taken".to_string(),
            )])),
            AppError::Feature(error) => error.fields(),
            _ => None,
        }
    }

    /// The error for a status reached without a more precise one.
    pub fn from_status(status: Status) -> AppError {
        let message = match status.code {
            404 => "no such resource".to_string(),
            500 => "an internal error occurred".to_string(),
            _ => status.reason_lossy().to_lowercase(),
        };
        AppError::Bare { status, message }
    }

    /// The error with its whole chain of causes, for logs and the operator's CLI.
    pub fn with_causes(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        text
    }
}

impl From<crate::password::HashError> for AppError {
    fn from(error: crate::password::HashError) -> AppError {
        match error {
            crate::password::HashError::Busy => AppError::ServerBusy { retry_after: 1 },
            error => AppError::internal("password hashing", error),
        }
    }
}

impl From<crate::tokens::TokenError> for AppError {
    fn from(error: crate::tokens::TokenError) -> AppError {
        match error {
            crate::tokens::TokenError::Invalid => AppError::InvalidToken,
            crate::tokens::TokenError::Expired => AppError::TokenExpired,
        }
    }
}

fn plural(n: i64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A message as a sentence: capital first letter, full stop.
pub fn sentence_of(message: &str) -> String {
    let mut chars = message.trim().chars();
    let mut text = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
        None => return String::new(),
    };
    if !text.ends_with(['.', '!', '?']) {
        text.push('.');
    }
    text
}

/// The code for a bare status: the ones the API documents, else a generic one.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_start_with_a_capital_and_end_with_a_stop() {
        assert_eq!(
            sentence_of("the account is not blocked"),
            "The account is not blocked."
        );
        assert_eq!(sentence_of("Done."), "Done.");
        assert_eq!(sentence_of(""), "");
    }

    #[test]
    fn internal_errors_keep_their_cause_but_never_show_it() {
        let error = AppError::internal("sealing", std::io::Error::other("disk on fire"));
        assert!(error.is_internal());
        assert_eq!(error.public_message(), "an internal error occurred");
        assert!(error.with_causes().contains("disk on fire"));
        assert!(std::error::Error::source(&error).is_some());
    }

    #[derive(Debug, thiserror::Error)]
    #[error("the shelf is full")]
    struct ShelfFull;

    impl FeatureError for ShelfFull {
        fn status(&self) -> Status {
            Status::Conflict
        }
        fn code(&self) -> &'static str {
            "shelf_full"
        }
    }

    #[test]
    fn a_feature_error_describes_itself() {
        let error: AppError = ShelfFull.into();
        let description = error.describe();
        assert_eq!(description.status, Status::Conflict);
        assert_eq!(description.code, "shelf_full");
        assert_eq!(description.sentence, "The shelf is full.");
    }
}
