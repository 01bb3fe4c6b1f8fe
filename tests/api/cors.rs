//! CORS for `/api`: listed origins get their origin echoed with credentials, and
//! preflights the methods and headers an SPA needs; other origins, the pages and a
//! deployment that lists nothing get no CORS header at all.

use rocket::http::{Header, Status};
use rocket::local::asynchronous::LocalResponse;

use crate::support::{spawn_app, spawn_app_with, test_figment};

const APP: &str = "https://app.example.com";

fn cors_headers(response: &LocalResponse<'_>) -> Vec<String> {
    response
        .headers()
        .iter()
        .filter(|h| {
            h.name()
                .as_str()
                .to_ascii_lowercase()
                .starts_with("access-control-")
        })
        .map(|h| format!("{}: {}", h.name(), h.value()))
        .collect()
}

#[rocket::async_test]
async fn a_listed_origin_is_answered_and_others_get_nothing() {
    let app = spawn_app_with(|f| f.merge(("gatehouse.cors_allowed_origins", [APP]))).await;
    let preflight = app
        .client
        .options("/api/auth/login")
        .header(Header::new("Origin", APP))
        .header(Header::new("Access-Control-Request-Method", "POST"))
        .header(Header::new(
            "Access-Control-Request-Headers",
            "content-type",
        ))
        .dispatch()
        .await;
    assert_eq!(preflight.status(), Status::NoContent);
    let headers = preflight.headers();
    assert_eq!(headers.get_one("Access-Control-Allow-Origin"), Some(APP));
    assert_eq!(
        headers.get_one("Access-Control-Allow-Credentials"),
        Some("true")
    );
    assert!(headers
        .get_one("Access-Control-Allow-Methods")
        .is_some_and(|m| m.contains("POST") && m.contains("PATCH") && m.contains("DELETE")));
    assert_eq!(
        headers.get_one("Access-Control-Allow-Headers"),
        Some("Authorization, Content-Type, X-CSRF-Token")
    );
    assert_eq!(headers.get_one("Access-Control-Max-Age"), Some("600"));
    assert!(headers.get("Vary").any(|v| v.contains("Origin")));

    let answer = app
        .client
        .get("/api/health/live")
        .header(Header::new("Origin", APP))
        .dispatch()
        .await;
    assert_eq!(answer.status(), Status::Ok);
    assert_eq!(
        answer.headers().get_one("Access-Control-Allow-Origin"),
        Some(APP)
    );
    assert_eq!(
        answer.headers().get_one("Access-Control-Expose-Headers"),
        Some("Retry-After, X-Request-Id, WWW-Authenticate")
    );
    // An error answer is readable too (the app shows the sentence).
    let refused = app
        .client
        .get("/api/auth/me")
        .header(Header::new("Origin", APP))
        .dispatch()
        .await;
    assert_eq!(refused.status(), Status::Unauthorized);
    assert_eq!(
        refused.headers().get_one("Access-Control-Allow-Origin"),
        Some(APP)
    );

    for origin in [
        "https://evil.example.com",
        "https://app.example.com.evil.com",
        "http://app.example.com",
        "null",
    ] {
        for response in [
            app.client
                .options("/api/auth/login")
                .header(Header::new("Origin", origin))
                .header(Header::new("Access-Control-Request-Method", "POST"))
                .dispatch()
                .await,
            app.client
                .get("/api/health/live")
                .header(Header::new("Origin", origin))
                .dispatch()
                .await,
        ] {
            assert!(cors_headers(&response).is_empty(), "{origin}");
        }
    }
    // Same-origin calls and the pages are unchanged.
    let plain = app.client.get("/api/health/live").dispatch().await;
    assert_eq!(plain.status(), Status::Ok);
    assert!(cors_headers(&plain).is_empty());
    let page = app
        .client
        .get("/login")
        .header(Header::new("Origin", APP))
        .dispatch()
        .await;
    assert!(cors_headers(&page).is_empty());
}

#[rocket::async_test]
async fn without_listed_origins_there_is_no_cors_at_all() {
    let app = spawn_app().await;
    let preflight = app
        .client
        .options("/api/auth/login")
        .header(Header::new("Origin", APP))
        .header(Header::new("Access-Control-Request-Method", "POST"))
        .dispatch()
        .await;
    assert_eq!(preflight.status(), Status::NotFound);
    assert!(cors_headers(&preflight).is_empty());
}

#[test]
fn wildcards_and_non_origins_are_refused_at_start_up() {
    for bad in [
        "*",
        "https://*.example.com",
        "https://app.example.com/",
        "app.example.com",
    ] {
        let figment =
            test_figment("sqlite::memory:").merge(("gatehouse.cors_allowed_origins", [bad]));
        let Err(error) = gatehouse::rocket(figment) else {
            panic!("{bad} was accepted");
        };
        let error = error.to_string();
        assert!(
            error.contains("cors_allowed_origins")
                && error.contains("GATEHOUSE_CORS_ALLOWED_ORIGINS"),
            "{bad}: {error}"
        );
    }
}

/// An app on another host cannot read the CSRF cookie: login and refresh answers that
/// set cookies carry the session's CSRF token, and `GET /api/auth/csrf` gives it again.
#[rocket::async_test]
async fn cookie_mode_answers_carry_the_csrf_token() {
    use rocket::http::ContentType;
    use serde_json::{json, Value};

    let app = crate::support::spawn_browser().await;
    app.register("alice", "alice@example.com").await;
    let login = app
        .client
        .post("/api/auth/login")
        .header(ContentType::JSON)
        .body(json!({"login": "alice", "password": crate::support::PASSWORD}).to_string())
        .dispatch()
        .await;
    assert_eq!(login.status(), Status::Ok);
    let body: Value = login.into_json().await.unwrap();
    let token = body["csrf_token"]
        .as_str()
        .expect("a csrf_token")
        .to_string();
    assert_eq!(crate::support::csrf(&app), token, "the cookie's own value");

    let current: Value = app
        .client
        .get("/api/auth/csrf")
        .dispatch()
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(current["csrf_token"], token.as_str());

    // A cookie-authenticated write with the token from the answer succeeds; without it, 403.
    let note = json!({"title": "from another host"}).to_string();
    let without = app
        .client
        .post("/api/notes")
        .header(ContentType::JSON)
        .body(note.clone())
        .dispatch()
        .await;
    assert_eq!(without.status(), Status::Forbidden);
    let with = app
        .client
        .post("/api/notes")
        .header(ContentType::JSON)
        .header(Header::new("X-CSRF-Token", token.clone()))
        .body(note)
        .dispatch()
        .await;
    assert_eq!(with.status(), Status::Created);

    // A cookie refresh answers the new session generation's token.
    let refreshed = app
        .client
        .post("/api/auth/refresh")
        .header(Header::new("X-CSRF-Token", token.clone()))
        .dispatch()
        .await;
    assert_eq!(refreshed.status(), Status::Ok);
    let refreshed: Value = refreshed.into_json().await.unwrap();
    assert!(refreshed["csrf_token"].is_string(), "{refreshed}");

    // Header-only deployments set no cookies, so their answers carry no token.
    let bearer_only = spawn_app_with(|f| f.merge(("gatehouse.token_locations", ["header"]))).await;
    bearer_only.register("bob", "bob@example.com").await;
    let login: Value = bearer_only
        .login("bob", crate::support::PASSWORD)
        .await
        .into_json()
        .await
        .unwrap();
    assert!(login.get("csrf_token").is_none(), "{login}");
}
