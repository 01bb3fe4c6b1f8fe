//! A single-page app served from the binary's own origin: the folder of its built
//! files (off when unset) and the path it answers under, with `index.html` for the
//! app's own client-side routes.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError, Profile};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Raw {
    pub spa_dir: Option<String>,
    pub spa_path: String,
}

impl Raw {
    pub fn defaults(_profile: Profile) -> Raw {
        Raw {
            spa_dir: None,
            spa_path: "/app".into(),
        }
    }
}

impl Default for Raw {
    fn default() -> Self {
        Raw::defaults(Profile::Debug)
    }
}

#[derive(Debug, Clone)]
pub struct Spa {
    /// The built app (a folder holding `index.html`); `None` serves nothing.
    pub spa_dir: Option<PathBuf>,
    /// Where it is served: `/` and one segment (`/app`).
    pub spa_path: String,
}

impl Spa {
    pub fn from_raw(raw: Raw) -> Result<Spa, ConfigError> {
        let segment = raw.spa_path.strip_prefix('/').unwrap_or_default();
        let one_segment = !segment.is_empty()
            && segment
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !one_segment {
            return Err(invalid(
                "spa_path",
                format!(
                    "`{}` must be `/` and one lower-case segment, such as /app",
                    raw.spa_path
                ),
            ));
        }
        let spa_dir = match raw.spa_dir.filter(|dir| !dir.trim().is_empty()) {
            None => None,
            Some(dir) => {
                let dir = PathBuf::from(dir);
                if !dir.join("index.html").is_file() {
                    return Err(invalid(
                        "spa_dir",
                        format!(
                            "{} has no index.html: name the folder of the app's built files",
                            dir.display()
                        ),
                    ));
                }
                Some(dir)
            }
        };
        Ok(Spa {
            spa_dir,
            spa_path: raw.spa_path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_one_segment_and_the_folder_holds_an_index() {
        assert!(Spa::from_raw(Raw::default()).unwrap().spa_dir.is_none());
        for bad in ["", "/", "app", "/app/", "/a/b", "/App", "/../x"] {
            let raw = Raw {
                spa_path: bad.into(),
                ..Raw::default()
            };
            assert!(Spa::from_raw(raw).is_err(), "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let raw = || Raw {
            spa_dir: Some(dir.path().display().to_string()),
            ..Raw::default()
        };
        assert!(Spa::from_raw(raw()).is_err());
        std::fs::write(dir.path().join("index.html"), "<!doctype html>").unwrap();
        assert_eq!(
            Spa::from_raw(raw()).unwrap().spa_dir.as_deref(),
            Some(dir.path())
        );
    }
}
