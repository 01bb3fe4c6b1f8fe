//! The features' integration tests. Not part of the library: `tests/api/main.rs`
//! compiles this file into the integration suite, so each feature's `tests.rs` uses
//! the same harness (`crate::support`) as Gatehouse's own tests, on SQLite and on
//! PostgreSQL. A new feature adds its line here.

#[path = "notes/tests.rs"]
mod notes;
// new-feature: tests
