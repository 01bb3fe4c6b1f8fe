//! A single-page app's built files served from the binary's origin: `spa_dir` under
//! `spa_path`, `index.html` for the app's client-side routes, a missing asset 404, and
//! a policy allowing the app's own scripts on its answers only.

use rocket::http::{ContentType, Status};

use crate::support::{spawn_app_with, test_figment, TestApp};

const INDEX: &str =
    "<!doctype html><title>The app</title><script src=\"/app/assets/app.js\"></script>";

fn built_app() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), INDEX).unwrap();
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(dir.path().join("assets/app.js"), "console.log('app');").unwrap();
    std::fs::write(dir.path().join(".env"), "SECRET=1").unwrap();
    // A symlink out of the folder, as a careless build step might leave.
    #[cfg(unix)]
    std::os::unix::fs::symlink("/etc", dir.path().join("outside")).unwrap();
    dir
}

async fn serving(dir: &tempfile::TempDir) -> TestApp {
    let folder = dir.path().display().to_string();
    spawn_app_with(|f| f.merge(("gatehouse.spa_dir", folder))).await
}

fn policy(response: &rocket::local::asynchronous::LocalResponse<'_>) -> String {
    response
        .headers()
        .get_one("Content-Security-Policy")
        .unwrap()
        .to_string()
}

#[rocket::async_test]
async fn the_app_and_its_client_routes_are_served_with_a_policy_for_its_own_scripts() {
    let dir = built_app();
    let app = serving(&dir).await;
    for path in ["/app/", "/app/settings/profile", "/app/notes/42"] {
        let response = app.client.get(path).dispatch().await;
        assert_eq!(response.status(), Status::Ok, "{path}");
        assert_eq!(response.content_type(), Some(ContentType::HTML), "{path}");
        let policy = policy(&response);
        assert!(
            policy.contains("script-src 'self'") && !policy.contains("unsafe"),
            "{path}: {policy}"
        );
        assert_eq!(response.into_string().await.unwrap(), INDEX, "{path}");
    }
    // The bare path leads to the folder, so relative assets resolve.
    let bare = app.client.get("/app").dispatch().await;
    assert!(bare.status().class().is_redirection(), "{}", bare.status());
    assert_eq!(bare.headers().get_one("Location"), Some("/app/"));
    let script = app.client.get("/app/assets/app.js").dispatch().await;
    assert_eq!(script.status(), Status::Ok);
    assert_eq!(script.content_type(), Some(ContentType::JavaScript));
    assert!(policy(&script).contains("script-src 'self'"));
    // A missing asset, a hidden file and a way out of the folder are 404s under the
    // strict policy, never index.html.
    for path in [
        "/app/assets/missing.js",
        "/app/.env",
        "/app/../Cargo.toml",
        "/app/%2e%2e/Cargo.toml",
    ] {
        let response = app.client.get(path).dispatch().await;
        assert_eq!(response.status(), Status::NotFound, "{path}");
        assert!(
            policy(&response).starts_with("default-src 'none'"),
            "{path}"
        );
        let body = response.into_string().await.unwrap_or_default();
        assert!(
            !body.contains("SECRET") && !body.contains("[package]"),
            "{path}"
        );
    }
    // Through the symlink, a name without a dot is a client route like any other.
    let outside = app.client.get("/app/outside/passwd").dispatch().await;
    assert_eq!(outside.into_string().await.unwrap(), INDEX);
    // Gatehouse's own pages and API are not hidden, and keep the strict policy.
    for path in ["/login", "/api/health/live"] {
        let response = app.client.get(path).dispatch().await;
        assert_eq!(response.status(), Status::Ok, "{path}");
        assert!(
            policy(&response).starts_with("default-src 'none'"),
            "{path}"
        );
    }
}

#[rocket::async_test]
async fn without_a_folder_nothing_is_served_and_bad_settings_stop_the_start() {
    let mail = tempfile::tempdir().unwrap();
    let mail_dir = mail.path().display().to_string();
    let app = spawn_app_with(|f| {
        f.merge(("gatehouse.mail_transport", "file"))
            .merge(("gatehouse.mail_dir", mail_dir))
    })
    .await;
    let response = app.client.get("/app/").dispatch().await;
    assert_eq!(response.status(), Status::NotFound);
    let dir = built_app();
    let folder = dir.path().display().to_string();
    let empty = tempfile::tempdir().unwrap();
    let refusals = [
        (
            ("gatehouse.spa_dir", empty.path().display().to_string()),
            "spa_dir",
        ),
        (("gatehouse.spa_path", "/login".to_string()), "spa_path"),
        (("gatehouse.spa_path", "/notes".to_string()), "spa_path"),
        (("gatehouse.spa_path", "/a/b".to_string()), "spa_path"),
    ];
    for ((key, value), setting) in refusals {
        let figment = test_figment(&app.db.url)
            .merge(("gatehouse.spa_dir", folder.clone()))
            .merge((key, value.clone()));
        match gatehouse::rocket(figment) {
            Ok(_) => panic!("{key} = {value} was accepted"),
            Err(error) => assert!(error.to_string().contains(setting), "{error}"),
        }
    }
    // No page root, API path or feature may be taken: every first segment of a
    // mounted route is refused.
    let roots: std::collections::BTreeSet<String> = app
        .client
        .rocket()
        .routes()
        .filter_map(|route| {
            let path = route.uri.path().to_string();
            let first = path
                .trim_start_matches('/')
                .split(['/', '?'])
                .next()?
                .to_string();
            (!first.is_empty() && !first.starts_with('<')).then_some(first)
        })
        .collect();
    assert!(
        roots.contains("forgot-password") && roots.contains("notes"),
        "{roots:?}"
    );
    for root in roots {
        let figment = test_figment(&app.db.url)
            .merge(("gatehouse.spa_dir", folder.clone()))
            .merge(("gatehouse.spa_path", format!("/{root}")));
        assert!(
            gatehouse::rocket(figment).is_err(),
            "spa_path /{root} was accepted"
        );
    }
    // Another path serves the app there.
    let moved = spawn_app_with(|f| {
        f.merge(("gatehouse.spa_dir", folder))
            .merge(("gatehouse.spa_path", "/console"))
    })
    .await;
    let response = moved.client.get("/console/deep/link").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.into_string().await.unwrap(), INDEX);
}
