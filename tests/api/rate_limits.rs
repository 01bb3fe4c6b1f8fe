//! Rate limits: 429 `rate_limited` with `Retry-After`, per client address and per
//! login, on the endpoints that check secrets or create accounts. The other suites run
//! with limits off; these turn them on.

use std::net::SocketAddr;

use figment::Figment;
use rocket::http::{ContentType, Status};
use rocket::local::asynchronous::LocalResponse;
use serde_json::{json, Value};

use crate::support::{csrf, page, spawn_app_with, spawn_browser_with, submit, TestApp, PASSWORD};

fn limited(figment: Figment, key: &str, rate: &str) -> Figment {
    figment
        .merge(("gatehouse.rate_limit_enabled", true))
        .merge((format!("gatehouse.{key}"), rate))
}

fn address(last: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, last], 40000))
}

async fn post_from<'a>(
    app: &'a TestApp,
    from: SocketAddr,
    uri: &str,
    body: Value,
) -> LocalResponse<'a> {
    app.client
        .post(uri.to_string())
        .remote(from)
        .header(ContentType::JSON)
        .body(body.to_string())
        .dispatch()
        .await
}

async fn login_from<'a>(app: &'a TestApp, from: SocketAddr, login: &str) -> LocalResponse<'a> {
    post_from(
        app,
        from,
        "/api/auth/login",
        json!({"login": login, "password": "not the password"}),
    )
    .await
}

/// Checks a 429 and returns its `retry_after`.
async fn assert_limited(response: LocalResponse<'_>) -> i64 {
    assert_eq!(response.status(), Status::TooManyRequests);
    let header: i64 = response
        .headers()
        .get_one("Retry-After")
        .expect("a Retry-After header")
        .parse()
        .unwrap();
    let body: Value = response.into_json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(body["error"]["retry_after"], header);
    header
}

#[rocket::async_test]
async fn logins_from_one_address_are_limited_and_the_refusal_costs_no_attempt() {
    let app = spawn_app_with(|f| limited(f, "rate_limit_login", "3/minute")).await;
    app.register("alice", "alice@example.com").await;
    for _ in 0..3 {
        let response = login_from(&app, address(2), "alice").await;
        assert_eq!(response.status(), Status::Unauthorized);
    }
    let wait = assert_limited(login_from(&app, address(2), "alice").await).await;
    assert!((1..=21).contains(&wait), "{wait}");
    assert_eq!(
        app.failed_logins("alice").await,
        3,
        "refused before any check"
    );
    // Another address has its own allowance.
    let response = login_from(&app, address(3), "alice").await;
    assert_eq!(response.status(), Status::Unauthorized);
}

#[rocket::async_test]
async fn one_login_is_limited_from_every_address_in_any_case_but_ties_no_other_identifier() {
    let app = spawn_app_with(|f| limited(f, "rate_limit_login_account", "2/minute")).await;
    app.register("alice", "alice@example.com").await;
    assert_eq!(
        login_from(&app, address(2), "alice").await.status(),
        Status::Unauthorized
    );
    assert_eq!(
        login_from(&app, address(3), "ALICE").await.status(),
        Status::Unauthorized
    );
    assert_limited(login_from(&app, address(4), " Alice ").await).await;
    // The email names the same account but is another identifier: its own allowance,
    // so a 429 never tells which email belongs to a username. Right and wrong
    // passwords are answered as ever.
    assert_eq!(
        login_from(&app, address(5), "ALICE@example.com")
            .await
            .status(),
        Status::Unauthorized
    );
    let response = post_from(
        &app,
        address(5),
        "/api/auth/login",
        json!({"login": "alice@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(response.status(), Status::Ok);
    assert_limited(login_from(&app, address(6), "alice").await).await;
    // Spellings that find the same address (UTS #46 ignores variation selectors and
    // maps the ideographic full stop) share its allowance.
    for spelling in ["alice@exam\u{fe00}ple.com", "alice@example\u{3002}com"] {
        assert_limited(login_from(&app, address(7), spelling).await).await;
    }
    // Unknown logins are limited the same way, and another login is not affected.
    assert_eq!(
        login_from(&app, address(4), "bob").await.status(),
        Status::Unauthorized
    );
}

#[rocket::async_test]
async fn registrations_refreshes_and_password_changes_are_limited_per_address() {
    let app = spawn_app_with(|f| {
        limited(f, "rate_limit_register", "2/hour")
            .merge(("gatehouse.rate_limit_refresh", "1/minute"))
            .merge(("gatehouse.rate_limit_password", "1/minute"))
    })
    .await;
    let register = |name: &str| json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD});
    for name in ["ann", "ben"] {
        let response = post_from(&app, address(2), "/api/auth/register", register(name)).await;
        assert_eq!(response.status(), Status::Created);
    }
    let wait =
        assert_limited(post_from(&app, address(2), "/api/auth/register", register("cat")).await)
            .await;
    assert!(wait > 60, "an hourly allowance comes back slowly: {wait}");
    let response = post_from(&app, address(3), "/api/auth/register", register("cat")).await;
    assert_eq!(response.status(), Status::Created);

    let session = app.signed_in("dan").await;
    let refresh = json!({"refresh_token": session.refresh});
    let response = post_from(&app, address(5), "/api/auth/refresh", refresh.clone()).await;
    assert_eq!(response.status(), Status::Ok);
    let response = post_from(&app, address(5), "/api/auth/refresh", refresh).await;
    assert_limited(response).await;

    let change = json!({"current_password": "wrong", "new_password": "a much better passphrase"});
    for expected in [Status::UnprocessableEntity, Status::TooManyRequests] {
        let response = app
            .client
            .post("/api/auth/password")
            .remote(address(6))
            .header(ContentType::JSON)
            .header(rocket::http::Header::new(
                "Authorization",
                format!("Bearer {}", session.access),
            ))
            .body(change.to_string())
            .dispatch()
            .await;
        assert_eq!(response.status(), expected);
    }
    assert_eq!(app.failed_logins("dan").await, 1);
}

#[rocket::async_test]
async fn the_login_page_tells_a_limited_visitor_to_wait() {
    let app = spawn_browser_with(|f| limited(f, "rate_limit_login", "1/minute")).await;
    app.register("alice", "alice@example.com").await;
    page(&app, "/login").await;
    let token = csrf(&app);
    let wrong = [
        ("login", "alice"),
        ("password", "wrong password"),
        ("csrf_token", token.as_str()),
    ];
    submit(&app, "/login", &wrong).await;
    submit(&app, "/login", &wrong).await;
    let (_, html) = page(&app, "/login").await;
    assert!(html.contains("Too many attempts. Please wait"), "{html}");
}

#[rocket::async_test]
async fn switched_off_nothing_is_limited() {
    let app = spawn_app_with(|f| {
        limited(f, "rate_limit_login", "1/minute").merge(("gatehouse.rate_limit_enabled", false))
    })
    .await;
    for _ in 0..5 {
        let response = login_from(&app, address(2), "nobody").await;
        assert_eq!(response.status(), Status::Unauthorized);
    }
}
