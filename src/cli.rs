//! The command line of the `gatehouse` binary: `gatehouse` or `gatehouse serve` runs
//! the server.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Accounts and authentication for Rocket apps"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (the default).
    Serve,
}

/// Parses the arguments and runs the chosen command.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
    }
}

async fn serve() -> ExitCode {
    let rocket = match crate::rocket(crate::figment()) {
        Ok(rocket) => rocket,
        Err(error) => {
            eprintln!("gatehouse: {error}");
            return ExitCode::FAILURE;
        }
    };
    match rocket.launch().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            // Rocket has already logged the details (a failed fairing names itself);
            // `pretty_print` marks the error handled so it does not panic on drop.
            error.pretty_print();
            eprintln!("gatehouse: the server could not start: {error}");
            ExitCode::FAILURE
        }
    }
}
