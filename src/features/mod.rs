//! Your app's own features, one folder each, built on Gatehouse's accounts and guards
//! exactly as Gatehouse builds its own parts. `notes` is the worked example: copy its
//! shape (see the README's "Build your app on Gatehouse"), then list the new feature
//! in [`all`]. That line, and its tests' line in `tests.rs` beside this file, are all
//! a feature adds outside its folder. `claims.rs` holds the claims your app adds to
//! access tokens.

pub mod claims;
pub mod notes;

use crate::feature::Feature;

/// Every feature of the app, in the order they are set up (and their migrations run).
pub fn all() -> Vec<&'static dyn Feature> {
    vec![&notes::Notes]
}
