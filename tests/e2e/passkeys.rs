//! Passkeys in a real Chromium, with the WebDriver virtual authenticator (the W3C
//! WebAuthn extension's endpoints, sent as custom commands: fantoccini has none), on
//! `localhost` (browsers refuse passkeys on an IP address): a passkey is added on the
//! account page, and after signing out it signs in with no username typed.

use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, Locator};
use serde_json::{json, Value};

use super::{browser_programs, fill, page_text, path, say_skipped, screenshot, submit, Harness};

/// A command of the WebAuthn extension: `/session/{id}/webauthn/{path}`.
#[derive(Debug)]
struct WebAuthn {
    path: String,
    method: http::Method,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for WebAuthn {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/webauthn/{}", self.path))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(Value::to_string),
        )
    }
}

/// A platform authenticator that keeps discoverable credentials and verifies its
/// user (as a laptop's fingerprint reader), answering without a prompt.
async fn add_authenticator(browser: &Client) -> String {
    let added = browser
        .issue_cmd(WebAuthn {
            path: "authenticator".into(),
            method: http::Method::POST,
            body: Some(json!({
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserVerified": true,
                "automaticPresenceSimulation": true,
            })),
        })
        .await
        .expect("a virtual authenticator");
    added.as_str().expect("its id").to_string()
}

async fn credentials(browser: &Client, authenticator: &str) -> Vec<Value> {
    let listed = browser
        .issue_cmd(WebAuthn {
            path: format!("authenticator/{authenticator}/credentials"),
            method: http::Method::GET,
            body: None,
        })
        .await
        .expect("the authenticator's credentials");
    listed.as_array().cloned().unwrap_or_default()
}

/// Waits until the element `css` is shown (the script unhides the passkey controls).
async fn shown(browser: &Client, css: &str) -> fantoccini::elements::Element {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(element) = browser.find(Locator::Css(css)).await {
            if element.is_displayed().await.unwrap_or(false) {
                return element;
            }
        }
        assert!(Instant::now() < deadline, "{css} was not shown within 10 s");
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The page's text, or nothing while the page is being replaced (a reload).
async fn text_now(browser: &Client) -> String {
    match browser.find(Locator::Css("body")).await {
        Ok(body) => body.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn wait_for_text(browser: &Client, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text_now(browser).await.contains(text) {
        assert!(Instant::now() < deadline, "no {text:?} within 10 s");
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[rocket::async_test]
async fn a_passkey_added_on_the_account_page_signs_in_with_no_username() {
    let Some((chromium, driver)) = browser_programs() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but no chromium/chromedriver: .ci/run installs them");
        }
        say_skipped("the passkey browser test skipped: no chromium and chromium-driver");
        return;
    };
    let harness = Harness::start(chromium, driver);
    let local = |page: &str| harness.url(page).replace("127.0.0.1", "localhost");
    let alice = harness.browser().await;
    let authenticator = add_authenticator(&alice).await;

    alice.goto(&local("/register")).await.unwrap();
    fill(&alice, "#username", "alice").await;
    fill(&alice, "#email", "alice@example.com").await;
    fill(&alice, "#password", super::PASSWORD).await;
    submit(&alice, "/register").await;

    // Add a passkey: the account page's button, with the script the page loads.
    alice.goto(&local("/account")).await.unwrap();
    let add = shown(&alice, "[data-passkey-register] [data-passkey-button]").await;
    fill(&alice, "[data-passkey-name]", "Laptop").await;
    add.click().await.expect("a click");
    wait_for_text(&alice, "last used never").await;
    let html = alice.source().await.expect("the page's source");
    assert!(html.contains("value=\"Laptop\""), "the passkey's name");
    screenshot(&alice, "passkeys-account").await;
    let stored = credentials(&alice, &authenticator).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        stored[0]["isResidentCredential"], true,
        "a discoverable passkey"
    );

    // Sign out, then in with the passkey: no username, no password.
    submit(&alice, "/logout").await;
    alice.goto(&local("/login")).await.unwrap();
    // The autofill's conditional request may sign in by itself (the virtual
    // authenticator answers without a person); otherwise the button does.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut clicked = false;
    while path(&alice).await == "/login" {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(&harness.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            panic!(
                "not signed in by the passkey: at {} (clicked: {clicked}); page: {}; log: {tail:#?}",
                path(&alice).await,
                page_text(&alice).await
            );
        }
        let css = Locator::Css("[data-passkey-login] [data-passkey-button]");
        if let Ok(button) = alice.find(css).await {
            if !clicked && button.is_displayed().await.unwrap_or(false) {
                clicked = button.click().await.is_ok();
            }
        }
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
    alice.goto(&local("/account")).await.unwrap();
    assert_eq!(path(&alice).await, "/account", "signed in");
    wait_for_text(&alice, "Your account").await;
    assert!(page_text(&alice).await.contains("alice"));
    let login = page_text(&alice).await;
    assert!(
        !login.contains("last used never"),
        "the passkey's use is recorded"
    );

    // Re-authenticate with it instead of the password.
    alice
        .goto(&local("/reauthenticate?next=/account"))
        .await
        .unwrap();
    shown(&alice, "[data-passkey-reauth] [data-passkey-button]")
        .await
        .click()
        .await
        .expect("a click");
    let deadline = Instant::now() + Duration::from_secs(10);
    while path(&alice).await != "/account" {
        assert!(
            Instant::now() < deadline,
            "not re-authenticated by the passkey"
        );
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
    alice.close().await.ok();

    // The login page's button, in a browser with no passkey for the site.
    let bob = harness.browser().await;
    bob.goto(&local("/login")).await.unwrap();
    shown(&bob, "[data-passkey-login] [data-passkey-button]").await;
    screenshot(&bob, "passkeys-login").await;
    bob.close().await.ok();
}
