//! Password reset by email through a real SMTP exchange: the request answers alike for
//! every address, the link sets a password once under the policy, ends every session
//! and clears the lockout, and bypasses nothing else; its token expires, is voided by a
//! newer one and by a password change, and serves no other purpose.

use rocket::http::Status;
use serde_json::{json, Value};

use crate::smtp_sink::{link_token, mailing_app_with, readable, SmtpSink};
use crate::support::{assert_error, TestApp, PASSWORD};

const NEW_PASSWORD: &str = "violet canyon drifting northward";

async fn forgot(app: &TestApp, email: &str) -> (Status, String, Vec<(String, String)>) {
    let response = app
        .post("/api/auth/password/forgot", json!({ "email": email }))
        .await;
    let status = response.status();
    let headers = crate::support::comparable_headers(&response);
    (
        status,
        response.into_string().await.unwrap_or_default(),
        headers,
    )
}

async fn reset(app: &TestApp, token: &str, password: &str) -> (Status, Value) {
    let response = app
        .post(
            "/api/auth/password/reset",
            json!({ "token": token, "new_password": password }),
        )
        .await;
    let status = response.status();
    (status, response.into_json().await.unwrap_or(Value::Null))
}

/// Asks for a reset of `email` and returns the token of the link that arrives.
async fn reset_link(app: &TestApp, sink: &SmtpSink, email: &str) -> String {
    let links = || -> Vec<String> {
        sink.to(email)
            .into_iter()
            .filter(|m| readable(m).contains("/reset-password?token="))
            .collect()
    };
    let before = links().len();
    assert_eq!(forgot(app, email).await.0, Status::Accepted);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let messages = links();
        if messages.len() > before {
            return link_token(messages.last().unwrap(), "/reset-password");
        }
        assert!(std::time::Instant::now() < deadline, "no reset link");
        rocket::tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[rocket::async_test]
async fn forgot_answers_alike_and_the_link_sets_a_password_once() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| f).await;
    let alice = app.signed_in("alice").await;
    for _ in 0..3 {
        app.login("alice", "wrong password entirely").await;
    }
    assert_eq!(app.failed_logins("alice").await, 3);

    let known = forgot(&app, "ALICE@example.com").await;
    let unknown = forgot(&app, "nobody@example.com").await;
    assert_eq!(known.0, Status::Accepted);
    assert_eq!((known.1.clone(), known.2.clone()), (unknown.1, unknown.2));
    let message = sink
        .wait_for_one("alice@example.com", "/reset-password?token=")
        .await;
    assert!(
        readable(&message).contains("https://app.example.com/reset-password?token="),
        "{message}"
    );
    let token = link_token(&message, "/reset-password");
    assert!(token.len() >= 40, "at least 128 bits: {token}");
    assert!(sink.to("nobody@example.com").is_empty());

    // A password the policy refuses leaves the token for another try.
    let (status, body) = reset(&app, &token, "short").await;
    assert_eq!(status, Status::UnprocessableEntity, "{body}");
    assert!(
        body["error"]["fields"]["new_password"].is_string(),
        "{body}"
    );
    let (status, body) = reset(&app, &token, NEW_PASSWORD).await;
    assert_eq!(status, Status::NoContent, "{body}");

    // Every session ended; the lockout counter cleared; the new password works.
    assert_error(
        app.get_bearer("/api/auth/me", &alice.access).await,
        Status::Unauthorized,
        "session_revoked",
    )
    .await;
    assert_eq!(app.failed_logins("alice").await, 0);
    assert_eq!(
        app.login("alice", PASSWORD).await.status(),
        Status::Unauthorized
    );
    assert_eq!(app.login("alice", NEW_PASSWORD).await.status(), Status::Ok);

    // Once only; a tampered token is refused the same way.
    let (status, again) = reset(&app, &token, "another fine password 7").await;
    assert_eq!(status, Status::BadRequest);
    assert_eq!(again["error"]["code"], "invalid_link");
    let (_, tampered) = reset(&app, &format!("x{}", &token[1..]), NEW_PASSWORD).await;
    assert_eq!(again, tampered);

    let id = app.account_id("alice").await;
    assert_eq!(app.events_with_detail(id, "by link").await, 1);
    let requested: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM auth_events WHERE kind = 'password_reset_requested' AND account_id = $1",
    )
    .bind(id)
    .fetch_one(&app.pool())
    .await
    .unwrap();
    assert_eq!(requested, 1);
    sink.wait_for_one(
        "alice@example.com",
        &format!(
            "password of your {} account was changed",
            gatehouse::config::brand()
        ),
    )
    .await;
}

#[rocket::async_test]
async fn one_token_sent_many_times_at_once_sets_one_password() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| f).await;
    app.register("alice", "alice@example.com").await;
    let token = reset_link(&app, &sink, "alice@example.com").await;
    let passwords: Vec<String> = (0..12)
        .map(|i| format!("violet canyon drifting number {i}"))
        .collect();
    let answers =
        rocket::futures::future::join_all(passwords.iter().map(|p| reset(&app, &token, p))).await;
    let done = answers
        .iter()
        .filter(|(s, _)| *s == Status::NoContent)
        .count();
    let refused = answers
        .iter()
        .filter(|(s, b)| *s == Status::BadRequest && b["error"]["code"] == "invalid_link")
        .count();
    assert_eq!((done, refused), (1, 11), "{answers:?}");
    let winner = answers
        .iter()
        .position(|(s, _)| *s == Status::NoContent)
        .unwrap();
    assert_eq!(
        app.login("alice", &passwords[winner]).await.status(),
        Status::Ok
    );
}

#[rocket::async_test]
async fn a_reset_unblocks_nothing_and_two_factor_still_asks() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| f).await;
    let admin = app.signed_in_admin("boss", true).await;
    app.register("mallory", "mallory@example.com").await;
    let id = app.account_id("mallory").await;
    let response = app
        .post_bearer(
            &format!("/api/admin/accounts/{id}/block"),
            &admin.access,
            Some(json!({"reason": "abuse"})),
        )
        .await;
    assert_eq!(response.status(), Status::Ok);
    let token = reset_link(&app, &sink, "mallory@example.com").await;
    assert_eq!(reset(&app, &token, NEW_PASSWORD).await.0, Status::NoContent);
    assert_error(
        app.login("mallory", NEW_PASSWORD).await,
        Status::Forbidden,
        "account_blocked",
    )
    .await;

    crate::two_factor::enrol(&app, "carol").await;
    let token = reset_link(&app, &sink, "carol@example.com").await;
    assert_eq!(reset(&app, &token, NEW_PASSWORD).await.0, Status::NoContent);
    let body: Value = app
        .login("carol", NEW_PASSWORD)
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(body["two_factor_required"], true, "{body}");
}

#[rocket::async_test]
async fn reset_tokens_expire_are_voided_and_serve_no_other_purpose() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| f).await;
    app.register("alice", "alice@example.com").await;
    let first_verification = link_token(&sink.wait_for(1).await[0], "/verify-email");

    // Expired after password_reset_ttl (an hour).
    let token = reset_link(&app, &sink, "alice@example.com").await;
    app.clock.advance(3601);
    assert_eq!(
        reset(&app, &token, NEW_PASSWORD).await.0,
        Status::BadRequest
    );

    // A newer request leaves the earlier links working (an anonymous request must not
    // kill the owner's link); past three live links the oldest is voided.
    let oldest = reset_link(&app, &sink, "alice@example.com").await;
    let older = reset_link(&app, &sink, "alice@example.com").await;
    let newer = reset_link(&app, &sink, "alice@example.com").await;
    let newest = reset_link(&app, &sink, "alice@example.com").await;
    assert_eq!(
        reset(&app, &oldest, NEW_PASSWORD).await.0,
        Status::BadRequest
    );

    // Voided by a password change.
    let session = app.signed_in("alice").await;
    let response = app
        .post_bearer(
            "/api/auth/password",
            &session.access,
            Some(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(response.status(), Status::NoContent);
    for voided in [&older, &newer, &newest] {
        assert_eq!(
            reset(&app, voided, "another fine password 7").await.0,
            Status::BadRequest
        );
    }

    // A password change voids every link (the verification link too): a new one.
    let response = app
        .post_bearer("/api/auth/email/resend", &session.access, None)
        .await;
    assert_eq!(response.status(), Status::Accepted);
    let verification = loop {
        let links: Vec<String> = sink
            .to("alice@example.com")
            .into_iter()
            .filter(|m| readable(m).contains("/verify-email?token="))
            .collect();
        if links.len() == 2 {
            break link_token(&links[1], "/verify-email");
        }
        rocket::tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_ne!(verification, first_verification);

    // Wrong purpose, both ways.
    let token = reset_link(&app, &sink, "alice@example.com").await;
    let response = app
        .post("/api/auth/email/verify", json!({ "token": token }))
        .await;
    assert_error(response, Status::BadRequest, "invalid_link").await;
    assert_eq!(
        reset(&app, &verification, "another fine password 7")
            .await
            .0,
        Status::BadRequest
    );
    // Neither was spent by the wrong use (verified first: a reset voids every link).
    let response = app
        .post("/api/auth/email/verify", json!({ "token": verification }))
        .await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(
        reset(&app, &token, "another fine password 7").await.0,
        Status::NoContent
    );
}

#[rocket::async_test]
async fn an_spa_names_its_own_link_target_among_the_allowed() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| {
        f.merge((
            "gatehouse.link_allowlist",
            vec!["https://spa.example.com/auth/reset"],
        ))
    })
    .await;
    app.register("alice", "alice@example.com").await;
    let response = app
        .post(
            "/api/auth/password/forgot",
            json!({"email": "alice@example.com", "redirect_to": "https://evil.example/steal"}),
        )
        .await;
    let body = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    assert!(body["error"]["fields"]["redirect_to"].is_string(), "{body}");
    let response = app
        .post(
            "/api/auth/password/forgot",
            json!({"email": "alice@example.com", "redirect_to": "https://spa.example.com/auth/reset"}),
        )
        .await;
    assert_eq!(response.status(), Status::Accepted);
    let message = sink
        .wait_for_one(
            "alice@example.com",
            "https://spa.example.com/auth/reset#token=",
        )
        .await;
    let text = readable(&message);
    let start = text.find("/auth/reset#token=").unwrap() + "/auth/reset#token=".len();
    let token: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert!(text.contains("&type=password_reset"), "{text}");
    assert_eq!(reset(&app, &token, NEW_PASSWORD).await.0, Status::NoContent);
}

#[rocket::async_test]
async fn another_request_leaves_the_owners_link_working_and_one_use_ends_them_all() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| f).await;
    app.register("alice", "alice@example.com").await;
    let owners = reset_link(&app, &sink, "alice@example.com").await;
    // Someone else asks for alice's address a minute later, twice.
    app.clock.advance(60);
    let second = reset_link(&app, &sink, "alice@example.com").await;
    let third = reset_link(&app, &sink, "alice@example.com").await;
    assert_eq!(
        reset(&app, &owners, NEW_PASSWORD).await.0,
        Status::NoContent
    );
    for spent in [&owners, &second, &third] {
        assert_eq!(
            reset(&app, spent, "another fine password 7").await.0,
            Status::BadRequest
        );
    }
}
