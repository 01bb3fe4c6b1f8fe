//! What a form's POST tells the page it redirects to (POST/redirect/GET): a message,
//! the errors next to their fields and the values to put back (never passwords),
//! carried in Rocket's flash cookie for exactly one page view.

use std::collections::BTreeMap;

use rocket::request::FlashMessage;
use rocket::response::{Flash, Redirect};
use serde::{Deserialize, Serialize};

use crate::auth::FieldErrors;

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

    pub fn with_fields(mut self, fields: FieldErrors) -> Feedback {
        self.fields = fields;
        self
    }

    pub fn keep(mut self, name: &str, value: &str) -> Feedback {
        self.values.insert(name.to_string(), value.to_string());
        self
    }

    /// A redirect to `to` carrying this feedback.
    pub fn redirect(self, to: impl Into<String>) -> Flash<Redirect> {
        let text = serde_json::to_string(&self).unwrap_or_default();
        Flash::new(Redirect::to(to.into()), self.kind, text)
    }

    /// The feedback of the previous POST, if any.
    pub fn from_flash(flash: Option<FlashMessage<'_>>) -> Option<Feedback> {
        let flash = flash?;
        serde_json::from_str(flash.message())
            .ok()
            .or_else(|| Some(Feedback::error(flash.message().to_string())))
    }

    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }

    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }
}
