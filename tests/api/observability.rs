//! What an operator sees: `/metrics` (off by default, then only for listed addresses)
//! counting requests, login outcomes, lockouts, second-factor failures, the hashing
//! queue, the pool and the session cache; and every request's id, sent back and kept
//! with the audit events it caused. The log lines themselves are tested on the binary
//! (tests/api/logs.rs).

use std::net::SocketAddr;

use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::LocalResponse;
use serde_json::{json, Value};

use crate::support::{bearer, spawn_app, spawn_app_with, TestApp, PASSWORD};
use crate::two_factor::enrol;

fn from(address: [u8; 4]) -> SocketAddr {
    SocketAddr::from((address, 40000))
}

async fn scrape(app: &TestApp, peer: [u8; 4]) -> (Status, Option<String>, String) {
    let response = app
        .client
        .get("/metrics")
        .remote(from(peer))
        .dispatch()
        .await;
    let status = response.status();
    let content_type = response.content_type().map(|t| t.to_string());
    (
        status,
        content_type,
        response.into_string().await.unwrap_or_default(),
    )
}

/// The value of the sample `name{labels}` (or `name` alone) in a scrape.
/// The value of `series` (named without the app's prefix, which is the package name).
fn sample(text: &str, series: &str) -> f64 {
    let series = format!("{}_{series}", gatehouse::config::app_name());
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().unwrap())
        })
        .unwrap_or(0.0)
}

async fn login_from<'a>(app: &'a TestApp, login: &str, password: &str) -> LocalResponse<'a> {
    app.client
        .post("/api/auth/login")
        .remote(from([127, 0, 0, 1]))
        .header(ContentType::JSON)
        .body(json!({"login": login, "password": password}).to_string())
        .dispatch()
        .await
}

#[rocket::async_test]
async fn metrics_are_off_by_default() {
    let app = spawn_app().await;
    let (status, _, _) = scrape(&app, [127, 0, 0, 1]).await;
    assert_eq!(status, Status::NotFound);
}

#[rocket::async_test]
async fn metrics_answer_only_listed_addresses_even_behind_a_trusted_proxy() {
    let app = spawn_app_with(|f| {
        f.merge(("gatehouse.metrics_enabled", true))
            .merge(("gatehouse.metrics_allowed", ["10.0.0.0/8"]))
            .merge(("gatehouse.client_ip_header", "X-Forwarded-For"))
            .merge(("gatehouse.trusted_proxies", ["10.0.0.1"]))
    })
    .await;
    let (status, content_type, text) = scrape(&app, [10, 1, 2, 3]).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(
        content_type.as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(
        text.contains(&format!(
            "# TYPE {}_lockouts_total counter",
            gatehouse::config::app_name()
        )),
        "{text}"
    );
    let (status, _, text) = scrape(&app, [127, 0, 0, 1]).await;
    assert_eq!(status, Status::NotFound);
    assert!(!text.contains(&format!("{}_", gatehouse::config::app_name())));
    // The proxy itself is listed, but what it forwards comes from the client it names.
    let response = app
        .client
        .get("/metrics")
        .remote(from([10, 0, 0, 1]))
        .header(Header::new("X-Forwarded-For", "203.0.113.9"))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::NotFound);
}

#[rocket::async_test]
async fn metrics_count_requests_login_outcomes_lockouts_and_the_session_cache() {
    let app = spawn_app_with(|f| {
        f.merge(("gatehouse.metrics_enabled", true))
            .merge(("gatehouse.lockout_max_attempts", 3))
    })
    .await;
    let session = app.signed_in("alice").await;
    app.register("bob", "bob@example.com").await;
    for _ in 0..3 {
        app.get_bearer("/api/auth/me", &session.access).await;
    }
    assert_eq!(
        login_from(&app, "nobody", PASSWORD).await.status(),
        Status::Unauthorized
    );
    assert_eq!(
        login_from(&app, "bob", "wrong password 1").await.status(),
        Status::Unauthorized
    );
    assert_eq!(
        login_from(&app, "bob", "wrong password 2").await.status(),
        Status::Unauthorized
    );
    // The third wrong password locks bob; the next attempt is refused as locked.
    assert_eq!(
        login_from(&app, "bob", "wrong password 3").await.status(),
        Status::Locked
    );
    assert_eq!(
        login_from(&app, "bob", PASSWORD).await.status(),
        Status::Locked
    );

    let (_, _, text) = scrape(&app, [127, 0, 0, 1]).await;
    let logins = |outcome: &str| sample(&text, &format!("logins_total{{outcome=\"{outcome}\"}}"));
    assert_eq!(logins("success"), 1.0, "{text}");
    assert_eq!(logins("unknown_login"), 1.0);
    assert_eq!(logins("wrong_password"), 2.0);
    assert_eq!(logins("locked"), 2.0);
    assert_eq!(sample(&text, "lockouts_total"), 1.0);
    let me =
        "http_request_duration_seconds_count{method=\"GET\",route=\"/api/auth/me\",status=\"200\"}";
    assert_eq!(sample(&text, me), 3.0, "{text}");
    let locked = "http_request_duration_seconds_count{method=\"POST\",route=\"/api/auth/login\",status=\"423\"}";
    assert_eq!(sample(&text, locked), 2.0);
    // The first /me read the database, the others were answered from memory.
    assert!(sample(&text, "session_cache_hits_total") >= 2.0, "{text}");
    assert!(sample(&text, "session_cache_misses_total") >= 1.0);
    // Five checks waited for a hashing thread (plus the registrations' hashes).
    assert!(
        sample(&text, "hash_queue_wait_seconds_count") >= 5.0,
        "{text}"
    );
    assert_eq!(sample(&text, "hash_queue_depth"), 0.0);
    assert!(sample(&text, "db_pool_connections") >= 1.0, "{text}");
}

#[rocket::async_test]
async fn metrics_count_wrong_second_factor_codes() {
    let app = spawn_app_with(|f| f.merge(("gatehouse.metrics_enabled", true))).await;
    enrol(&app, "carol").await;
    let body: Value = login_from(&app, "carol", PASSWORD)
        .await
        .into_json()
        .await
        .unwrap();
    let pending = body["access_token"].as_str().unwrap();
    let response = app
        .post_bearer(
            "/api/auth/2fa/verify",
            pending,
            Some(json!({"code": "000000"})),
        )
        .await;
    assert_eq!(response.status(), Status::Unauthorized);
    let (_, _, text) = scrape(&app, [127, 0, 0, 1]).await;
    assert_eq!(sample(&text, "second_factor_failures_total"), 1.0, "{text}");
    assert_eq!(
        sample(&text, "logins_total{outcome=\"second_factor\"}"),
        1.0
    );
}

#[rocket::async_test]
async fn every_answer_has_a_request_id_and_audit_events_keep_it() {
    let app = spawn_app_with(|f| {
        f.merge(("gatehouse.client_ip_header", "X-Forwarded-For"))
            .merge(("gatehouse.trusted_proxies", ["10.0.0.1"]))
            .merge(("gatehouse.trust_request_id", true))
    })
    .await;
    let admin = app.signed_in_admin("root", true).await;
    app.register("dave", "dave@example.com").await;
    let first = app.client.get("/api/health/live").dispatch().await;
    let second = app.client.get("/nowhere").dispatch().await;
    let id_of = |response: &LocalResponse<'_>| {
        response
            .headers()
            .get_one("X-Request-Id")
            .expect("an id")
            .to_string()
    };
    let (first, second) = (id_of(&first), id_of(&second));
    assert_ne!(first, second);
    assert!(first.len() >= 16);

    // A client's own id is not believed; the trusted proxy's is.
    let response = app
        .client
        .post("/api/auth/login")
        .remote(from([192, 0, 2, 7]))
        .header(Header::new("X-Request-Id", "chosen-by-the-client"))
        .header(ContentType::JSON)
        .body(json!({"login": "dave", "password": "not dave's"}).to_string())
        .dispatch()
        .await;
    let made_here = id_of(&response);
    assert_ne!(made_here, "chosen-by-the-client");
    let response = app
        .client
        .post("/api/auth/login")
        .remote(from([10, 0, 0, 1]))
        .header(Header::new("X-Forwarded-For", "198.51.100.4"))
        .header(Header::new("X-Request-Id", "proxy-3f2a9c1e"))
        .header(ContentType::JSON)
        .body(json!({"login": "dave", "password": PASSWORD}).to_string())
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(id_of(&response), "proxy-3f2a9c1e");
    // Not a plain token: replaced.
    let response = app
        .client
        .get("/api/health/live")
        .remote(from([10, 0, 0, 1]))
        .header(Header::new("X-Request-Id", "two words"))
        .dispatch()
        .await;
    assert_ne!(id_of(&response), "two words");

    let dave = app.account_id("dave").await;
    let response = app
        .client
        .get(format!("/api/admin/accounts/{dave}/events"))
        .header(bearer(&admin.access))
        .dispatch()
        .await;
    let events: Value = response.into_json().await.unwrap();
    let ids: Vec<(&str, &str)> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap(),
                e["request_id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        ids.contains(&("login_failed", made_here.as_str())),
        "{ids:?}"
    );
    assert!(
        ids.contains(&("login_succeeded", "proxy-3f2a9c1e")),
        "{ids:?}"
    );
}

#[rocket::async_test]
async fn a_proxys_request_id_is_kept_only_when_trust_request_id_is_on() {
    let app = spawn_app_with(|f| {
        f.merge(("gatehouse.client_ip_header", "X-Forwarded-For"))
            .merge(("gatehouse.trusted_proxies", ["10.0.0.1"]))
    })
    .await;
    let response = app
        .client
        .get("/api/health/live")
        .remote(from([10, 0, 0, 1]))
        .header(Header::new("X-Request-Id", "passed-along-by-the-proxy"))
        .dispatch()
        .await;
    let id = response.headers().get_one("X-Request-Id").unwrap();
    assert_ne!(id, "passed-along-by-the-proxy");
}

#[rocket::async_test]
async fn a_forwarded_hop_that_is_not_an_address_leaves_the_client_unknown_to_metrics() {
    let app = spawn_app_with(|f| {
        f.merge(("gatehouse.metrics_enabled", true))
            .merge(("gatehouse.client_ip_header", "X-Forwarded-For"))
            .merge(("gatehouse.trusted_proxies", ["127.0.0.1"]))
    })
    .await;
    // Straight from the loopback scraper: allowed.
    let (status, _, _) = scrape(&app, [127, 0, 0, 1]).await;
    assert_eq!(status, Status::Ok);
    for garbage in [
        "garbage",
        "unknown",
        "[::1]",
        "fe80::1%eth0",
        ",",
        "for=192.0.2.9",
    ] {
        let response = app
            .client
            .get("/metrics")
            .remote(from([127, 0, 0, 1]))
            .header(Header::new("X-Forwarded-For", garbage))
            .dispatch()
            .await;
        assert_eq!(response.status(), Status::NotFound, "{garbage}");
    }
}
