//! The client address recorded in sessions, the audit trail and the rate limits: the
//! peer's, unless the peer is a trusted proxy; then the configured header, read right
//! to left. (tests/e2e/proxy.rs does the same behind a real nginx.)

use std::net::SocketAddr;

use rocket::http::{ContentType, Header, Status};
use serde_json::{json, Value};

use crate::support::{spawn_app, spawn_app_with, test_figment, TestApp, PASSWORD};

/// Logs alice in from `peer` with `forwarded` headers; the address her new session
/// records.
async fn recorded_address(app: &TestApp, peer: [u8; 4], forwarded: &[&str]) -> String {
    let mut request = app
        .client
        .post("/api/auth/login")
        .remote(SocketAddr::from((peer, 50000)))
        .header(ContentType::JSON)
        .body(json!({"login": "alice", "password": PASSWORD}).to_string());
    for value in forwarded {
        request = request.header(Header::new("X-Forwarded-For", value.to_string()));
    }
    let response = request.dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = response.into_json().await.unwrap();
    let access = body["access_token"].as_str().unwrap();
    let sessions: Value = app
        .get_bearer("/api/auth/sessions", access)
        .await
        .into_json()
        .await
        .unwrap();
    sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .and_then(|s| s["ip"].as_str())
        .unwrap_or("none")
        .to_string()
}

#[rocket::async_test]
async fn without_a_trusted_proxy_the_peer_is_the_client_whatever_it_sends() {
    let app = spawn_app().await;
    app.register("alice", "alice@example.com").await;
    let address = recorded_address(&app, [127, 0, 0, 2], &["203.0.113.9"]).await;
    assert_eq!(address, "127.0.0.2");
}

#[rocket::async_test]
async fn behind_trusted_proxies_the_header_is_read_right_to_left() {
    let app = spawn_app_with(|f| {
        f.merge(("gatehouse.client_ip_header", "X-Forwarded-For"))
            .merge(("gatehouse.trusted_proxies", ["127.0.0.1", "10.0.0.0/8"]))
    })
    .await;
    app.register("alice", "alice@example.com").await;
    // The client forged the leftmost entry; the proxies appended what they saw.
    let chain = ["198.51.100.1, 203.0.113.9, 10.1.2.3"];
    assert_eq!(
        recorded_address(&app, [127, 0, 0, 1], &chain).await,
        "203.0.113.9"
    );
    // Several header lines are one list, in order.
    let lines = ["198.51.100.1", "203.0.113.9", "10.1.2.3"];
    assert_eq!(
        recorded_address(&app, [127, 0, 0, 1], &lines).await,
        "203.0.113.9"
    );
    // Garbage ends the walk at the last trusted hop; it is never believed.
    let garbage = ["203.0.113.9, not-an-address, 10.1.2.3"];
    assert_eq!(
        recorded_address(&app, [127, 0, 0, 1], &garbage).await,
        "10.1.2.3"
    );
    // An address with a port, and IPv6.
    let ported = ["[2001:db8::7]:4431"];
    assert_eq!(
        recorded_address(&app, [127, 0, 0, 1], &ported).await,
        "2001:db8::7"
    );
    // The same header from a peer that is no trusted proxy is ignored.
    assert_eq!(
        recorded_address(&app, [127, 0, 0, 2], &chain).await,
        "127.0.0.2"
    );
    // No header from a trusted proxy: the proxy itself.
    assert_eq!(
        recorded_address(&app, [127, 0, 0, 1], &[]).await,
        "127.0.0.1"
    );
}

#[test]
fn rocket_s_own_ip_header_is_refused_at_start_up_naming_the_new_setting() {
    let figment = test_figment("sqlite::memory:").merge(("ip_header", "X-Real-IP"));
    let error = refusal(figment);
    assert!(error.contains("client_ip_header"), "{error}");
    assert!(error.contains("ROCKET_IP_HEADER"), "{error}");
    let half =
        test_figment("sqlite::memory:").merge(("gatehouse.client_ip_header", "X-Forwarded-For"));
    let error = refusal(half);
    assert!(error.contains("trusted_proxies"), "{error}");
}

fn refusal(figment: figment::Figment) -> String {
    match gatehouse::rocket(figment) {
        Ok(_) => panic!("the settings were accepted"),
        Err(error) => error.to_string(),
    }
}
