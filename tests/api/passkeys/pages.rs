//! The passkeys part on the pages, without a browser: the script each page with a
//! passkey section loads (and the policy that lets it run), the stamped script
//! itself, and the account page's and the admin view's forms, which work without it.

use rocket::http::Status;

use super::{register, SoftKey};
use crate::support::{
    browser_login, csrf, location, page, spawn_browser, spawn_browser_with, submit, Session,
};

fn script_of(html: &str) -> Option<String> {
    let start = html.find("<script src=\"")? + "<script src=\"".len();
    Some(html[start..].split('"').next()?.to_string())
}

#[rocket::async_test]
async fn the_login_page_loads_the_stamped_script_under_a_policy_that_allows_only_it() {
    let app = spawn_browser().await;
    let response = app.client.get("/login").dispatch().await;
    let policy = response
        .headers()
        .get_one("Content-Security-Policy")
        .unwrap()
        .to_string();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let html = response.into_string().await.unwrap();
    assert!(html.contains("data-passkey-login"), "the button's markup");
    assert!(html.contains("autocomplete=\"username webauthn\""));
    let script = script_of(&html).expect("a script tag");
    assert!(script.starts_with("/static/passkeys/") && script.ends_with("/passkeys.js"));

    let response = app.client.get(script.clone()).dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(
        response.headers().get_one("Cache-Control"),
        Some("public, max-age=31536000, immutable")
    );
    assert!(response.content_type().is_some_and(|t| t.is_javascript()));
    let response = app
        .client
        .get("/static/passkeys/000000000000/passkeys.js")
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::NotFound);

    // Pages without a passkey section run no script at all.
    let response = app.client.get("/forgot-password").dispatch().await;
    let policy = response
        .headers()
        .get_one("Content-Security-Policy")
        .unwrap();
    assert!(!policy.contains("script-src"), "{policy}");
}

#[rocket::async_test]
async fn passkeys_switched_off_leave_the_pages_without_script() {
    let app = spawn_browser_with(|f| f.merge(("gatehouse.passkeys_enabled", false))).await;
    let response = app.client.get("/login").dispatch().await;
    let policy = response
        .headers()
        .get_one("Content-Security-Policy")
        .unwrap();
    assert!(!policy.contains("script-src"), "{policy}");
    let html = response.into_string().await.unwrap();
    assert!(script_of(&html).is_none() && !html.contains("data-passkey"));
}

#[rocket::async_test]
async fn the_account_page_lists_renames_and_removes_passkeys_without_script() {
    let app = spawn_browser().await;
    browser_login(&app, "alice").await;
    let (_, html) = page(&app, "/account").await;
    assert!(html.contains("No passkeys yet."));
    assert!(html.contains("data-passkey-register"));
    assert!(html.contains("Adding a passkey needs JavaScript."));

    // A passkey added through the API, with a bearer token of another session.
    let session: Session = app.signed_in("alice").await;
    let mut key = SoftKey::new(&super::origin_of(&app));
    let passkey = register(&app, &session, &mut key, "Laptop").await;
    let id = passkey["id"].as_i64().unwrap();
    let (_, html) = page(&app, "/account").await;
    assert!(
        html.contains("value=\"Laptop\"") && html.contains("last used never"),
        "{html}"
    );

    let token = csrf(&app);
    let uri = format!("/account/passkeys/{id}/rename");
    let response = submit(
        &app,
        &uri,
        &[("name", "<b>Desk</b>"), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(location(&response), "/account");
    let (_, html) = page(&app, "/account").await;
    assert!(
        html.contains("value=\"&#60;b&#62;Desk&#60;/b&#62;\""),
        "escaped: {html}"
    );
    let response = submit(&app, &uri, &[("name", " "), ("csrf_token", &token)]).await;
    assert_eq!(location(&response), "/account");
    let (_, html) = page(&app, "/account").await;
    assert!(html.contains("is required"), "the error shows: {html}");

    let uri = format!("/account/passkeys/{id}/remove");
    let response = submit(&app, &uri, &[("csrf_token", &token)]).await;
    assert_eq!(location(&response), "/account");
    let (_, html) = page(&app, "/account").await;
    assert!(html.contains("The passkey was removed.") && html.contains("No passkeys yet."));
    // Without the CSRF token nothing happens.
    let response = submit(
        &app,
        &format!("/account/passkeys/{id}/rename"),
        &[("name", "x")],
    )
    .await;
    assert_eq!(response.status(), Status::Forbidden);
}

#[rocket::async_test]
async fn the_admin_view_counts_an_accounts_passkeys_and_removes_them() {
    let app = spawn_browser().await;
    let alice: Session = app.signed_in("alice").await;
    let mut key = SoftKey::new(&super::origin_of(&app));
    register(&app, &alice, &mut key, "Laptop").await;
    let id = app.account_id("alice").await;
    app.register("staff", "staff@example.com").await;
    sqlx::query("UPDATE accounts SET is_staff = 1 WHERE username_key = 'staff'")
        .execute(&app.pool())
        .await
        .unwrap();
    browser_login(&app, "staff").await;
    let (status, html) = page(&app, &format!("/admin/accounts/{id}")).await;
    assert_eq!(status, Status::Ok);
    assert!(
        html.contains("1 passkey.") && html.contains("Signs in with: password, passkeys"),
        "{html}"
    );
    let token = csrf(&app);
    let uri = format!("/admin/accounts/{id}/passkeys/remove");
    let response = submit(&app, &uri, &[("csrf_token", &token)]).await;
    assert_eq!(location(&response), format!("/admin/accounts/{id}"));
    let (_, html) = page(&app, &format!("/admin/accounts/{id}")).await;
    assert!(
        html.contains("Removed 1 passkey.") && html.contains("0 passkeys."),
        "{html}"
    );
}

#[rocket::async_test]
async fn the_second_step_and_reauthentication_pages_offer_a_passkey_only_to_accounts_with_one() {
    // Two TOTP accounts, one with a passkey.
    let app = spawn_browser().await;
    crate::two_factor::enrol(&app, "carol").await;
    let enrolled = crate::two_factor::enrol(&app, "alice").await;
    let session = Session {
        access: enrolled.access.clone(),
        refresh: String::new(),
    };
    let mut key = SoftKey::new(&super::origin_of(&app));
    register(&app, &session, &mut key, "Laptop").await;
    for (username, offered) in [("carol", false), ("alice", true)] {
        page(&app, "/login").await;
        let token = csrf(&app);
        let login = [
            ("login", username),
            ("password", crate::support::PASSWORD),
            ("csrf_token", &token),
        ];
        submit(&app, "/login", &login).await;
        let (status, html) = page(&app, "/login/2fa").await;
        assert_eq!(status, Status::Ok);
        assert_eq!(
            html.contains("data-passkey-second-step"),
            offered,
            "{username}: {html}"
        );
        assert_eq!(script_of(&html).is_some(), offered, "{username}");
        let token = csrf(&app);
        submit(&app, "/logout", &[("csrf_token", &token)]).await;
    }

    // Signed in, the re-authentication page offers it as well.
    let bob = spawn_browser().await;
    browser_login(&bob, "bob").await;
    let (_, html) = page(&bob, "/reauthenticate?next=/account").await;
    assert!(!html.contains("data-passkey-reauth"));
    let dave = spawn_browser().await;
    let dave_session = dave.signed_in("dave").await;
    let mut key = SoftKey::new(&super::origin_of(&dave));
    register(&dave, &dave_session, &mut key, "Phone").await;
    browser_login(&dave, "dave").await;
    let (_, html) = page(&dave, "/reauthenticate?next=/account").await;
    assert!(
        html.contains("data-passkey-reauth") && html.contains("data-next=\"/account\""),
        "{html}"
    );
}
