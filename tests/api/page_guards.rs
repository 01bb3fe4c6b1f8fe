//! The page guards: a signed-in page sends anonymous visitors to log in and brings them
//! back (through the 2FA step too), `next` is only ever a path of this site, staff
//! pages refuse other accounts, and forms need this browser's CSRF token.

use rocket::http::Status;

use crate::support::{
    browser_login, csrf, location, page, spawn_browser, submit, TestApp, PASSWORD,
};

async fn login_with_next<'a>(
    app: &'a TestApp,
    username: &str,
    next: &str,
) -> rocket::local::asynchronous::LocalResponse<'a> {
    let token = csrf(app);
    submit(
        app,
        "/login",
        &[
            ("login", username),
            ("password", PASSWORD),
            ("next", next),
            ("csrf_token", &token),
        ],
    )
    .await
}

#[rocket::async_test]
async fn an_anonymous_visitor_is_sent_to_log_in_and_brought_back() {
    let app = spawn_browser().await;
    app.register("alice", "alice@example.com").await;
    let response = app.client.get("/account").dispatch().await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/login?next=%2Faccount");

    let (status, html) = page(&app, "/login?next=%2Faccount").await;
    assert_eq!(status, Status::Ok);
    assert!(html.contains("Please log in to see that page."), "{html}");
    assert!(
        html.contains(r#"<input type="hidden" name="next" value="/account">"#),
        "{html}"
    );
    let response = login_with_next(&app, "alice", "/account").await;
    assert_eq!(location(&response), "/account");
    let (status, html) = page(&app, "/account").await;
    assert_eq!(status, Status::Ok);
    assert!(html.contains("Your account"));

    // Signed in already: the login page goes straight on to `next`.
    let response = app.client.get("/login?next=%2Faccount").dispatch().await;
    assert_eq!(location(&response), "/account");
}

#[rocket::async_test]
async fn next_is_never_another_site() {
    let app = spawn_browser().await;
    app.register("alice", "alice@example.com").await;
    for evil in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "/a b",
        "/x\"><script>",
        "/\u{e9}",
    ] {
        page(&app, "/login").await;
        let (_, html) = page(
            &app,
            &format!("/login?next={}", crate::support::urlencode(evil)),
        )
        .await;
        assert!(!html.contains("evil.example"), "{evil}: {html}");
        let response = login_with_next(&app, "alice", evil).await;
        assert_eq!(location(&response), "/", "{evil}");
        let token = csrf(&app);
        submit(&app, "/logout", &[("csrf_token", &token)]).await;
    }
}

#[rocket::async_test]
async fn next_survives_the_two_factor_step() {
    let app = spawn_browser().await;
    let enrolled = crate::two_factor::enrol(&app, "alice").await;
    let token = csrf(&app);
    submit(&app, "/logout", &[("csrf_token", &token)]).await;
    page(&app, "/login").await;
    let response = login_with_next(&app, "alice", "/account").await;
    assert_eq!(location(&response), "/login/2fa?next=%2Faccount");
    let (_, html) = page(&app, "/login/2fa?next=%2Faccount").await;
    assert!(html.contains(r#"name="next" value="/account""#), "{html}");
    let token = csrf(&app);
    let response = submit(
        &app,
        "/login/2fa",
        &[
            ("code", "000000"),
            ("next", "/account"),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_eq!(
        location(&response),
        "/login/2fa?next=%2Faccount",
        "a wrong code keeps the way back"
    );
    // Half-way through the login, a signed-in page sends the visitor to the code step.
    let response = app.client.get("/notes").dispatch().await;
    assert_eq!(location(&response), "/login/2fa?next=%2Fnotes");
    let code = crate::two_factor::code_now(&app, &enrolled.secret);
    let response = submit(
        &app,
        "/login/2fa",
        &[
            ("code", &code),
            ("next", "/account"),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_eq!(location(&response), "/account");
}

#[rocket::async_test]
async fn an_anonymous_form_post_goes_to_the_login_page_without_a_way_back() {
    let app = spawn_browser().await;
    page(&app, "/login").await;
    let token = csrf(&app);
    let response = submit(
        &app,
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "another long password"),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_eq!(location(&response), "/login");
}

#[rocket::async_test]
async fn staff_pages_refuse_other_accounts_with_the_403_page() {
    let app = spawn_browser().await;
    browser_login(&app, "alice").await;
    for uri in ["/admin", "/admin/accounts/1"] {
        let (status, html) = page(&app, uri).await;
        assert_eq!(status, Status::Forbidden, "{uri}");
        // The signed-in header (logout button), and why: not a stale form.
        assert!(html.contains("For staff only"), "{html}");
        assert!(html.contains("This page is for staff accounts"), "{html}");
        assert!(html.contains(r#"action="/logout""#), "{html}");
        assert!(!html.contains("This form has expired"), "{html}");
    }
    let token = csrf(&app);
    let response = submit(
        &app,
        "/admin/accounts/1/block",
        &[("reason", "spite"), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(response.status(), Status::Forbidden);
}

#[rocket::async_test]
async fn the_account_page_sets_the_display_name_shown_in_the_navigation() {
    let app = spawn_browser().await;
    browser_login(&app, "alice").await;
    let token = csrf(&app);
    let response = submit(
        &app,
        "/account/profile",
        &[("display_name", "Alice Liddell"), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(location(&response), "/account");
    let (_, html) = page(&app, "/account").await;
    assert!(html.contains("Your profile is saved."), "{html}");
    assert!(html.contains(r#"value="Alice Liddell""#), "{html}");
    assert!(
        html.contains(r#"<a href="/account">Alice Liddell</a>"#),
        "{html}"
    );

    let response = submit(
        &app,
        "/account/profile",
        &[("display_name", &"x".repeat(101)), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(location(&response), "/account");
    let (_, html) = page(&app, "/account").await;
    assert!(
        html.contains("Display name must be at most 100 characters"),
        "{html}"
    );
    assert!(html.contains(r#"value="Alice Liddell""#), "unchanged");

    let response = submit(&app, "/account/profile", &[("display_name", "Mallory")]).await;
    assert_eq!(response.status(), Status::Forbidden, "no CSRF token");
    let (_, html) = page(&app, "/account").await;
    assert!(html.contains(r#"value="Alice Liddell""#), "unchanged");
}
