//! Your app's own features, one folder each, built on Gatehouse's accounts and guards
//! exactly as Gatehouse builds its own parts. `cargo xtask new-feature <name> …` writes
//! one in the shape of `notes`, the worked example, and registers it here and in
//! `tests.rs` at the marker comments (keep them). Its module and its place in [`all`],
//! and its tests' line in `tests.rs`, are all a feature adds outside its folder.
//! Gatehouse's own parts are listed the same way in `src/parts/mod.rs`.

pub mod notes;
// new-feature: modules

use crate::feature::Feature;

/// Every feature of the app, in the order they are set up (and their migrations run).
pub fn all() -> Vec<&'static dyn Feature> {
    vec![
        &notes::Notes,
        // new-feature: list
    ]
}
