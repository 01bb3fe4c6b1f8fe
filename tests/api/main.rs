//! The integration suite: every endpoint through Rocket's local client, each test on
//! its own database. `cargo test` runs it on SQLite; with TEST_DATABASE_URL set to a
//! PostgreSQL server it runs on a fresh PostgreSQL database per test instead.

#[macro_use]
extern crate rocket;

mod smtp_sink;
mod support;

mod admin;
mod admin_rules;
mod architecture;
mod blocks;
mod bounds;
mod claims;
pub mod cli;
mod client_address;
mod config;
mod cors;
mod crash;
mod dev_secrets;
mod email_change;
mod email_verification;
mod fresh;
mod guards;
mod health;
mod identities;
mod instances;
mod introspect;
mod lifecycle;
mod link_pages;
mod lockout;
mod login;
mod logout_and_sessions;
mod logs;
mod mail;
mod mail_budget;
mod notices;
mod observability;
mod openapi;
mod outage;
mod page_guards;
mod pages;
mod parts;
mod passkeys;
mod password_change;
mod password_policy;
mod password_reset;
mod profile;
mod rate_limits;
mod refresh;
mod register;
mod schema;
mod seam;
mod signing_keys;
mod sockets;
mod spa;
mod sqlite_writers;
pub mod tokens;
pub mod two_factor;

// Each feature's tests live beside it, in src/features/<name>/tests.rs.
#[path = "../../src/features/tests.rs"]
mod features;
