//! Email verification through a real SMTP exchange: the link a registration sends,
//! following it, resending, misuse (reused, expired, tampered), the login switch, the
//! CLI, and the routes gone with mail off.

use rocket::http::Status;
use serde_json::{json, Value};

use crate::cli::{gatehouse, stderr};
use crate::smtp_sink::SmtpSink;
use crate::support::{assert_error, spawn_app, spawn_app_with, TestApp, PASSWORD};

async fn mailing_app(sink: &SmtpSink, required: bool) -> TestApp {
    mailing_app_throttled(sink, required, 60).await
}

async fn mailing_app_throttled(sink: &SmtpSink, required: bool, throttle: u64) -> TestApp {
    let url = sink.url();
    spawn_app_with(move |f| {
        f.merge(("gatehouse.mail_transport", "smtp"))
            .merge(("gatehouse.smtp_url", url))
            .merge(("gatehouse.public_url", "https://app.example.com"))
            .merge(("gatehouse.email_verification_required", required))
            .merge(("gatehouse.mail_throttle_seconds", throttle))
            .merge(("gatehouse.mail_recipient_limit", "1000/hour"))
    })
    .await
}

fn token_in(message: &str) -> String {
    crate::smtp_sink::link_token(message, "/verify-email")
}

async fn verify(app: &TestApp, token: &str) -> (Status, Value) {
    let response = app
        .post("/api/auth/email/verify", json!({ "token": token }))
        .await;
    let status = response.status();
    (status, response.into_json().await.unwrap_or(Value::Null))
}

#[rocket::async_test]
async fn registration_sends_a_link_that_verifies_the_address_once() {
    let sink = SmtpSink::start().await;
    let app = mailing_app(&sink, false).await;
    let body = app.register("alice", "alice@example.com").await;
    assert_eq!(body["account"]["email_verified"], false);
    let message = sink.wait_for(1).await.remove(0);
    assert!(message.contains("To: alice@example.com"), "{message}");
    assert!(
        message.contains("https://app.example.com/verify-email?token="),
        "{message}"
    );
    let token = token_in(&message);
    assert!(token.len() >= 40, "{token}");

    // A tampered token, then the real one, then the real one again.
    let mut tampered = token.clone();
    tampered.replace_range(..1, if token.starts_with('A') { "B" } else { "A" });
    let (status, body) = verify(&app, &tampered).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (Status::BadRequest, Some("invalid_link"))
    );
    let (status, body) = verify(&app, &token).await;
    assert_eq!(status, Status::Ok, "{body}");
    assert_eq!(body["account"]["email_verified"], true);
    assert!(body["account"]["email_verified_at"].is_i64());
    let (status, again) = verify(&app, &token).await;
    assert_eq!(status, Status::BadRequest);
    assert_eq!(
        again,
        body_of_invalid(&app, &tampered).await,
        "all refusals alike"
    );

    let session = app.signed_in("alice").await;
    let me: Value = app
        .get_bearer("/api/auth/me", &session.access)
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(me["email_verified"], true);
    assert_error(
        app.post_bearer("/api/auth/email/resend", &session.access, None)
            .await,
        Status::Conflict,
        "conflict",
    )
    .await;
}

async fn body_of_invalid(app: &TestApp, token: &str) -> Value {
    verify(app, token).await.1
}

#[rocket::async_test]
async fn a_link_expires_and_resent_ones_keep_three_alive_until_one_is_used() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_throttled(&sink, false, 0).await;
    app.register("alice", "alice@example.com").await;
    let first = token_in(&sink.wait_for(1).await[0]);
    app.clock.advance(24 * 60 * 60 + 1);
    assert_eq!(verify(&app, &first).await.0, Status::BadRequest, "expired");

    let session = app.signed_in("alice").await;
    let response = app
        .post_bearer("/api/auth/email/resend", &session.access, None)
        .await;
    assert_eq!(response.status(), Status::Accepted);
    let second = token_in(&sink.wait_for(2).await[1]);
    let mut later = Vec::new();
    for n in 3..=5 {
        app.post_bearer("/api/auth/email/resend", &session.access, None)
            .await;
        later.push(token_in(&sink.wait_for(n).await[n - 1]));
    }
    assert_eq!(
        verify(&app, &second).await.0,
        Status::BadRequest,
        "the fourth live link voided it"
    );
    assert_eq!(
        verify(&app, &later[1]).await.0,
        Status::Ok,
        "the others work"
    );
    assert_eq!(
        verify(&app, &later[2]).await.0,
        Status::BadRequest,
        "one use ends them all"
    );
}

#[rocket::async_test]
async fn a_throttled_resend_sends_nothing_and_keeps_the_last_link_working() {
    let sink = SmtpSink::start().await;
    let app = mailing_app(&sink, false).await;
    app.register("alice", "alice@example.com").await;
    let first = token_in(&sink.wait_for(1).await[0]);
    let session = app.signed_in("alice").await;
    for _ in 0..3 {
        let response = app
            .post_bearer("/api/auth/email/resend", &session.access, None)
            .await;
        assert_eq!(
            response.status(),
            Status::Accepted,
            "the answer never changes"
        );
    }
    rocket::tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1, "one message a minute");
    assert_eq!(verify(&app, &first).await.0, Status::Ok);
}

#[rocket::async_test]
async fn when_required_an_unverified_account_cannot_log_in() {
    let sink = SmtpSink::start().await;
    let app = mailing_app(&sink, true).await;
    app.register("alice", "alice@example.com").await;
    assert_error(
        app.login("alice", PASSWORD).await,
        Status::Forbidden,
        "email_unverified",
    )
    .await;
    assert_eq!(
        app.failed_logins("alice").await,
        0,
        "a right password costs nothing"
    );
    let token = token_in(&sink.wait_for(1).await[0]);
    assert_eq!(verify(&app, &token).await.0, Status::Ok);
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn the_cli_verifies_by_hand_and_its_superusers_are_verified() {
    let app = spawn_app().await;
    app.register("alice", "alice@example.com").await;
    let output = gatehouse(&app.db, &["accounts", "verify-email", "alice"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let created = crate::cli::create_root_with(&app.db, "a sturdy lighthouse keeper");
    assert!(created.status.success(), "{}", stderr(&created));
    let unverified: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE email_verified_at IS NULL")
            .fetch_one(&app.pool())
            .await
            .unwrap();
    assert_eq!(unverified, 0);
}

#[rocket::async_test]
async fn with_mail_off_the_email_routes_are_gone() {
    let app = spawn_app().await;
    let response = app
        .post("/api/auth/email/verify", json!({"token": "x"}))
        .await;
    assert_eq!(response.status(), Status::NotFound);
}

#[rocket::async_test]
async fn pages_show_a_banner_until_the_address_is_verified() {
    use crate::support::{browser_login, csrf, location, page, spawn_browser_with, submit};
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = spawn_browser_with(move |f| {
        f.merge(("gatehouse.mail_transport", "smtp"))
            .merge(("gatehouse.smtp_url", url))
            .merge(("gatehouse.public_url", "https://app.example.com"))
            .merge(("gatehouse.mail_throttle_seconds", 0))
    })
    .await;
    browser_login(&app, "alice").await;
    let (_, html) = page(&app, "/").await;
    assert!(html.contains("Please confirm your email address"), "{html}");
    let token = csrf(&app);
    let response = submit(&app, "/account/email/resend", &[("csrf_token", &token)]).await;
    assert_eq!(location(&response), "/account");
    let (_, html) = page(&app, "/account").await;
    assert!(html.contains("We sent a new link"), "{html}");
    let messages = sink.wait_for(2).await;
    // The earlier link still works; using one ends the other.
    assert_eq!(verify(&app, &token_in(&messages[0])).await.0, Status::Ok);
    assert_eq!(
        verify(&app, &token_in(&messages[1])).await.0,
        Status::BadRequest
    );
    app.clock.advance(2);
    let (_, html) = page(&app, "/").await;
    assert!(
        !html.contains("Please confirm your email address"),
        "{html}"
    );
}
