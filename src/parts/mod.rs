//! Gatehouse's own parts, built exactly like the app's features (see
//! [`crate::feature::Feature`]): a folder each, with its routes, pages, settings and
//! hooks. Switching a part off removes its routes, pages and settings; its tables,
//! in Gatehouse's own migrations, stay.

pub mod admin;
pub mod passkeys;
pub mod two_factor;

use crate::feature::Feature;

/// Every part, in the order they are set up and their hooks are called.
pub fn all() -> Vec<&'static dyn Feature> {
    vec![&two_factor::TwoFactor, &passkeys::Passkeys, &admin::Admin]
}
