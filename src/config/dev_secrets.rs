//! Development secrets that last. In the debug profile a secret left unset (`secret`,
//! `two_factor_key`, `signing_key_secret`) is made once and kept in
//! `.gatehouse/dev-secrets.toml` in the working directory, so a restart keeps the
//! sessions and the 2FA enrolments, and the server and the CLI agree. The release
//! profile never reads it: there an unset secret still stops the start.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;

/// Where the development secrets are kept, from the working directory.
pub const DEV_SECRETS_FILE: &str = ".gatehouse/dev-secrets.toml";

/// The secrets the file holds.
const KEYS: [&str; 3] = ["secret", "two_factor_key", "signing_key_secret"];

static IN_USE: OnceLock<PathBuf> = OnceLock::new();

/// The file this process took secrets from, if it did (for the start-up log).
pub fn in_use() -> Option<&'static Path> {
    IN_USE.get().map(PathBuf::as_path)
}

/// `figment` with the development secrets beneath what it says, when its profile is
/// debug and a secret is unset; joined under the default profile, so every value
/// given before or after (Rocket.toml, the environment, a test's own) wins.
pub fn beneath(figment: Figment) -> Figment {
    if figment.profile().as_str() != "debug" {
        return figment;
    }
    let missing: Vec<&str> = KEYS
        .into_iter()
        .filter(|key| !is_set(&figment, key))
        .collect();
    if missing.is_empty() {
        return figment;
    }
    let path = Path::new(DEV_SECRETS_FILE);
    let secrets = match load_or_create(path) {
        Ok(secrets) => secrets,
        Err(error) => {
            // Said on stderr too: this runs before any logger is installed.
            let sentence = format!(
                "Development secrets could not be kept in {}: {error}. This run uses random \
                 ones (fix or delete the file).",
                path.display()
            );
            eprintln!("{}: {sentence}", env!("CARGO_PKG_NAME"));
            log::warn!("{sentence}");
            return figment;
        }
    };
    let _ =
        IN_USE.set(std::env::current_dir().map_or_else(|_| path.to_path_buf(), |d| d.join(path)));
    let given: BTreeMap<&str, &String> = missing
        .into_iter()
        .filter_map(|key| secrets.get(key).map(|value| (key, value)))
        .collect();
    figment.join(Serialized::default("gatehouse", given))
}

fn is_set(figment: &Figment, key: &str) -> bool {
    figment
        .find_value(&format!("gatehouse.{key}"))
        .ok()
        .and_then(|value| value.into_string())
        .is_some_and(|text| !text.trim().is_empty())
}

/// The secrets in `path`, made and written first if the file is not there. The file
/// is written under a name of its own and linked into place, which fails if another
/// process linked its file first: then that one is read, so all agree.
fn load_or_create(path: &Path) -> std::io::Result<BTreeMap<String, String>> {
    if !path.exists() {
        let folder = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(folder)?;
        let draft = folder.join(format!(
            ".dev-secrets-{}-{}.toml",
            std::process::id(),
            crate::random::token(6)
        ));
        write_private(&draft, &fresh_file())?;
        let linked = std::fs::hard_link(&draft, path);
        std::fs::remove_file(&draft)?;
        match linked {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
    }
    Figment::from(Toml::file_exact(path))
        .extract()
        .map_err(|error| std::io::Error::other(error.to_string()))
}

fn fresh_file() -> String {
    let mut text = String::from(
        "# Secrets for development only, made by the first debug run that needed them.\n\
         # Never copy them to a server: release refuses to start without its own.\n",
    );
    for key in KEYS {
        text.push_str(&format!("{key} = \"{}\"\n", crate::random::token(48)));
    }
    text
}

/// Writes a new file readable by its owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
