//! The pages mail links open: the token leaves the address at once (exchanged for a
//! form token in an HttpOnly cookie), opening a page spends nothing (mail scanners open
//! links), and the form does: reset, verification and change of address, with
//! "Forgot password?" on the login page.

use rocket::http::Status;

use crate::smtp_sink::{link_token, readable, SmtpSink};
use crate::support::{
    browser_login, cookie_name, csrf, location, page, spawn_browser_with, submit, TestApp, PASSWORD,
};

const NEW_PASSWORD: &str = "violet canyon drifting northward";

async fn mailing_browser(sink: &SmtpSink) -> TestApp {
    let url = sink.url();
    spawn_browser_with(move |f| {
        f.merge(("gatehouse.mail_transport", "smtp"))
            .merge(("gatehouse.smtp_url", url))
            .merge(("gatehouse.public_url", "https://app.example.com"))
            .merge(("gatehouse.mail_throttle_seconds", 0))
    })
    .await
}

/// Opens a link as a browser does: the token goes into a cookie and the page redirects
/// to its own address without it.
async fn open_link(app: &TestApp, page_path: &str, token: &str) {
    let response = app
        .client
        .get(format!("{page_path}?token={token}"))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), page_path);
    let cookies: Vec<&str> = response.headers().get("Set-Cookie").collect();
    assert!(
        cookies.iter().all(|c| !c.contains(token)),
        "the token itself is never a cookie: {cookies:?}"
    );
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with(&cookie_name("link_")) && c.contains("HttpOnly")),
        "{cookies:?}"
    );
}

#[rocket::async_test]
async fn a_forgotten_password_is_reset_through_the_pages() {
    let sink = SmtpSink::start().await;
    let app = mailing_browser(&sink).await;
    app.register("alice", "alice@example.com").await;
    let (_, login) = page(&app, "/login").await;
    assert!(login.contains("href=\"/forgot-password\""), "{login}");
    let (status, html) = page(&app, "/forgot-password").await;
    assert_eq!(status, Status::Ok);
    assert!(html.contains("works for 1 hour"), "{html}");
    let token = csrf(&app);
    for email in ["nobody@example.com", "alice@example.com"] {
        let response = submit(
            &app,
            "/forgot-password",
            &[("email", email), ("csrf_token", &token)],
        )
        .await;
        assert_eq!(location(&response), "/login");
        let (_, html) = page(&app, "/login").await;
        assert!(html.contains("If an account has that address"), "{html}");
    }
    let message = sink
        .wait_for_one("alice@example.com", "/reset-password?token=")
        .await;
    let link = link_token(&message, "/reset-password");

    // A scanner opens the link first; the owner's visit still works.
    let scanner = mailing_browser(&sink).await;
    let scanned = scanner
        .client
        .get(format!("/reset-password?token={link}"))
        .dispatch()
        .await;
    assert_eq!(scanned.status(), Status::SeeOther);

    open_link(&app, "/reset-password", &link).await;
    let (status, html) = page(&app, "/reset-password").await;
    assert_eq!(status, Status::Ok);
    assert!(html.contains("name=\"new_password\""), "{html}");
    assert!(!html.contains(&link), "the page never shows the token");

    let token = csrf(&app);
    let response = submit(
        &app,
        "/reset-password",
        &[("new_password", "short"), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(location(&response), "/reset-password");
    let (_, html) = page(&app, "/reset-password").await;
    assert!(html.contains("New password must be at least"), "{html}");
    let response = submit(
        &app,
        "/reset-password",
        &[("new_password", NEW_PASSWORD), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(location(&response), "/login");
    let (_, html) = page(&app, "/login").await;
    assert!(html.contains("Your password is changed"), "{html}");
    assert_eq!(app.login("alice", NEW_PASSWORD).await.status(), Status::Ok);
    assert_eq!(
        app.login("alice", PASSWORD).await.status(),
        Status::Unauthorized
    );

    // Spent: the link now opens a page that says so, and the scanner's form is void.
    open_link(&app, "/reset-password", &link).await;
    let (_, html) = page(&app, "/reset-password").await;
    assert!(html.contains("no longer valid"), "{html}");
    assert!(html.contains("href=\"/forgot-password\""), "{html}");
    page(&scanner, "/reset-password").await;
    let token = csrf(&scanner);
    let response = submit(
        &scanner,
        "/reset-password",
        &[
            ("new_password", "another fine password 7"),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_eq!(location(&response), "/reset-password");
    assert_eq!(app.login("alice", NEW_PASSWORD).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn a_link_form_needs_this_browsers_csrf_token() {
    let sink = SmtpSink::start().await;
    let app = mailing_browser(&sink).await;
    app.register("alice", "alice@example.com").await;
    let link = link_token(&sink.wait_for(1).await[0], "/verify-email");
    open_link(&app, "/verify-email", &link).await;
    let response = submit(&app, "/verify-email", &[("csrf_token", "forged")]).await;
    assert_eq!(response.status(), Status::Forbidden);
    let (_, html) = page(&app, "/verify-email").await;
    assert!(html.contains("Confirm my address"), "{html}");
    let token = csrf(&app);
    let response = submit(&app, "/verify-email", &[("csrf_token", &token)]).await;
    assert_eq!(location(&response), "/");
    let (_, html) = page(&app, "/").await;
    assert!(html.contains("Your address is confirmed"), "{html}");
    let verified: Option<i64> =
        sqlx::query_scalar("SELECT email_verified_at FROM accounts WHERE username_key = 'alice'")
            .fetch_one(&app.pool())
            .await
            .unwrap();
    assert!(verified.is_some());
}

#[rocket::async_test]
async fn the_account_page_changes_the_address_through_a_confirmation_link() {
    let sink = SmtpSink::start().await;
    let app = mailing_browser(&sink).await;
    browser_login(&app, "alice").await;
    // Notices go only to a proved address.
    sqlx::query("UPDATE accounts SET email_verified_at = 1 WHERE username_key = 'alice'")
        .execute(&app.pool())
        .await
        .unwrap();
    let (_, html) = page(&app, "/account").await;
    assert!(html.contains("action=\"/account/email\""), "{html}");
    let token = csrf(&app);
    let response = submit(
        &app,
        "/account/email",
        &[
            ("new_email", "fresh@example.com"),
            ("password", "not the password at all"),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_eq!(location(&response), "/account");
    let (_, html) = page(&app, "/account").await;
    assert!(html.contains("Password is incorrect"), "{html}");
    assert!(html.contains("value=\"fresh@example.com\""), "kept: {html}");
    let response = submit(
        &app,
        "/account/email",
        &[
            ("new_email", "fresh@example.com"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_eq!(location(&response), "/account");
    let (_, html) = page(&app, "/account").await;
    assert!(
        html.contains("We sent a link to fresh@example.com"),
        "{html}"
    );
    let message = sink
        .wait_for_one("fresh@example.com", "/confirm-email?token=")
        .await;
    open_link(
        &app,
        "/confirm-email",
        &link_token(&message, "/confirm-email"),
    )
    .await;
    let (_, html) = page(&app, "/confirm-email").await;
    assert!(html.contains("Confirm my new address"), "{html}");
    let response = submit(&app, "/confirm-email", &[("csrf_token", &token)]).await;
    assert_eq!(location(&response), "/");
    let (_, html) = page(&app, "/account").await;
    assert!(html.contains("fresh@example.com"), "{html}");
    let notice = sink
        .wait_for_one("alice@example.com", "account was changed")
        .await;
    assert!(readable(&notice).contains("Hello,"), "{notice}");
    assert!(!readable(&notice).contains("fresh@example.com"), "{notice}");
}

#[rocket::async_test]
async fn odd_spellings_of_a_link_page_lose_the_token_too() {
    let sink = SmtpSink::start().await;
    let app = mailing_browser(&sink).await;
    app.register("alice", "alice@example.com").await;
    let link = link_token(&sink.wait_for(1).await[0], "/verify-email");
    for spelling in ["/verify-email/", "//verify-email", "/verify%2Demail"] {
        let response = app
            .client
            .get(format!("{spelling}?token={link}&lang=en"))
            .dispatch()
            .await;
        assert_eq!(response.status(), Status::SeeOther, "{spelling}");
        assert_eq!(location(&response), "/verify-email", "{spelling}");
    }
    let (_, html) = page(&app, "/verify-email").await;
    assert!(html.contains("Confirm my address"), "{html}");
}
