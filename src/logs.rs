//! The process's log lines, as structured events (tracing), readable text or one JSON
//! object per line (`log_format`), at the level of Rocket's `log_level`.
//!
//! Rocket's own request lines are left out: they print the whole URI (a link's token
//! in its query) and, at debug, every header with its cookies and tokens; at debug
//! they dump whole requests and responses, and its indented detail lines print form
//! values. [`crate::web::requests`] writes each request's line instead. Other crates
//! never log below info, so no client, proxy or mail transport can print what it
//! carries.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use rocket::config::LogLevel;
use tracing::{Level, Metadata};
use tracing_subscriber::filter::{filter_fn, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, Layer};

use crate::config::LogFormat;

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Whether [`init`] installed the filter; without it (an app that builds the Rocket
/// itself and lets Rocket log), Rocket's own lines are printed as they are.
pub fn installed() -> bool {
    INSTALLED.load(Ordering::Acquire)
}

/// Sends every log line of this process (the `log` crate's, Rocket's included, and
/// tracing's) through one filter to standard output. Call once, before Rocket starts,
/// or Rocket installs its own logger.
pub fn init(format: LogFormat, level: LogLevel) -> Result<(), String> {
    let most = match level {
        LogLevel::Off => return Ok(()),
        LogLevel::Critical => Level::WARN,
        LogLevel::Normal => Level::INFO,
        LogLevel::Debug => Level::DEBUG,
    };
    let filter = filter_fn(move |meta| admits(meta, most))
        .with_max_level_hint(LevelFilter::from_level(most));
    let registry = tracing_subscriber::registry();
    let installed = match format {
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_ansi(std::io::stdout().is_terminal())
                    .with_filter(filter),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_filter(filter),
            )
            .try_init(),
    };
    installed.map_err(|error| format!("cannot set up logging: {error}"))?;
    INSTALLED.store(true, Ordering::Release);
    Ok(())
}

fn admits(meta: &Metadata<'_>, most: Level) -> bool {
    admits_line(meta.target(), *meta.level(), most)
}

fn admits_line(target: &str, level: Level, most: Level) -> bool {
    if level > most {
        return false;
    }
    if target.starts_with("rocket::launch") {
        return true;
    }
    // Rocket's indented detail lines (`…::_`), its own or from the code it generates
    // in our modules: requests, guard errors and form values.
    if target.contains("::_") || target.starts_with("rocket::server") {
        return false;
    }
    if target.starts_with("rocket") {
        return level <= Level::WARN;
    }
    if target == env!("CARGO_CRATE_NAME")
        || target.starts_with(concat!(env!("CARGO_CRATE_NAME"), "::"))
    {
        return true;
    }
    level <= Level::INFO
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = env!("CARGO_CRATE_NAME");

    #[test]
    fn rockets_request_lines_and_other_crates_debug_are_left_out() {
        let own_module = format!("{OWN}::auth");
        let generated_in_own_module = format!("{OWN}::web::pages::_");
        assert!(admits_line(&own_module, Level::DEBUG, Level::DEBUG));
        assert!(!admits_line(&own_module, Level::DEBUG, Level::INFO));
        assert!(admits_line("rocket::launch", Level::INFO, Level::DEBUG));
        assert!(admits_line("rocket::launch::_", Level::INFO, Level::DEBUG));
        assert!(!admits_line("rocket::server", Level::ERROR, Level::DEBUG));
        assert!(!admits_line(
            "rocket::server::_",
            Level::ERROR,
            Level::DEBUG
        ));
        assert!(!admits_line(
            &generated_in_own_module,
            Level::WARN,
            Level::DEBUG
        ));
        assert!(admits_line("rocket::rkt", Level::WARN, Level::DEBUG));
        assert!(!admits_line("rocket::data", Level::INFO, Level::DEBUG));
        assert!(!admits_line(
            "lettre::transport::smtp",
            Level::DEBUG,
            Level::DEBUG
        ));
        assert!(admits_line("sqlx::pool", Level::WARN, Level::WARN));
        assert!(!admits_line("sqlx::query", Level::INFO, Level::WARN));
    }
}
