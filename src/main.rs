//! The `gatehouse` binary: a thin shell over the library's CLI.

#![forbid(unsafe_code)]

use std::process::ExitCode;

/// Builds the async runtime from the app's own figment (Rocket's `#[rocket::main]`
/// would read the configuration first and panic on a broken Rocket.toml, printing the
/// offending line, a secret perhaps): a bad file is one sentence and exit 1.
fn main() -> ExitCode {
    let runtime = match gatehouse::config::runtime(&gatehouse::figment()) {
        Ok(runtime) => runtime,
        Err(sentence) => {
            eprintln!("{}: {sentence}", env!("CARGO_PKG_NAME"));
            return ExitCode::FAILURE;
        }
    };
    rocket::async_run(
        gatehouse::cli::run(),
        runtime.workers,
        runtime.max_blocking,
        runtime.force_end,
        "rocket-worker-thread",
    )
}
