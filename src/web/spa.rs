//! A single-page app's built files served from the binary's origin (`spa_dir` under
//! `spa_path`), with its own Content-Security-Policy: scripts from this origin only.
//! A path the folder lacks and that names no file (no dot in its last segment) is one
//! of the app's client-side routes, so it gets `index.html`; a missing asset stays 404.

use std::path::PathBuf;

use rocket::fs::{FileServer, NamedFile, Options};
use rocket::http::{Method, Status};
use rocket::route::{Handler, Outcome};
use rocket::{Data, Request, Route};

use super::headers::{with_policy, SPA_POLICY};

/// Below every page and API route, so the app never hides one of ours.
const FILES_RANK: isize = 20;
const FALLBACK_RANK: isize = 21;

/// The routes to mount at `spa_path`.
pub fn routes(dir: PathBuf) -> Vec<Route> {
    let files = FileServer::new(&dir, Options::Index | Options::NormalizeDirs).rank(FILES_RANK);
    let fallback = Route::ranked(
        FALLBACK_RANK,
        Method::Get,
        "/<path..>",
        ClientRoute {
            index: dir.join("index.html"),
        },
    );
    let mut routes = with_policy(SPA_POLICY, files);
    routes.extend(with_policy(SPA_POLICY, vec![fallback]));
    routes
}

#[derive(Clone)]
struct ClientRoute {
    index: PathBuf,
}

#[rocket::async_trait]
impl Handler for ClientRoute {
    async fn handle<'r>(&self, request: &'r Request<'_>, data: Data<'r>) -> Outcome<'r> {
        let names_a_file = request
            .uri()
            .path()
            .segments()
            .last()
            .is_some_and(|segment| segment.contains('.'));
        if names_a_file {
            return Outcome::forward(data, Status::NotFound);
        }
        match NamedFile::open(&self.index).await {
            Ok(file) => Outcome::from(request, file),
            Err(error) => {
                log::error!("spa_dir: {} cannot be read: {error}", self.index.display());
                Outcome::forward(data, Status::NotFound)
            }
        }
    }
}
