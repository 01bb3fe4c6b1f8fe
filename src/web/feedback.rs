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

/// The most a feedback cookie's value may take, percent-encoded as it is sent: browsers
/// drop a whole cookie over 4 KB without a word, and the message with it.
const MAX_COOKIE_VALUE_BYTES: usize = 3_800;

impl Feedback {
    /// The cookie's text, made to fit: the kept values go first (the longest first),
    /// then the field errors, so the message always arrives.
    fn fitted_text(mut self) -> Option<String> {
        loop {
            let text = serde_json::to_string(&self).ok()?;
            let sent = rocket::http::Cookie::new("f", text.as_str())
                .encoded()
                .to_string()
                .len();
            if sent <= MAX_COOKIE_VALUE_BYTES {
                return Some(text);
            }
            let longest = |map: &BTreeMap<String, String>| {
                map.iter()
                    .max_by_key(|(_, value)| value.len())
                    .map(|(key, _)| key.clone())
            };
            if let Some(key) = longest(&self.values) {
                self.values.remove(&key);
            } else if let Some(key) = longest(&self.fields) {
                self.fields.remove(&key);
            } else {
                return Some(text);
            }
        }
    }
}

impl<'r> Responder<'r, 'static> for FeedbackRedirect {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        if let (Some(app), Some(text)) =
            (request.rocket().state::<App>(), self.feedback.fitted_text())
        {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_fits_a_cookie_and_keeps_its_message() {
        let mut feedback = Feedback::error("Some fields need another look.");
        for field in ["a", "b", "c", "d", "e", "f", "g", "h"] {
            feedback = feedback.keep(field, &"\u{429}".repeat(250));
            feedback.fields.insert(field.into(), "must be fine".into());
        }
        let text = feedback.fitted_text().unwrap();
        let sent = rocket::http::Cookie::new("f", text.as_str())
            .encoded()
            .to_string();
        assert!(sent.len() <= MAX_COOKIE_VALUE_BYTES, "{}", sent.len());
        let back: Feedback = serde_json::from_str(&text).unwrap();
        assert_eq!(back.message, "Some fields need another look.");
        assert_eq!(back.fields.len(), 8, "the errors stay; values went first");
        assert!(back.values.len() < 8);
        // A small one is untouched.
        let small = Feedback::error("x").keep("a", "b").fitted_text().unwrap();
        assert!(small.contains("\"a\":\"b\""));
    }
}
