//! Single-page apps in a real browser, in the three shapes the docs describe:
//! - same origin: the binary serves the app's built files (`spa_dir`), which call the
//!   API with cookies and the CSRF token, under a policy that runs the app's own
//!   script file and no inline one;
//! - same site, another origin (another port of the same host, as a subdomain would
//!   be): cookies, with `csrf_token` from the login answer sent as `X-CSRF-Token`;
//! - another origin with bearer tokens: login, `/api/auth/me` and a refresh.
//!
//! The pages of the other origins come from tiny servers of the test's own on other
//! loopback ports, one listed in `cors_allowed_origins` and one not: the browser
//! refuses the unlisted one's calls.

use std::io::{Read, Write};
use std::net::TcpListener;

use fantoccini::Client;
use serde_json::{json, Value};

use crate::{browser_programs, say_skipped, Harness, PASSWORD};

const PAGE: &str =
    "<!doctype html><html><head><title>Another origin</title></head><body>an app</body></html>";

/// Serves `PAGE` to every request on a free loopback port, for the test's lifetime.
fn serve_page() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
                PAGE.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    port
}

/// Runs `body` (an async function body; `api` is the API's origin, `password` the
/// test password) in the page the browser shows, and returns what it returns.
async fn in_page(browser: &Client, api: &str, body: &str) -> Value {
    let script = format!(
        "const done = arguments[arguments.length - 1];
         const api = arguments[0], password = arguments[1];
         const json = {{'Content-Type': 'application/json'}};
         (async () => {{ {body} }})().then(done, (error) => done({{thrown: String(error)}}));"
    );
    browser
        .execute_async(&script, vec![json!(api), json!(PASSWORD)])
        .await
        .expect("the script runs")
}

const REGISTER: &str = "
    const answer = await fetch(api + '/api/auth/register', {method: 'POST', headers: json,
        body: JSON.stringify({username: arguments[2], email: arguments[2] + '@example.com', password})});
    return answer.status;";

#[rocket::async_test]
async fn single_page_apps_call_the_api_from_the_same_origin_the_same_site_and_another_site() {
    let Some((chromium, driver)) = browser_programs() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but no chromium/chromedriver: .ci/run installs Debian's chromium and chromium-driver");
        }
        say_skipped(
            "cross-origin browser test skipped: install Debian's chromium and chromium-driver",
        );
        return;
    };
    let listed = serve_page();
    let unlisted = serve_page();
    let app = tempfile::tempdir().unwrap();
    std::fs::write(
        app.path().join("index.html"),
        "<!doctype html><html><head><title>Loading</title><script src=\"app.js\"></script>\
         <script>document.title = 'inline ran';</script></head><body>the app</body></html>",
    )
    .unwrap();
    std::fs::write(
        app.path().join("app.js"),
        "document.title = document.title === 'inline ran' ? 'inline ran' : 'app ran';",
    )
    .unwrap();
    let harness = Harness::start_with(
        chromium,
        driver,
        &[
            (
                "GATEHOUSE_CORS_ALLOWED_ORIGINS",
                format!("[\"http://127.0.0.1:{listed}\"]"),
            ),
            ("GATEHOUSE_SPA_DIR", app.path().display().to_string()),
        ],
    );
    let api = harness.base.clone();

    // Same origin: the app's own script runs, an inline one does not, and the app
    // signs in with cookies and changes the profile with the CSRF token.
    let browser = harness.browser().await;
    browser.goto(&harness.url("/app/")).await.unwrap();
    assert_eq!(browser.title().await.unwrap(), "app ran");
    let same_origin = in_page(
        &browser,
        "",
        &format!(
            "{}
            const login = await fetch('/api/auth/login', {{method: 'POST', headers: json,
                body: JSON.stringify({{login: 'samesite', password}})}});
            const pair = await login.json();
            const change = await fetch('/api/auth/me', {{method: 'PATCH',
                headers: {{...json, 'X-CSRF-Token': pair.csrf_token}},
                body: JSON.stringify({{display_name: 'Same origin'}})}});
            const me = await (await fetch('/api/auth/me')).json();
            return {{login: login.status, change: change.status, name: me.display_name}};",
            REGISTER
                .replace("arguments[2]", "'samesite'")
                .replace("return answer.status;", "")
        ),
    )
    .await;
    assert_eq!(
        same_origin,
        json!({"login": 200, "change": 200, "name": "Same origin"}),
        "same origin"
    );
    browser.close().await.ok();

    // Another origin with bearer tokens: the login's pair, the account, a refresh,
    // and the exposed request id.
    let browser = harness.browser().await;
    browser
        .goto(&format!("http://127.0.0.1:{listed}/"))
        .await
        .unwrap();
    let bearer = in_page(
        &browser,
        &api,
        &format!(
            "{}
            const login = await fetch(api + '/api/auth/login', {{method: 'POST', headers: json,
                body: JSON.stringify({{login: 'bearer', password}})}});
            const pair = await login.json();
            const me = await fetch(api + '/api/auth/me',
                {{headers: {{Authorization: 'Bearer ' + pair.access_token}}}});
            const account = await me.json();
            const refresh = await fetch(api + '/api/auth/refresh', {{method: 'POST',
                headers: {{Authorization: 'Bearer ' + pair.refresh_token}}}});
            const next = await refresh.json();
            const again = await fetch(api + '/api/auth/me',
                {{headers: {{Authorization: 'Bearer ' + next.access_token}}}});
            return {{login: login.status, me: me.status, username: account.username,
                refresh: refresh.status, rotated: next.refresh_token !== pair.refresh_token,
                again: again.status, request_id: me.headers.get('X-Request-Id') !== null}};",
            REGISTER
                .replace("arguments[2]", "'bearer'")
                .replace("return answer.status;", "")
        ),
    )
    .await;
    assert_eq!(
        bearer,
        json!({"login": 200, "me": 200, "username": "bearer", "refresh": 200, "rotated": true,
               "again": 200, "request_id": true}),
        "another origin with bearer tokens"
    );

    // The same site on another port, with cookies: the login answer's csrf_token makes
    // an unsafe request pass; without it the request is refused.
    let cookies = in_page(
        &browser,
        &api,
        &format!(
            "{}
            const login = await fetch(api + '/api/auth/login', {{method: 'POST', headers: json,
                credentials: 'include', body: JSON.stringify({{login: 'cookies', password}})}});
            const pair = await login.json();
            const me = await (await fetch(api + '/api/auth/me', {{credentials: 'include'}})).json();
            const without = await fetch(api + '/api/auth/me', {{method: 'PATCH', headers: json,
                credentials: 'include', body: JSON.stringify({{display_name: 'No token'}})}});
            const refused = await without.json();
            const change = await fetch(api + '/api/auth/me', {{method: 'PATCH', credentials: 'include',
                headers: {{...json, 'X-CSRF-Token': pair.csrf_token}},
                body: JSON.stringify({{display_name: 'Same site'}})}});
            const changed = await change.json();
            const current = await (await fetch(api + '/api/auth/csrf', {{credentials: 'include'}})).json();
            return {{login: login.status, me: me.username, without: without.status,
                code: refused.error.code, change: change.status, name: changed.display_name,
                same_token: current.csrf_token === pair.csrf_token}};",
            REGISTER.replace("arguments[2]", "'cookies'").replace("return answer.status;", "")
        ),
    )
    .await;
    assert_eq!(
        cookies,
        json!({"login": 200, "me": "cookies", "without": 403, "code": "csrf_failed",
               "change": 200, "name": "Same site", "same_token": true}),
        "the same site with cookies"
    );
    browser.close().await.ok();

    // An origin not listed: the browser refuses the answers, simple request or not.
    let browser = harness.browser().await;
    browser
        .goto(&format!("http://127.0.0.1:{unlisted}/"))
        .await
        .unwrap();
    let refused = in_page(
        &browser,
        &api,
        "const outcome = async (request) => {
             try { await request; return 'read'; } catch (error) { return 'refused'; }
         };
         return {
             simple: await outcome(fetch(api + '/api/health/live')),
             preflighted: await outcome(fetch(api + '/api/auth/login', {method: 'POST',
                 headers: json, body: JSON.stringify({login: 'bearer', password})})),
         };",
    )
    .await;
    assert_eq!(
        refused,
        json!({"simple": "refused", "preflighted": "refused"}),
        "an unlisted origin"
    );
    browser.close().await.ok();
}
