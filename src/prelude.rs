//! The one import a feature needs: `use crate::prelude::*;` (in your tests,
//! `use gatehouse::prelude::*;`). It names the guards for routes and pages, the app
//! state, the error type and a feature's own errors, paging, the page helpers, the
//! seam (`Feature`, `Setup`, the hooks' types and the registry), the field rules and
//! the table-row macro, the per-route Content-Security-Policy, and the Rocket, serde
//! and askama items every feature uses.

pub use crate::accounts::AccountRow;
pub use crate::api::body::JsonBody;
pub use crate::api::error::ErrorBody;
pub use crate::app::App;
pub use crate::clock::utc_minute;
pub use crate::config::ConfigError;
pub use crate::db::Backend;
pub use crate::error::{AppError, FeatureError, FieldErrors};
pub use crate::feature::hooks::{SectionContext, Slot, TokenSubject};
pub use crate::feature::{Feature, Setup};
pub use crate::fields;
pub use crate::guards::{AuthAccount, AuthSession, Fresh, StaffAccount, SuperuserAccount};
pub use crate::paging::{Listing, Paging};
pub use crate::registry::Registry;
pub use crate::table_row;
pub use crate::text::TextRule;
pub use crate::web::feedback::Feedback;
pub use crate::web::headers::{with_policy, WithPolicy};
pub use crate::web::visitor::{CsrfForm, FreshPage, NavLink, SignedIn, StaffPage};
pub use crate::web::{CsrfOnly, Layout, Page};

pub use askama::Template;
pub use rocket::fairing::AdHoc;
pub use rocket::form::FromForm;
pub use rocket::http::Status;
pub use rocket::serde::json::Json;
pub use rocket::{delete, get, patch, post, routes, Route, State};
pub use serde::{Deserialize, Serialize};
pub use serde_json::Value;
pub use sqlx::migrate::Migrator;
pub use sqlx::AnyPool;
