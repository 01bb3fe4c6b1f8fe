//! A single-page app's built files served from the binary's origin (`spa_dir` under
//! `spa_path`), with its own Content-Security-Policy: scripts from this origin only.
//! A path the folder lacks and that names no file (no dot in its last segment) is one
//! of the app's client-side routes, so it gets `index.html`; a missing asset stays 404.
//! Files are served only from inside the folder: a symlink that leads out of it is
//! treated as missing, as are hidden files.

use std::path::{Path, PathBuf};

use rocket::fs::NamedFile;
use rocket::http::{Method, Status};
use rocket::response::Redirect;
use rocket::route::{Handler, Outcome};
use rocket::{Data, Request, Route};

use super::headers::{with_policy, SPA_POLICY};

/// Below every page and API route, so the app never hides one of ours.
const RANK: isize = 20;

/// The routes to mount at `spa_path`.
pub fn routes(dir: PathBuf) -> Vec<Route> {
    let files = Route::ranked(RANK, Method::Get, "/<path..>", AppFiles { dir });
    with_policy(SPA_POLICY, vec![files])
}

#[derive(Clone)]
struct AppFiles {
    dir: PathBuf,
}

impl AppFiles {
    /// The entry `relative` names inside the folder, symlinks resolved, and whether it
    /// is a folder; `None` when it is missing or resolves outside the folder. Every
    /// file-system call is the runtime's, off the async workers.
    async fn inside(&self, relative: &Path) -> Option<(PathBuf, bool)> {
        use rocket::tokio::fs;
        let root = fs::canonicalize(&self.dir).await.ok()?;
        let found = fs::canonicalize(root.join(relative)).await.ok()?;
        if !found.starts_with(&root) {
            return None;
        }
        let is_dir = fs::metadata(&found).await.ok()?.is_dir();
        Some((found, is_dir))
    }
}

#[rocket::async_trait]
impl Handler for AppFiles {
    async fn handle<'r>(&self, request: &'r Request<'_>, data: Data<'r>) -> Outcome<'r> {
        // Rocket's own check: no `..`, no hidden segment, nothing a path would misread.
        let Ok(relative) = request.segments::<PathBuf>(0..) else {
            return Outcome::forward(data, Status::NotFound);
        };
        let path = request.uri().path();
        let mut target = self.inside(&relative).await;
        if let Some((found, true)) = &target {
            // A folder is served as its index, at a path ending in `/` so that its
            // relative links resolve inside it.
            if !path.ends_with('/') {
                return Outcome::from(request, Redirect::permanent(format!("{path}/")));
            }
            target = self.inside(&found.join("index.html")).await;
        }
        let names_a_file = path
            .segments()
            .last()
            .is_some_and(|segment| segment.contains('.'));
        let file = match target {
            Some((found, false)) => found,
            _ if names_a_file => return Outcome::forward(data, Status::NotFound),
            _ => match self.inside(Path::new("index.html")).await {
                Some((index, false)) => index,
                _ => {
                    log::error!("spa_dir: {} has no index.html", self.dir.display());
                    return Outcome::forward(data, Status::NotFound);
                }
            },
        };
        match NamedFile::open(&file).await {
            Ok(file) => Outcome::from(request, file),
            Err(error) => {
                log::error!("spa_dir: {} cannot be read: {error}", file.display());
                Outcome::forward(data, Status::NotFound)
            }
        }
    }
}
