//! Changing an account's address through a real SMTP exchange: a link to the new
//! address, a notice to the old one, the change only on confirmation, the same answer
//! whatever the new address, and a link whose address was taken meanwhile refused.

use rocket::http::Status;
use serde_json::{json, Value};

use crate::smtp_sink::{body_of, link_token, mailing_app_with, verify_address, SmtpSink};
use crate::support::{assert_error, Session, TestApp, PASSWORD};

async fn ask(app: &TestApp, session: &Session, new_email: &str, password: &str) -> (Status, Value) {
    let response = app
        .post_bearer(
            "/api/auth/email",
            &session.access,
            Some(json!({ "new_email": new_email, "password": password })),
        )
        .await;
    let status = response.status();
    (status, response.into_json().await.unwrap_or(Value::Null))
}

async fn confirm(app: &TestApp, token: &str) -> (Status, Value) {
    let response = app
        .post("/api/auth/email/confirm", json!({ "token": token }))
        .await;
    let status = response.status();
    (status, response.into_json().await.unwrap_or(Value::Null))
}

#[rocket::async_test]
async fn the_address_changes_only_when_the_new_one_confirms() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| f).await;
    let session = app.signed_in("alice").await;
    verify_address(&app, &sink, "alice@example.com").await;
    let (status, body) = ask(&app, &session, "Alice.New@example.org", PASSWORD).await;
    assert_eq!(status, Status::Accepted, "{body}");
    let link = sink
        .wait_for_one("Alice.New@example.org", "/confirm-email?token=")
        .await;
    let notice = sink
        .wait_for_one("alice@example.com", "asked to change its address")
        .await;
    assert!(
        !body_of(&notice).to_lowercase().contains("alice.new"),
        "the requester's choice of address is not repeated: {notice}"
    );
    let token = link_token(&link, "/confirm-email");

    // Nothing changed yet: the old address still signs in.
    assert_eq!(
        app.login("alice@example.com", PASSWORD).await.status(),
        Status::Ok
    );
    // A change link verifies no address.
    let response = app
        .post("/api/auth/email/verify", json!({ "token": token }))
        .await;
    assert_error(response, Status::BadRequest, "invalid_link").await;

    let (status, body) = confirm(&app, &token).await;
    assert_eq!(status, Status::Ok, "{body}");
    assert_eq!(body["account"]["email"], "Alice.New@example.org");
    assert_eq!(body["account"]["email_verified"], true);
    let me: Value = app
        .get_bearer("/api/auth/me", &session.access)
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(
        me["email"], "Alice.New@example.org",
        "the session sees it at once"
    );
    assert_eq!(
        app.login("alice.new@example.org", PASSWORD).await.status(),
        Status::Ok
    );
    assert_eq!(
        app.login("alice@example.com", PASSWORD).await.status(),
        Status::Unauthorized
    );
    let notice = sink
        .wait_for_one("alice@example.com", "account was changed")
        .await;
    assert!(
        !body_of(&notice).to_lowercase().contains("alice.new"),
        "{notice}"
    );
    assert_eq!(
        confirm(&app, &token).await.0,
        Status::BadRequest,
        "once only"
    );
    let id = app.account_id("alice").await;
    assert_eq!(
        app.events_with_detail(id, "from alice@example.com").await,
        1
    );
}

#[rocket::async_test]
async fn a_taken_address_gets_the_same_answer_and_no_link() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| f).await;
    app.register("bob", "bob@example.com").await;
    let session = app.signed_in("alice").await;
    verify_address(&app, &sink, "alice@example.com").await;
    let taken = ask(&app, &session, "BOB@example.com", PASSWORD).await;
    let free = ask(&app, &session, "free@example.com", PASSWORD).await;
    assert_eq!(taken, free);
    assert_eq!(taken.0, Status::Accepted);
    let link = sink
        .wait_for_one("free@example.com", "/confirm-email?token=")
        .await;
    sink.wait_for_one("alice@example.com", "asked to change its address")
        .await;
    assert!(
        sink.to("BOB@example.com").is_empty() && sink.to("bob@example.com").len() == 1,
        "bob got only his own verification link"
    );

    // Taken meanwhile: the link is no longer valid, and alice keeps her address.
    app.register("carol", "free@example.com").await;
    let (status, body) = confirm(&app, &link_token(&link, "/confirm-email")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (Status::BadRequest, Some("invalid_link"))
    );
    assert_eq!(
        app.login("alice@example.com", PASSWORD).await.status(),
        Status::Ok
    );
}

#[rocket::async_test]
async fn a_change_needs_the_password_and_a_new_valid_address() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| f).await;
    let session = app.signed_in("alice").await;
    let (status, body) = ask(&app, &session, "new@example.com", "not the password at all").await;
    assert_eq!(status, Status::UnprocessableEntity, "{body}");
    assert!(body["error"]["fields"]["password"].is_string(), "{body}");
    assert_eq!(
        app.failed_logins("alice").await,
        1,
        "counted like any password entry"
    );
    for bad in ["not an address", "ALICE@example.com"] {
        let (status, body) = ask(&app, &session, bad, PASSWORD).await;
        assert_eq!(status, Status::UnprocessableEntity, "{body}");
        assert!(body["error"]["fields"]["new_email"].is_string(), "{body}");
    }
    rocket::tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(sink.to("new@example.com").is_empty());
    let response = app
        .post(
            "/api/auth/email",
            json!({ "new_email": "new@example.com", "password": PASSWORD }),
        )
        .await;
    assert_error(response, Status::Unauthorized, "missing_token").await;
}

#[rocket::async_test]
async fn change_links_expire() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| f.merge(("gatehouse.email_change_ttl", 600))).await;
    let session = app.signed_in("alice").await;
    ask(&app, &session, "new@example.com", PASSWORD).await;
    let link = sink
        .wait_for_one("new@example.com", "within 10 minutes")
        .await;
    app.clock.advance(601);
    assert_eq!(
        confirm(&app, &link_token(&link, "/confirm-email")).await.0,
        Status::BadRequest
    );
}

#[rocket::async_test]
async fn a_password_change_voids_a_pending_change_of_address() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| f).await;
    let session = app.signed_in("alice").await;
    ask(&app, &session, "intruder@example.net", PASSWORD).await;
    let link = sink
        .wait_for_one("intruder@example.net", "/confirm-email?token=")
        .await;
    let response = app
        .post_bearer(
            "/api/auth/password",
            &session.access,
            Some(json!({"current_password": PASSWORD, "new_password": "violet canyon drifting northward"})),
        )
        .await;
    assert_eq!(response.status(), Status::NoContent);
    let (status, _) = confirm(&app, &link_token(&link, "/confirm-email")).await;
    assert_eq!(status, Status::BadRequest);
}

#[rocket::async_test]
async fn an_address_is_a_bare_address_so_mail_goes_where_its_key_says() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| f).await;
    let session = app.signed_in("alice").await;
    for dressed in [
        "Evil <bob@example.com>",
        "<bob@example.com>",
        "bob@example.com(comment)",
        "a@b.com,bob@example.com",
    ] {
        let (status, body) = ask(&app, &session, dressed, PASSWORD).await;
        assert_eq!(status, Status::UnprocessableEntity, "{dressed}: {body}");
        let response = app
            .post(
                "/api/auth/register",
                json!({"username": "mallory", "email": dressed, "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), Status::UnprocessableEntity, "{dressed}");
    }
}

#[rocket::async_test]
async fn a_change_of_address_voids_the_links_sent_to_the_old_one_for_good() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| f).await;
    let session = app.signed_in("alice").await;
    let response = app
        .post(
            "/api/auth/password/forgot",
            json!({"email": "alice@example.com"}),
        )
        .await;
    assert_eq!(response.status(), Status::Accepted);
    let reset = link_token(
        &sink
            .wait_for_one("alice@example.com", "/reset-password?token=")
            .await,
        "/reset-password",
    );
    // Away to another address and back within the hour.
    for address in ["elsewhere@example.org", "alice@example.com"] {
        assert_eq!(
            ask(&app, &session, address, PASSWORD).await.0,
            Status::Accepted
        );
        let link = sink.wait_for_one(address, "/confirm-email?token=").await;
        assert_eq!(
            confirm(&app, &link_token(&link, "/confirm-email")).await.0,
            Status::Ok
        );
    }
    let response = app
        .post(
            "/api/auth/password/reset",
            json!({"token": reset, "new_password": "violet canyon drifting northward"}),
        )
        .await;
    assert_error(response, Status::BadRequest, "invalid_link").await;
}
