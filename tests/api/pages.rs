//! The server-rendered pages through a cookie-keeping client: rendering and headers,
//! the forms and their error renderings, CSRF refusals, the 2FA step, renewal of the
//! access cookie, and a blocked account's open browser session.

use rocket::http::{ContentType, Status};
use serde_json::json;

use crate::support::{
    browser_login, cookie_name, csrf, location, page, spawn_browser, submit, TestApp, PASSWORD,
};

/// Logs `username` in through the API from another device (a client with cookies of
/// its own); returns the access token.
async fn other_device_login(app: &TestApp, username: &str) -> String {
    let other = crate::support::launch(crate::support::test_figment(&app.db.url), &app.clock).await;
    let response = other
        .post("/api/auth/login")
        .header(ContentType::JSON)
        .body(json!({"login": username, "password": PASSWORD}).to_string())
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    let body: serde_json::Value = response.into_json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

#[rocket::async_test]
async fn pages_render_with_security_and_cache_headers() {
    let app = spawn_browser().await;
    for uri in ["/", "/login", "/register"] {
        let response = app.client.get(uri).dispatch().await;
        assert_eq!(response.status(), Status::Ok, "{uri}");
        assert_eq!(response.content_type(), Some(ContentType::HTML));
        let headers = response.headers();
        let csp = headers.get_one("Content-Security-Policy").unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(headers.get_one("X-Content-Type-Options"), Some("nosniff"));
        assert!(headers.get_one("Referrer-Policy").is_some());
        assert_eq!(headers.get_one("Cache-Control"), Some("no-store"));
        assert!(
            headers.get_one("Strict-Transport-Security").is_none(),
            "debug is plain HTTP"
        );
        let html = response.into_string().await.unwrap();
        // No inline script anywhere; the login page loads the passkeys part's file
        // (tests/api/passkeys/pages.rs), the others none.
        let scripts = html.matches("<script").count();
        let files = html.matches("<script src=\"/static/").count();
        assert_eq!(scripts, files, "{uri} has an inline script");
        assert_eq!(scripts, usize::from(uri == "/login"), "{uri}");
    }
    let css = app.client.get("/static/style.css").dispatch().await;
    assert_eq!(css.status(), Status::Ok);
    assert_eq!(
        css.headers().get_one("Cache-Control"),
        Some("public, max-age=86400")
    );

    let (status, html) = page(&app, "/no/such/page").await;
    assert_eq!(status, Status::NotFound);
    assert!(html.contains("Page not found") && html.contains("/static/style.css"));
    // The API keeps its JSON errors.
    let response = app.client.get("/api/no/such").dispatch().await;
    assert_eq!(response.content_type(), Some(ContentType::JSON));
}

#[rocket::async_test]
async fn the_login_form_has_the_right_fields() {
    let app = spawn_browser().await;
    let (_, login) = page(&app, "/login").await;
    // `webauthn`: the browser may offer passkeys in the field's autofill.
    assert!(login.contains(r#"autocomplete="username webauthn""#));
    assert!(login.contains(r#"autocomplete="current-password""#));
    assert!(login.contains(r#"name="remember""#));
    assert!(login.contains(r#"<label for="password">"#));
    let (_, register) = page(&app, "/register").await;
    assert!(register.contains(r#"autocomplete="new-password""#));
    // The password rule shows before anything is submitted, tied to the field.
    assert!(
        register.contains(r#"aria-describedby="password-rule""#)
            && register.contains(r#"id="password-rule">At least 15 characters."#),
        "{register}"
    );
}

#[rocket::async_test]
async fn registration_through_the_pages_signs_in_and_returns_to_next() {
    let app = spawn_browser().await;
    let (_, html) = page(&app, "/login?next=%2Fnotes").await;
    assert!(html.contains(r#"href="/register?next=/notes""#), "{html}");
    let (_, html) = page(&app, "/register?next=%2Fnotes").await;
    assert!(html.contains(r#"name="next" value="/notes""#), "{html}");
    let token = csrf(&app);
    let response = submit(
        &app,
        "/register",
        &[
            ("username", "alice"),
            ("email", "alice@example.com"),
            ("password", PASSWORD),
            ("next", "/notes"),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_eq!(location(&response), "/notes");
    let (status, _) = page(&app, "/notes").await;
    assert_eq!(status, Status::Ok);
    // The API's registration keeps its contract: 201, no session.
    let response = app
        .post("/api/auth/register", serde_json::json!({"username": "bob", "email": "bob@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), Status::Created);
    assert!(response.headers().get("Set-Cookie").next().is_none());

    // Where the address must be verified first, the visitor is sent to log in later.
    let strict = crate::support::spawn_browser_with(|f| {
        f.merge(("gatehouse.email_verification_required", true))
            .merge(("gatehouse.mail_transport", "file"))
            .merge((
                "gatehouse.mail_dir",
                std::env::temp_dir()
                    .join("gatehouse-test-mail")
                    .to_string_lossy()
                    .to_string(),
            ))
    })
    .await;
    page(&strict, "/register").await;
    let token = csrf(&strict);
    let response = submit(
        &strict,
        "/register",
        &[
            ("username", "carol"),
            ("email", "carol@example.com"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_eq!(location(&response), "/login");
    let (_, html) = page(&strict, "/login").await;
    assert!(html.contains("Open the link we sent"), "{html}");
    let (status, _) = page(&strict, "/account").await;
    assert_eq!(status, Status::SeeOther);
}

#[rocket::async_test]
async fn registration_errors_show_next_to_their_fields_and_keep_the_input() {
    let app = spawn_browser().await;
    page(&app, "/register").await;
    let token = csrf(&app);
    let response = submit(
        &app,
        "/register",
        &[
            ("username", "al"),
            ("email", "not-an-email"),
            ("password", "short"),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/register");
    // The kept input travels in an HttpOnly cookie of our own, for one page view.
    let feedback_cookie: Vec<&str> = response
        .headers()
        .get("Set-Cookie")
        .filter(|c| c.starts_with(&format!("{}=", cookie_name("feedback"))))
        .collect();
    assert!(
        feedback_cookie.len() == 1 && feedback_cookie[0].contains("HttpOnly"),
        "{feedback_cookie:?}"
    );
    let (_, html) = page(&app, "/register").await;
    assert!(
        html.contains("Username must be between 3 and 32 characters"),
        "{html}"
    );
    assert!(html.contains("Email is not a valid email address"));
    assert!(html.contains("Password must be at least 15 characters"));
    assert!(html.contains(r#"value="al""#) && html.contains(r#"value="not-an-email""#));
    assert!(!html.contains("short"), "passwords are never put back");
    // The feedback shows once.
    let (_, again) = page(&app, "/register").await;
    assert!(!again.contains("field-error"));

    let response = submit(
        &app,
        "/register",
        &[
            ("username", "alice"),
            ("email", "alice@example.com"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ],
    )
    .await;
    // Registered and signed in, back where they were going.
    assert_eq!(location(&response), "/");
    let (status, html) = page(&app, "/account").await;
    assert_eq!(status, Status::Ok);
    assert!(html.contains("alice"), "{html}");
    let token = csrf(&app);
    submit(&app, "/logout", &[("csrf_token", &token)]).await;
    page(&app, "/register").await;
    let token = csrf(&app);
    let response = submit(
        &app,
        "/register",
        &[
            ("username", "ALICE"),
            ("email", "other@example.com"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_eq!(location(&response), "/register");
    let (_, html) = page(&app, "/register").await;
    assert!(html.contains("Username is already taken"), "{html}");
}

#[rocket::async_test]
async fn login_errors_are_told_in_words() {
    let app = spawn_browser().await;
    app.register("alice", "alice@example.com").await;
    page(&app, "/login").await;
    let token = csrf(&app);
    let wrong = [
        ("login", "alice"),
        ("password", "wrong password"),
        ("csrf_token", token.as_str()),
    ];
    let response = submit(&app, "/login", &wrong).await;
    assert_eq!(location(&response), "/login");
    let (_, html) = page(&app, "/login").await;
    assert!(
        html.contains("Wrong username, email or password."),
        "{html}"
    );
    assert!(html.contains(r#"value="alice""#));
    for _ in 0..4 {
        submit(&app, "/login", &wrong).await;
    }
    let (_, html) = page(&app, "/login").await;
    assert!(html.contains("locked for 15 more minutes"), "{html}");

    let other = spawn_browser().await;
    other.register("bob", "bob@example.com").await;
    sqlx::query("UPDATE accounts SET blocked_at = 1, block_reason = 'spam'")
        .execute(&other.pool())
        .await
        .unwrap();
    page(&other, "/login").await;
    let token = csrf(&other);
    submit(
        &other,
        "/login",
        &[
            ("login", "bob"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ],
    )
    .await;
    let (_, html) = page(&other, "/login").await;
    assert!(html.contains("blocked by an administrator"), "{html}");
}

#[rocket::async_test]
async fn a_form_without_this_browsers_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_browser().await;
    browser_login(&app, "alice").await;
    for token in ["", "forged-token-from-another-site"] {
        let response = submit(&app, "/logout", &[("csrf_token", token)]).await;
        assert_eq!(response.status(), Status::Forbidden);
        let html = response.into_string().await.unwrap();
        assert!(html.contains("Not allowed"));
    }
    let (_, html) = page(&app, "/").await;
    assert!(html.contains("Hello, alice"), "still signed in");
    let response = submit(
        &app,
        "/login",
        &[("login", "alice"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), Status::Forbidden);

    let token = csrf(&app);
    let response = submit(&app, "/logout", &[("csrf_token", &token)]).await;
    assert_eq!(location(&response), "/login");
    let (_, html) = page(&app, "/").await;
    assert!(html.contains("You are not signed in"));
}

#[rocket::async_test]
async fn a_planted_csrf_cookie_is_worth_nothing_and_a_doubled_one_is_refused() {
    let app = spawn_browser().await;
    browser_login(&app, "alice").await;
    // A sibling subdomain plants its own token in the cookie and the form: the token
    // must be the session's, so the form is refused.
    let planted = "planted-by-a-sibling-subdomain";
    let response = app
        .client
        .post("/logout")
        .cookie(rocket::http::Cookie::new(cookie_name("csrf"), planted))
        .header(rocket::http::ContentType::Form)
        .body(format!("csrf_token={planted}"))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Forbidden);
    let (_, html) = page(&app, "/").await;
    assert!(html.contains("Hello, alice"), "still signed in");

    // Before a login the token is the cookie's, which must come once.
    let anonymous = spawn_browser().await;
    page(&anonymous, "/login").await;
    let token = csrf(&anonymous);
    let response = anonymous
        .client
        .post("/login")
        .header(rocket::http::Header::new(
            "Cookie",
            format!(
                "{0}={token}; {0}=planted-by-a-sibling-subdomain",
                cookie_name("csrf")
            ),
        ))
        .header(rocket::http::ContentType::Form)
        .body(format!("login=alice&password=x&csrf_token={token}"))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Forbidden);

    // The same cookie under a percent-encoded name (which browsers would not hold to
    // the __Host- rules) is no different.
    let response = anonymous
        .client
        .post("/login")
        .header(rocket::http::Header::new(
            "Cookie",
            format!(
                "{}={token}; {}=planted-by-a-sibling-subdomain",
                cookie_name("csrf"),
                cookie_name("csrf").replace('_', "%5F")
            ),
        ))
        .header(rocket::http::ContentType::Form)
        .body("login=alice&password=x&csrf_token=planted-by-a-sibling-subdomain")
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Forbidden);
}

#[rocket::async_test]
async fn an_access_cookie_planted_under_an_encoded_name_is_not_believed() {
    let app = crate::support::spawn_app().await;
    let alice = app.signed_in("alice").await;
    let mallory = app.signed_in("mallory").await;
    let response = app
        .client
        .get("/api/auth/me")
        .header(rocket::http::Header::new(
            "Cookie",
            format!(
                "{}={}; {}={}",
                cookie_name("access"),
                alice.access,
                cookie_name("access").replace('_', "%5F"),
                mallory.access
            ),
        ))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Unauthorized);
    // Alone, under its own name, the cookie works.
    let response = app
        .client
        .get("/api/auth/me")
        .header(rocket::http::Header::new(
            "Cookie",
            format!("{}={}", cookie_name("access"), alice.access),
        ))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
}

#[rocket::async_test]
async fn an_expired_access_cookie_is_renewed_from_the_refresh_cookie() {
    let app = spawn_browser().await;
    browser_login(&app, "alice").await;
    let first = app
        .client
        .cookies()
        .get(&cookie_name("access"))
        .unwrap()
        .value()
        .to_string();
    app.clock.advance(900 + 31);
    let (_, html) = page(&app, "/").await;
    assert!(html.contains("Hello, alice"), "{html}");
    let renewed = app
        .client
        .cookies()
        .get(&cookie_name("access"))
        .unwrap()
        .value()
        .to_string();
    assert_ne!(first, renewed);
    let generation: i64 = sqlx::query_scalar("SELECT refresh_generation FROM sessions")
        .fetch_one(&app.pool())
        .await
        .unwrap();
    assert_eq!(
        generation, 1,
        "renewal rotates the refresh token like the API"
    );
}

#[rocket::async_test]
async fn a_blocked_accounts_open_browser_session_is_refused() {
    let app = spawn_browser().await;
    browser_login(&app, "alice").await;
    // A staff member blocks alice through the admin API.
    let staff_session = {
        app.register("boss", "boss@example.com").await;
        sqlx::query("UPDATE accounts SET is_staff = 1 WHERE username_key = 'boss'")
            .execute(&app.pool())
            .await
            .unwrap();
        other_device_login(&app, "boss").await
    };
    let alice_id = app.account_id("alice").await;
    let response = app
        .client
        .post(format!("/api/admin/accounts/{alice_id}/block"))
        .header(crate::support::bearer(&staff_session))
        .header(ContentType::JSON)
        .body(json!({"reason": "spam"}).to_string())
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    let (_, html) = page(&app, "/").await;
    assert!(html.contains("blocked by an administrator"), "{html}");
    assert!(html.contains("You are not signed in"));
}

#[rocket::async_test]
async fn a_2fa_login_goes_through_the_code_page() {
    let app = spawn_browser().await;
    let enrolled = crate::two_factor::enrol(&app, "alice").await;
    // The enrolment's API login left cookies; start from a clean browser.
    let token = csrf(&app);
    submit(&app, "/logout", &[("csrf_token", &token)]).await;
    page(&app, "/login").await;
    let token = csrf(&app);
    let response = submit(
        &app,
        "/login",
        &[
            ("login", "alice"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_eq!(location(&response), "/login/2fa");
    // A login replaces the CSRF token.
    assert_ne!(csrf(&app), token);
    let token = csrf(&app);
    let (_, html) = page(&app, "/").await;
    assert!(
        !html.contains("Hello, alice"),
        "a pending login is not signed in"
    );
    let (_, html) = page(&app, "/login/2fa").await;
    assert!(html.contains(r#"autocomplete="one-time-code""#));
    let response = submit(
        &app,
        "/login/2fa",
        &[("code", "000000"), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(location(&response), "/login/2fa");
    let (_, html) = page(&app, "/login/2fa").await;
    assert!(html.contains("Wrong code. 2 attempts left."), "{html}");
    let code = crate::two_factor::code_now(&app, &enrolled.secret);
    let response = submit(
        &app,
        "/login/2fa",
        &[("code", &code), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(location(&response), "/");
    let (_, html) = page(&app, "/").await;
    assert!(html.contains("Hello, alice"), "{html}");
}

#[rocket::async_test]
async fn the_account_page_changes_the_password_and_signs_out_other_devices() {
    let app = spawn_browser().await;
    app.register("alice", "alice@example.com").await;
    let other_device = other_device_login(&app, "alice").await;
    browser_login(&app, "alice").await;
    let (status, html) = page(&app, "/account").await;
    assert_eq!(status, Status::Ok);
    assert!(
        html.contains("alice@example.com") && html.contains("This device"),
        "{html}"
    );
    assert!(html.contains("Sign out everywhere else"));
    let token = csrf(&app);

    let response = submit(
        &app,
        "/account/password",
        &[
            ("current_password", "wrong"),
            ("new_password", "x"),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_eq!(location(&response), "/account");
    let (_, html) = page(&app, "/account").await;
    assert!(
        html.contains("New password must be at least 15 characters"),
        "{html}"
    );
    let response = submit(
        &app,
        "/account/password",
        &[
            ("current_password", "wrong password"),
            ("new_password", "a brand new password"),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_eq!(location(&response), "/account");
    let (_, html) = page(&app, "/account").await;
    assert!(html.contains("Current password is incorrect"), "{html}");
    submit(
        &app,
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "a brand new password"),
            ("csrf_token", &token),
        ],
    )
    .await;
    let (_, html) = page(&app, "/account").await;
    assert!(html.contains("Your password is changed"), "{html}");
    let response = app.get_bearer("/api/auth/me", &other_device).await;
    assert_eq!(response.status(), Status::Unauthorized);
}

#[rocket::async_test]
async fn the_account_page_signs_out_one_session_or_all_others() {
    let app = spawn_browser().await;
    app.register("alice", "alice@example.com").await;
    let mut devices = Vec::new();
    for _ in 0..2 {
        devices.push(other_device_login(&app, "alice").await);
    }
    browser_login(&app, "alice").await;
    let token = csrf(&app);
    let (_, html) = page(&app, "/account").await;
    let action = html
        .split("action=\"")
        .find(|part| {
            part.starts_with("/account/sessions/")
                && !part.starts_with("/account/sessions/revoke-others")
        })
        .and_then(|part| part.split('"').next())
        .unwrap()
        .to_string();
    let response = submit(&app, &action, &[("csrf_token", &token)]).await;
    assert_eq!(location(&response), "/account");
    let live = futures_count(&app, &devices).await;
    assert_eq!(live, 1, "one device signed out");
    submit(
        &app,
        "/account/sessions/revoke-others",
        &[("csrf_token", &token)],
    )
    .await;
    assert_eq!(futures_count(&app, &devices).await, 0);
    let (_, html) = page(&app, "/account").await;
    assert!(
        html.contains("Signed out everywhere else (1 session)."),
        "{html}"
    );
}

/// How many of the given access tokens still work.
async fn futures_count(app: &TestApp, tokens: &[String]) -> usize {
    let mut live = 0;
    for token in tokens {
        if app.get_bearer("/api/auth/me", token).await.status() == Status::Ok {
            live += 1;
        }
    }
    live
}

#[rocket::async_test]
async fn the_account_page_sets_up_and_turns_off_2fa() {
    let app = spawn_browser().await;
    browser_login(&app, "alice").await;
    let token = csrf(&app);
    let response = submit(
        &app,
        "/account/2fa/setup",
        &[("password", "wrong"), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(location(&response), "/account");
    let (_, html) = page(&app, "/account").await;
    assert!(html.contains("Wrong password"), "{html}");
    let response = submit(
        &app,
        "/account/2fa/setup",
        &[("password", PASSWORD), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(location(&response), "/account/2fa/setup");
    let (_, html) = page(&app, "/account/2fa/setup").await;
    assert!(html.contains("<svg"), "the QR code is inline");
    let secret = html
        .split("id=\"totp-secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_string();
    let response = submit(
        &app,
        "/account/2fa/enable",
        &[("code", "000000"), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(location(&response), "/account/2fa/setup");
    let code = crate::two_factor::code_now(&app, &secret);
    let response = submit(
        &app,
        "/account/2fa/enable",
        &[("code", &code), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(response.status(), Status::Ok);
    let html = response.into_string().await.unwrap();
    assert_eq!(html.matches("<li>").count(), 10, "{html}");
    let (_, html) = page(&app, "/account").await;
    assert!(html.contains("10 recovery codes left"), "{html}");

    app.clock.advance(30);
    let code = crate::two_factor::code_now(&app, &secret);
    submit(
        &app,
        "/account/2fa/disable",
        &[
            ("password", PASSWORD),
            ("code", &code),
            ("csrf_token", &token),
        ],
    )
    .await;
    let (_, html) = page(&app, "/account").await;
    assert!(html.contains("Two-factor authentication is off."), "{html}");
}

#[rocket::async_test]
async fn admin_pages_are_for_staff_and_act_on_accounts() {
    let app = spawn_browser().await;
    browser_login(&app, "alice").await;
    let (status, _) = page(&app, "/admin").await;
    assert_eq!(status, Status::Forbidden);
    let token = csrf(&app);
    submit(&app, "/logout", &[("csrf_token", &token)]).await;
    let response = app.client.get("/admin").dispatch().await;
    assert_eq!(
        location(&response),
        "/login?next=%2Fadmin",
        "anonymous visitors are sent to log in, and back here afterwards"
    );

    app.register("boss", "boss@example.com").await;
    sqlx::query("UPDATE accounts SET is_staff = 1 WHERE username_key = 'boss'")
        .execute(&app.pool())
        .await
        .unwrap();
    browser_login(&app, "boss").await;
    let token = csrf(&app);
    let (status, html) = page(&app, "/admin?q=ALI").await;
    assert_eq!(status, Status::Ok);
    assert!(
        html.contains("1 account matching") && html.contains(">alice</a>"),
        "{html}"
    );
    let alice = app.account_id("alice").await;
    let uri = format!("/admin/accounts/{alice}");

    let response = submit(
        &app,
        &format!("{uri}/block"),
        &[("reason", " "), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(location(&response), uri);
    let (_, html) = page(&app, &uri).await;
    assert!(html.contains("Reason is required"), "{html}");
    assert!(
        html.contains("email not verified"),
        "the verification state: {html}"
    );
    submit(
        &app,
        &format!("{uri}/block"),
        &[("reason", "spam"), ("csrf_token", &token)],
    )
    .await;
    let (_, html) = page(&app, &uri).await;
    assert!(
        html.contains("badge bad\">blocked") && html.contains("“spam”"),
        "{html}"
    );
    assert!(html.contains("account blocked"), "the event is listed");
    let forged = submit(&app, &format!("{uri}/unblock"), &[("csrf_token", "forged")]).await;
    assert_eq!(forged.status(), Status::Forbidden);
    submit(&app, &format!("{uri}/unblock"), &[("csrf_token", &token)]).await;
    let (_, html) = page(&app, &uri).await;
    assert!(html.contains("Unblocked."), "{html}");
    // Staff see no role boxes and cannot delete.
    assert!(!html.contains("name=\"is_superuser\"") && !html.contains("Delete account"));
    submit(&app, &format!("{uri}/roles"), &[("csrf_token", &token)]).await;
    let (_, html) = page(&app, &uri).await;
    assert!(
        html.contains("badge bad\">inactive"),
        "unticked Active deactivates: {html}"
    );
    let (status, _) = page(&app, "/admin/accounts/9999").await;
    assert_eq!(status, Status::NotFound);
}

#[rocket::async_test]
async fn in_release_cookies_are_host_prefixed_and_secure_and_hsts_is_sent() {
    let db = crate::support::TestDatabase::new().await;
    let figment = crate::support::test_figment(&db.url).select("release");
    let clock = gatehouse::clock::ManualClock::new();
    let rocket = gatehouse::rocket_with_clock(figment, std::sync::Arc::new(clock)).unwrap();
    let client = rocket::local::asynchronous::Client::tracked(rocket)
        .await
        .unwrap();
    let response = client.get("/login").dispatch().await;
    assert!(response
        .headers()
        .get_one("Strict-Transport-Security")
        .is_some_and(|v| v.contains("max-age=")));
    let set_cookie: Vec<String> = response
        .headers()
        .get("Set-Cookie")
        .map(str::to_string)
        .collect();
    assert!(
        set_cookie.iter().any(
            |c| c.starts_with(&format!("__Host-{}=", cookie_name("csrf")))
                && c.contains("Secure")
                && c.contains("Path=/")
        ),
        "{set_cookie:?}"
    );
    client
        .post("/api/auth/register")
        .header(ContentType::JSON)
        .body(
            json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD})
                .to_string(),
        )
        .dispatch()
        .await;
    let response = client
        .post("/api/auth/login")
        .header(ContentType::JSON)
        .body(json!({"login": "alice", "password": PASSWORD}).to_string())
        .dispatch()
        .await;
    let mut names: Vec<String> = response
        .headers()
        .get("Set-Cookie")
        .filter(|c| c.contains("HttpOnly"))
        .map(|c| c.split('=').next().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            format!("__Host-{}", cookie_name("access")),
            format!("__Host-{}", cookie_name("refresh"))
        ]
    );
}

#[rocket::async_test]
async fn superusers_change_roles_reset_2fa_unlock_and_delete_from_the_admin_pages() {
    let app = spawn_browser().await;
    crate::two_factor::enrol(&app, "alice").await;
    for _ in 0..2 {
        app.login("alice", "wrong password").await;
    }
    app.register("root", "root@example.com").await;
    sqlx::query("UPDATE accounts SET is_staff = 1, is_superuser = 1 WHERE username_key = 'root'")
        .execute(&app.pool())
        .await
        .unwrap();
    browser_login(&app, "root").await;
    let token = csrf(&app);
    let alice = app.account_id("alice").await;
    let uri = format!("/admin/accounts/{alice}");
    let (_, html) = page(&app, "/admin").await;
    assert!(
        html.contains("badge good\">2FA") && html.contains("2 failed"),
        "{html}"
    );

    submit(&app, &format!("{uri}/unlock"), &[("csrf_token", &token)]).await;
    assert_eq!(app.failed_logins("alice").await, 0);
    submit(
        &app,
        &format!("{uri}/2fa/disable"),
        &[("csrf_token", &token)],
    )
    .await;
    let (_, html) = page(&app, &uri).await;
    assert!(
        html.contains("Two-factor authentication is off for this account."),
        "{html}"
    );
    assert!(!html.contains("2FA on"));
    submit(
        &app,
        &format!("{uri}/roles"),
        &[
            ("is_active", "true"),
            ("is_staff", "true"),
            ("csrf_token", &token),
        ],
    )
    .await;
    let (_, html) = page(&app, &uri).await;
    assert!(
        html.contains("Saved.") && html.contains("badge\">staff"),
        "{html}"
    );
    // Nobody removes their own roles, even by unticking a box.
    let own = format!("/admin/accounts/{}", app.account_id("root").await);
    submit(
        &app,
        &format!("{own}/roles"),
        &[("is_active", "true"), ("csrf_token", &token)],
    )
    .await;
    let (_, html) = page(&app, &own).await;
    assert!(
        html.contains("You cannot deactivate your own account or remove your own roles."),
        "{html}"
    );

    let response = submit(&app, &format!("{uri}/delete"), &[("csrf_token", &token)]).await;
    assert_eq!(
        location(&response),
        uri,
        "deletion needs the confirmation box"
    );
    let response = submit(
        &app,
        &format!("{uri}/delete"),
        &[("confirm", "true"), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(location(&response), "/admin");
    let (_, html) = page(&app, "/admin").await;
    assert!(
        html.contains("The account is deleted.") && !html.contains(">alice</a>"),
        "{html}"
    );
}

#[rocket::async_test]
async fn the_account_page_regenerates_recovery_codes_and_shows_them_once() {
    let app = spawn_browser().await;
    let enrolled = crate::two_factor::enrol(&app, "alice").await;
    // enrol() signed in through the API; the page session is a second login.
    let token = csrf(&app);
    submit(&app, "/logout", &[("csrf_token", &token)]).await;
    page(&app, "/login").await;
    let token = csrf(&app);
    submit(
        &app,
        "/login",
        &[
            ("login", "alice"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ],
    )
    .await;
    let token = csrf(&app);
    let code = crate::two_factor::code_now(&app, &enrolled.secret);
    submit(
        &app,
        "/login/2fa",
        &[("code", &code), ("csrf_token", &token)],
    )
    .await;
    let token = csrf(&app);
    let (_, html) = page(&app, "/account").await;
    assert!(html.contains("10 recovery codes left"), "{html}");
    app.clock.advance(30);
    let response = submit(
        &app,
        "/account/2fa/recovery-codes",
        &[("code", "000000"), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(location(&response), "/account");
    let (_, html) = page(&app, "/account").await;
    assert!(html.contains("Wrong code."), "{html}");
    let code = crate::two_factor::code_now(&app, &enrolled.secret);
    let response = submit(
        &app,
        "/account/2fa/recovery-codes",
        &[("code", &code), ("csrf_token", &token)],
    )
    .await;
    let html = response.into_string().await.unwrap();
    assert!(
        html.contains("the old ones no longer work") && html.matches("<li>").count() == 10,
        "{html}"
    );
    assert!(!html.contains(&enrolled.recovery_codes[0]));
}

#[rocket::async_test]
async fn logging_in_over_a_session_ends_the_old_one() {
    let app = spawn_browser().await;
    browser_login(&app, "alice").await;
    browser_login(&app, "bob").await;
    let live: Vec<String> = sqlx::query_scalar(
        "SELECT a.username FROM sessions s JOIN accounts a ON a.id = s.account_id \
         WHERE s.revoked_at IS NULL",
    )
    .fetch_all(&app.pool())
    .await
    .unwrap();
    assert_eq!(live, ["bob"]);
}

#[rocket::async_test]
async fn every_response_keeps_other_origins_out() {
    let app = spawn_browser().await;
    for uri in [
        "/login",
        "/api/health/live",
        "/static/style.css",
        "/nowhere",
    ] {
        let response = app.client.get(uri).dispatch().await;
        let headers = response.headers();
        assert_eq!(
            headers.get_one("Cross-Origin-Opener-Policy"),
            Some("same-origin"),
            "{uri}"
        );
        assert_eq!(
            headers.get_one("Cross-Origin-Resource-Policy"),
            Some("same-origin"),
            "{uri}"
        );
    }
}

/// The `Set-Cookie` line of the cookie named `name`, if the response sets it.
fn set_cookie_line(
    response: &rocket::local::asynchronous::LocalResponse<'_>,
    name: &str,
) -> String {
    response
        .headers()
        .get("Set-Cookie")
        .find(|line| line.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_string()
}

#[rocket::async_test]
async fn without_remember_me_the_login_cookies_end_with_the_browser() {
    let app = spawn_browser().await;
    app.register("alice", "alice@example.com").await;
    for (remember, lasting) in [("false", false), ("true", true)] {
        page(&app, "/login").await;
        let token = csrf(&app);
        let response = submit(
            &app,
            "/login",
            &[
                ("login", "alice"),
                ("password", PASSWORD),
                ("remember", remember),
                ("csrf_token", &token),
            ],
        )
        .await;
        for name in [cookie_name("access"), cookie_name("refresh")] {
            let line = set_cookie_line(&response, &name);
            assert_eq!(
                line.contains("Max-Age=") || line.contains("Expires="),
                lasting,
                "remember={remember}: {line}"
            );
        }
    }
}

#[rocket::async_test]
async fn the_admin_list_pages_past_the_counted_accounts() {
    let app = spawn_browser().await;
    app.register("boss", "boss@example.com").await;
    sqlx::query("UPDATE accounts SET is_staff = 1 WHERE username_key = 'boss'")
        .execute(&app.pool())
        .await
        .unwrap();
    crate::support::seed(&app.pool(), 10_005, 0, 0, app.state().now()).await;
    browser_login(&app, "boss").await;
    let (status, html) = page(&app, "/admin").await;
    assert_eq!(status, Status::Ok);
    assert!(html.contains("More than 10000 accounts"), "{html}");
    // The last numbered page leads on by the last account shown.
    let (status, html) = page(&app, "/admin?page=500").await;
    assert_eq!(status, Status::Ok);
    let next = html
        .split("href=\"")
        .filter_map(|part| part.split('"').next())
        .find(|href| href.contains("after="))
        .expect("a next page by id")
        .replace("&amp;", "&");
    let (status, html) = page(&app, &next).await;
    assert_eq!(status, Status::Ok);
    assert!(
        html.contains(">seed10000</a>") && html.contains("First page"),
        "{html}"
    );
    let (status, _) = page(&app, "/admin?q=boss&q=boss").await;
    assert_eq!(status, Status::UnprocessableEntity);
}

#[rocket::async_test]
async fn a_closed_registration_page_says_so_instead_of_showing_the_form() {
    let app =
        crate::support::spawn_browser_with(|f| f.merge(("gatehouse.registration_open", false)))
            .await;
    let (status, html) = page(&app, "/register").await;
    assert_eq!(status, Status::Ok);
    assert!(html.contains("Registration is closed."), "{html}");
    assert!(!html.contains(r#"action="/register""#), "{html}");
}

#[rocket::async_test]
async fn an_error_page_after_a_page_guard_keeps_the_signed_in_header() {
    let app = spawn_browser().await;
    browser_login(&app, "alice").await;
    page(&app, "/notes").await;
    let token = csrf(&app);
    let body = format!("csrf_token={token}&title={}", "x".repeat(600_000));
    let response = app
        .client
        .post("/notes")
        .header(ContentType::Form)
        .body(body)
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::PayloadTooLarge);
    let html = response.into_string().await.unwrap();
    assert!(html.contains(r#"action="/logout""#), "{html}");
    assert!(!html.contains(r#"href="/register""#), "{html}");
}
