//! Security notices to the account's address: a password change, two-factor turned
//! off, new recovery codes and a sign-in from a device not seen before; each can be
//! switched off.

use rocket::http::{Header, Status};
use serde_json::json;

use crate::smtp_sink::{mailing_app_with, readable, verify_address, SmtpSink};
use crate::support::{TestApp, PASSWORD};
use crate::two_factor::{code_now, enrol};

async fn login_from(app: &TestApp, agent: &str) {
    let response = app
        .client
        .post("/api/auth/login")
        .header(Header::new("User-Agent", agent.to_string()))
        .json(&json!({"login": "alice", "password": PASSWORD}))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
}

fn notices_saying(sink: &SmtpSink, words: &str) -> usize {
    sink.to("alice@example.com")
        .iter()
        .filter(|m| readable(m).contains(words))
        .count()
}

/// Lets background sends land before counting what did not arrive.
async fn settle() {
    rocket::tokio::time::sleep(std::time::Duration::from_millis(300)).await;
}

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

const NEW_DEVICE: &str = "from a device it had not used before";

#[rocket::async_test]
async fn a_sign_in_from_a_device_not_seen_before_is_told() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| f).await;
    app.register("alice", "alice@example.com").await;
    verify_address(&app, &sink, "alice@example.com").await;
    login_from(&app, FIREFOX).await;
    login_from(&app, FIREFOX).await;
    settle().await;
    assert_eq!(
        notices_saying(&sink, NEW_DEVICE),
        0,
        "the first device is no news"
    );
    login_from(&app, SAFARI).await;
    let notice = sink.wait_for_one("alice@example.com", NEW_DEVICE).await;
    assert!(readable(&notice).contains("Safari on iOS"), "{notice}");
    login_from(&app, FIREFOX).await;
    login_from(&app, SAFARI).await;
    settle().await;
    assert_eq!(notices_saying(&sink, NEW_DEVICE), 1);
}

#[rocket::async_test]
async fn each_notice_can_be_switched_off() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| {
        f.merge(("gatehouse.notify_new_device", false))
            .merge(("gatehouse.notify_password_changed", false))
    })
    .await;
    app.register("alice", "alice@example.com").await;
    verify_address(&app, &sink, "alice@example.com").await;
    login_from(&app, FIREFOX).await;
    login_from(&app, SAFARI).await;
    let session = app.signed_in("alice").await;
    let response = app
        .post_bearer(
            "/api/auth/password",
            &session.access,
            Some(json!({"current_password": PASSWORD, "new_password": "violet canyon drifting northward"})),
        )
        .await;
    assert_eq!(response.status(), Status::NoContent);
    settle().await;
    assert_eq!(notices_saying(&sink, NEW_DEVICE), 0);
    assert_eq!(
        notices_saying(
            &sink,
            &format!(
                "password of your {} account was changed",
                gatehouse::config::brand()
            )
        ),
        0
    );
    assert_eq!(
        sink.to("alice@example.com").len(),
        1,
        "the verification link only"
    );
}

#[rocket::async_test]
async fn turning_two_factor_off_and_new_recovery_codes_are_told() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| f).await;
    app.register("alice", "alice@example.com").await;
    verify_address(&app, &sink, "alice@example.com").await;
    let enrolled = enrol(&app, "alice").await;
    let response = app
        .post_bearer(
            "/api/auth/2fa/recovery-codes",
            &enrolled.access,
            Some(json!({ "code": code_now(&app, &enrolled.secret) })),
        )
        .await;
    assert_eq!(response.status(), Status::Ok);
    sink.wait_for_one("alice@example.com", "New recovery codes were made")
        .await;
    app.clock.advance(30);
    let response = app
        .post_bearer(
            "/api/auth/2fa/disable",
            &enrolled.access,
            Some(json!({"password": PASSWORD, "code": code_now(&app, &enrolled.secret)})),
        )
        .await;
    assert_eq!(response.status(), Status::NoContent);
    let notice = sink
        .wait_for_one(
            "alice@example.com",
            "Two-factor authentication was turned off",
        )
        .await;
    assert!(readable(&notice).contains("When: "), "{notice}");
}
