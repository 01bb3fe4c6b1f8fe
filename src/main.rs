//! The `gatehouse` binary: a thin shell over the library's CLI.

#![forbid(unsafe_code)]

use std::process::ExitCode;

#[rocket::main]
async fn main() -> ExitCode {
    gatehouse::cli::run().await
}
