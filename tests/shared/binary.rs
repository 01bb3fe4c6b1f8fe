//! The app's binary, for the test crates that run it as a process (included with
//! `#[path]`; not a test target of its own).

use std::path::PathBuf;

/// The binary built beside the running test binary: it is named after the package,
/// so a renamed clone finds its own.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the target folder");
    dir.join(format!(
        "{}{}",
        env!("CARGO_PKG_NAME"),
        std::env::consts::EXE_SUFFIX
    ))
}
