//! What a form's POST tells the page it redirects to (POST/redirect/GET): a message,
//! the errors next to their fields and the values to put back (never passwords),
//! carried for exactly one page view in a cookie of our own: HttpOnly, SameSite, and
//! in release Secure with the `__Host-` prefix, like the session cookies (Rocket's
//! flash cookie has neither).

use std::collections::BTreeMap;

use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::response::{self, Redirect, Responder};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::cookies;
use crate::error::{AppError, FieldErrors};

/// The longest value a form's feedback puts back in its field.
pub const MAX_KEPT_BYTES: usize = 512;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Feedback {
    /// "success" or "error".
    pub kind: String,
    pub message: String,
    #[serde(default)]
    pub fields: FieldErrors,
    #[serde(default)]
    pub values: BTreeMap<String, String>,
}

impl Feedback {
    pub fn error(message: impl Into<String>) -> Feedback {
        Feedback {
            kind: "error".into(),
            message: message.into(),
            ..Feedback::default()
        }
    }

    pub fn success(message: impl Into<String>) -> Feedback {
        Feedback {
            kind: "success".into(),
            message: message.into(),
            ..Feedback::default()
        }
    }

    /// An error's sentence, with its field errors when it has some.
    pub fn of(error: &AppError) -> Feedback {
        Feedback::error(error.sentence()).with_fields(error.fields().unwrap_or_default())
    }

    pub fn with_fields(mut self, fields: FieldErrors) -> Feedback {
        self.fields = fields;
        self
    }

    /// Keeps a value to put back in its field, unless it is longer than
    /// [`MAX_KEPT_BYTES`]: the feedback travels in a cookie, and browsers drop a
    /// cookie over 4 KB (message and all) without a word.
    pub fn keep(mut self, name: &str, value: &str) -> Feedback {
        if value.len() <= MAX_KEPT_BYTES {
            self.values.insert(name.to_string(), value.to_string());
        }
        self
    }

    /// A redirect to `to` carrying this feedback.
    pub fn redirect(self, to: impl Into<String>) -> FeedbackRedirect {
        FeedbackRedirect {
            to: to.into(),
            feedback: self,
        }
    }

    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }

    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }
}

/// A redirect that leaves its feedback for the next page.
pub struct FeedbackRedirect {
    to: String,
    feedback: Feedback,
}

impl<'r> Responder<'r, 'static> for FeedbackRedirect {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        if let (Some(app), Ok(text)) = (
            request.rocket().state::<App>(),
            serde_json::to_string(&self.feedback),
        ) {
            cookies::set_feedback(request.cookies(), &app.settings, text);
        }
        Redirect::to(self.to).respond_to(request)
    }
}

/// The feedback the previous POST left, taken (so it shows once).
pub struct Incoming(pub Option<Feedback>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Incoming {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let feedback = request.rocket().state::<App>().and_then(|app| {
            let text = cookies::take_feedback(request.cookies(), &app.settings)?;
            serde_json::from_str(&text).ok()
        });
        Outcome::Success(Incoming(feedback))
    }
}
