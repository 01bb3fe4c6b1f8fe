//! No inbox can be bombed or phished through the app: link mails count against the
//! recipient's budget whoever asks, notices go only to a proved address and fold into
//! a digest past their limit, and no message carries text a client chose.

use rocket::http::{Header, Status};
use rocket::local::asynchronous::LocalRequest;
use serde_json::json;

use crate::smtp_sink::{body_of, link_token, mailing_app_with, verify_address, SmtpSink};
use crate::support::{Session, TestApp, PASSWORD};

const OTHER_PASSWORD: &str = "violet canyon drifting northward";

async fn settle() {
    rocket::tokio::time::sleep(std::time::Duration::from_millis(400)).await;
}

/// An app with the shipped mail limits and the rate limits on (the per-address ones
/// raised past what one test client sends).
async fn limited_app(sink: &SmtpSink, notice_limit: &str) -> TestApp {
    let notice_limit = notice_limit.to_string();
    mailing_app_with(sink, move |f| {
        f.merge(("gatehouse.mail_recipient_limit", "5/hour"))
            .merge(("gatehouse.mail_notice_limit", notice_limit))
            .merge(("gatehouse.rate_limit_enabled", true))
            .merge(("gatehouse.rate_limit_register", "1000/minute"))
            .merge(("gatehouse.rate_limit_login", "1000/minute"))
            .merge(("gatehouse.rate_limit_password", "1000/minute"))
    })
    .await
}

/// Changes the signed-in account's password along `passwords`, starting from
/// PASSWORD; the password it ends with.
async fn change_passwords(
    app: &TestApp,
    session: &Session,
    passwords: &[&'static str],
) -> &'static str {
    let mut current = PASSWORD;
    for next in passwords {
        let response = app
            .post_bearer(
                "/api/auth/password",
                &session.access,
                Some(json!({"current_password": current, "new_password": next})),
            )
            .await;
        assert_eq!(response.status(), Status::NoContent);
        current = next;
    }
    current
}

async fn ask_change(app: &TestApp, session: &Session, new_email: &str) -> Status {
    app.post_bearer(
        "/api/auth/email",
        &session.access,
        Some(json!({ "new_email": new_email, "password": PASSWORD })),
    )
    .await
    .status()
}

#[rocket::async_test]
async fn twenty_requests_from_one_account_or_twenty_deliver_at_most_five_messages() {
    let sink = SmtpSink::start().await;
    let app = limited_app(&sink, "3/hour").await;

    // An account registered with the victim's address (never verified) asks for
    // twenty changes: three are let through (the per-account limit), and the victim
    // hears of none of them.
    app.register("mallory", "victim@example.com").await;
    let mallory = app.signed_in("mallory").await;
    let mut answers = Vec::new();
    for n in 0..20 {
        answers.push(ask_change(&app, &mallory, &format!("decoy{n}@example.net")).await);
    }
    let accepted = answers.iter().filter(|s| **s == Status::Accepted).count();
    assert_eq!(accepted, 3, "{answers:?}");
    assert!(answers[3..].iter().all(|s| *s == Status::TooManyRequests));

    // Twenty fresh accounts each ask for the same third party's address: its budget
    // lets five links through.
    for n in 0..20 {
        let name = format!("sender{n}");
        let session = app.signed_in(&name).await;
        assert_eq!(
            ask_change(&app, &session, "target@example.org").await,
            Status::Accepted,
            "the answer does not change past the budget"
        );
    }
    settle().await;
    let victim = sink.to("victim@example.com");
    assert_eq!(victim.len(), 1, "the verification link only: {victim:#?}");
    let target = sink.to("target@example.org");
    assert_eq!(target.len(), 5, "{target:#?}");
}

#[rocket::async_test]
async fn the_spellings_of_one_inbox_share_one_budget() {
    let sink = SmtpSink::start().await;
    let app = limited_app(&sink, "3/hour").await;
    let spellings: Vec<String> = (0..6)
        .map(|n| format!("victim+{n}@gmail.com"))
        .chain([
            "v.ictim@gmail.com".to_string(),
            "vic.tim@googlemail.com".to_string(),
        ])
        .collect();
    for (n, address) in spellings.iter().enumerate() {
        app.register(&format!("decoy{n}"), address).await;
        let response = app
            .post("/api/auth/password/forgot", json!({ "email": address }))
            .await;
        assert_eq!(response.status(), Status::Accepted);
    }
    settle().await;
    let delivered: usize = spellings.iter().map(|a| sink.to(a).len()).sum();
    assert_eq!(delivered, 5, "one inbox, one budget");
}

#[rocket::async_test]
async fn over_budget_a_reset_link_is_not_sent_and_the_last_one_keeps_working() {
    let sink = SmtpSink::start().await;
    let app = limited_app(&sink, "3/hour").await;
    app.register("alice", "alice@example.com").await;
    for _ in 0..10 {
        let response = app
            .post(
                "/api/auth/password/forgot",
                json!({"email": "alice@example.com"}),
            )
            .await;
        assert_eq!(response.status(), Status::Accepted);
        settle().await;
    }
    let messages = sink.to("alice@example.com");
    assert_eq!(messages.len(), 5, "one verification and four reset links");
    let last = messages.last().unwrap();
    let token = link_token(last, "/reset-password");
    let response = app
        .post(
            "/api/auth/password/reset",
            json!({"token": token, "new_password": OTHER_PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), Status::NoContent);
}

#[rocket::async_test]
async fn an_unverified_address_gets_no_notice_until_a_reset_link_proves_it() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| f).await;
    let session = app.signed_in("alice").await;
    let response = app
        .post_bearer(
            "/api/auth/password",
            &session.access,
            Some(json!({"current_password": PASSWORD, "new_password": OTHER_PASSWORD})),
        )
        .await;
    assert_eq!(response.status(), Status::NoContent);
    settle().await;
    assert_eq!(
        sink.to("alice@example.com").len(),
        1,
        "the verification link only"
    );

    let response = app
        .post(
            "/api/auth/password/forgot",
            json!({"email": "alice@example.com"}),
        )
        .await;
    assert_eq!(response.status(), Status::Accepted);
    let link = sink
        .wait_for_one("alice@example.com", "/reset-password?token=")
        .await;
    let response = app
        .post(
            "/api/auth/password/reset",
            json!({"token": link_token(&link, "/reset-password"), "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), Status::NoContent);
    sink.wait_for_one(
        "alice@example.com",
        &format!(
            "password of your {} account was changed",
            gatehouse::config::brand()
        ),
    )
    .await;
    let session = app.signed_in("alice").await;
    let me: serde_json::Value = app
        .get_bearer("/api/auth/me", &session.access)
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(me["email_verified"], true, "{me}");
}

#[rocket::async_test]
async fn notices_past_the_limit_are_folded_into_one_digest_never_dropped() {
    let sink = SmtpSink::start().await;
    let app = limited_app(&sink, "2/2 seconds").await;
    let session = app.signed_in("alice").await;
    verify_address(&app, &sink, "alice@example.com").await;
    change_passwords(
        &app,
        &session,
        &[
            OTHER_PASSWORD,
            PASSWORD,
            OTHER_PASSWORD,
            PASSWORD,
            OTHER_PASSWORD,
        ],
    )
    .await;
    settle().await;
    let changed = &format!(
        "password of your {} account was changed",
        gatehouse::config::brand()
    );
    let said = |words: &str| {
        sink.to("alice@example.com")
            .iter()
            .filter(|m| body_of(m).contains(words))
            .count()
    };
    assert_eq!(said(changed), 2, "two at once, the rest wait");
    let digest = sink
        .wait_for_one("alice@example.com", "More changes were made")
        .await;
    assert_eq!(
        body_of(&digest).matches("was changed").count(),
        3 * 2,
        "{digest}"
    );
}

const AGENT: &str = "Mozilla/5.0 (Windows NT 10.0) see https://evil.example/claim or phish.example";

/// Every token of `text` shaped like a host name (`evil.example`), lower-cased.
fn host_names(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .map(|token| token.trim_matches('.').to_ascii_lowercase())
        .filter(|token| {
            let labels: Vec<&str> = token.split('.').collect();
            labels.len() >= 2
                && labels.iter().all(|l| !l.is_empty())
                && labels
                    .last()
                    .unwrap()
                    .chars()
                    .all(|c| c.is_ascii_alphabetic())
        })
        .collect()
}

#[rocket::async_test]
async fn no_message_carries_a_url_or_host_name_a_client_chose() {
    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| f).await;
    fn with_agent(request: LocalRequest<'_>) -> LocalRequest<'_> {
        request.header(Header::new("User-Agent", AGENT))
    }
    let response = with_agent(app.client.post("/api/auth/register"))
        .json(
            &json!({"username": "visit.evil.example", "email": "alice@example.com",
                      "password": PASSWORD, "display_name": "Go to win.example now"}),
        )
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Created);
    verify_address(&app, &sink, "alice@example.com").await;
    let login = || {
        with_agent(app.client.post("/api/auth/login"))
            .json(&json!({"login": "alice@example.com", "password": PASSWORD}))
    };
    assert_eq!(login().dispatch().await.status(), Status::Ok);
    let body: serde_json::Value = login().dispatch().await.into_json().await.unwrap();
    let access = body["access_token"].as_str().unwrap().to_string();
    let bearer = Header::new("Authorization", format!("Bearer {access}"));

    // A new device, a password change, a change of address asked for and confirmed,
    // a reset.
    let response = app
        .client
        .post("/api/auth/login")
        .header(Header::new("User-Agent", "Firefox/1 https://other.example"))
        .json(&json!({"login": "alice@example.com", "password": PASSWORD}))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    let response = with_agent(app.client.post("/api/auth/password"))
        .header(bearer.clone())
        .json(&json!({"current_password": PASSWORD, "new_password": OTHER_PASSWORD}))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::NoContent);
    let response = with_agent(app.client.post("/api/auth/email"))
        .header(bearer.clone())
        .json(&json!({"new_email": "mine@phish-me.example", "password": OTHER_PASSWORD}))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Accepted);
    let link = sink
        .wait_for_one("mine@phish-me.example", "/confirm-email?token=")
        .await;
    let response = with_agent(app.client.post("/api/auth/email/confirm"))
        .json(&json!({"token": link_token(&link, "/confirm-email")}))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    let response = app
        .post(
            "/api/auth/password/forgot",
            json!({"email": "mine@phish-me.example"}),
        )
        .await;
    assert_eq!(response.status(), Status::Accepted);
    sink.wait_for_one("mine@phish-me.example", "/reset-password?token=")
        .await;
    sink.wait_for_one("alice@example.com", "account was changed")
        .await;
    settle().await;

    let messages = sink.messages();
    assert!(messages.len() >= 7, "{messages:#?}");
    for message in &messages {
        let body = body_of(message);
        let foreign: Vec<String> = host_names(&body)
            .into_iter()
            .filter(|host| host != "app.example.com")
            .collect();
        assert!(foreign.is_empty(), "{foreign:?} in {body}");
        for (at, _) in body.match_indices("://") {
            let ours = "://app.example.com";
            let after = body[at + ours.len()..].chars().next();
            assert!(
                body[..at].ends_with("https")
                    && body[at..].starts_with(ours)
                    && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
                "a URL not ours in {body}"
            );
        }
    }
    assert!(messages
        .iter()
        .any(|m| body_of(m).contains("an unknown browser on Windows")));
}

#[rocket::async_test]
async fn decoys_of_one_kind_do_not_delay_the_first_notice_of_another() {
    let sink = SmtpSink::start().await;
    let app = limited_app(&sink, "3/hour").await;
    let session = app.signed_in("alice").await;
    verify_address(&app, &sink, "alice@example.com").await;
    // Three password changes spend the notices sent at once.
    let current =
        change_passwords(&app, &session, &[OTHER_PASSWORD, PASSWORD, OTHER_PASSWORD]).await;
    let response = app
        .post_bearer(
            "/api/auth/email",
            &session.access,
            Some(json!({"new_email": "elsewhere@example.org", "password": current})),
        )
        .await;
    assert_eq!(response.status(), Status::Accepted);
    sink.wait_for_one("alice@example.com", "asked to change its address")
        .await;
}

#[rocket::async_test]
async fn mails_for_other_accounts_at_one_inbox_cannot_spend_its_owners_budget() {
    let sink = SmtpSink::start().await;
    let app = limited_app(&sink, "3/hour").await;
    app.register("owner", "target@gmail.com").await;
    verify_address(&app, &sink, "target@gmail.com").await;
    // Someone registers spellings of the same inbox: their verification links spend
    // the inbox's budget, which nobody proved.
    for n in 1..=6 {
        app.register(&format!("squatter{n}"), &format!("target+{n}@gmail.com"))
            .await;
    }
    settle().await;
    let response = app
        .post(
            "/api/auth/password/forgot",
            json!({"email": "target@gmail.com"}),
        )
        .await;
    assert_eq!(response.status(), Status::Accepted);
    sink.wait_for_one("target@gmail.com", "/reset-password?token=")
        .await;
}
