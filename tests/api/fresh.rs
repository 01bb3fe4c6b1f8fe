//! Fresh sessions: routes behind `Fresh` want a proof of the user within
//! `reauthentication_max_age` (a login, or `POST /api/auth/reauthenticate` with the
//! password or a second-factor code); a refresh proves nothing; the answer otherwise is
//! 401 `reauthentication_required` with RFC 9470's `WWW-Authenticate`.

use gatehouse::clock::Clock;
use rocket::http::Status;
use serde_json::{json, Value};

use crate::support::{assert_error, spawn_app, Session, TestApp, PASSWORD};
use crate::two_factor::{code_now, enrol};

async fn delete_account(app: &TestApp, admin: &Session, id: i64) -> Status {
    app.delete_bearer(&format!("/api/admin/accounts/{id}"), &admin.access)
        .await
        .status()
}

async fn reauthenticate(app: &TestApp, session: &Session, body: Value) -> (Status, Value) {
    let response = app
        .post_bearer("/api/auth/reauthenticate", &session.access, Some(body))
        .await;
    let status = response.status();
    (status, response.into_json().await.unwrap_or(Value::Null))
}

#[rocket::async_test]
async fn a_sensitive_admin_route_wants_a_recent_proof() {
    let app = spawn_app().await;
    let root = app.signed_in_admin("root", true).await;
    app.register("alice", "alice@example.com").await;
    app.register("bob", "bob@example.com").await;
    let alice = app.account_id("alice").await;
    let bob = app.account_id("bob").await;
    // Just signed in: a login is a proof.
    assert_eq!(delete_account(&app, &root, alice).await, Status::NoContent);

    app.clock.advance(601);
    let response = app
        .delete_bearer(&format!("/api/admin/accounts/{bob}"), &root.access)
        .await;
    assert_eq!(
        response.headers().get_one("WWW-Authenticate"),
        Some("Bearer error=\"insufficient_user_authentication\", max_age=600")
    );
    assert_error(response, Status::Unauthorized, "reauthentication_required").await;
    let response = app
        .patch_bearer(
            &format!("/api/admin/accounts/{bob}"),
            &root.access,
            json!({"is_staff": true}),
        )
        .await;
    assert_error(response, Status::Unauthorized, "reauthentication_required").await;

    // A refresh proves nothing.
    let refreshed: Value = app
        .post("/api/auth/refresh", json!({"refresh_token": root.refresh}))
        .await
        .into_json()
        .await
        .unwrap();
    let refreshed = Session {
        access: refreshed["access_token"].as_str().unwrap().into(),
        refresh: refreshed["refresh_token"].as_str().unwrap().into(),
    };
    assert_eq!(
        delete_account(&app, &refreshed, bob).await,
        Status::Unauthorized
    );

    // A wrong password is refused and counted; the right one proves.
    let (status, body) =
        reauthenticate(&app, &refreshed, json!({"password": "not it at all"})).await;
    assert_eq!(status, Status::UnprocessableEntity, "{body}");
    assert_eq!(app.failed_logins("root").await, 1);
    let (status, body) = reauthenticate(&app, &refreshed, json!({"password": PASSWORD})).await;
    assert_eq!(status, Status::Ok, "{body}");
    assert_eq!(body["proved_at"], app.clock.now());
    assert_eq!(body["max_age"], 600);
    assert_eq!(
        delete_account(&app, &refreshed, bob).await,
        Status::NoContent
    );
    let root_id = app.account_id("root").await;
    assert_eq!(app.events_with_detail(root_id, "password").await, 1);
}

#[rocket::async_test]
async fn a_second_factor_code_proves_too_and_bad_bodies_are_refused() {
    let app = spawn_app().await;
    let enrolled = enrol(&app, "alice").await;
    let session = Session {
        access: enrolled.access.clone(),
        refresh: String::new(),
    };
    for bad in [
        json!({}),
        json!({"password": PASSWORD, "code": "123456"}),
        json!({"pin": "1"}),
    ] {
        let (status, body) = reauthenticate(&app, &session, bad.clone()).await;
        assert_eq!(status, Status::UnprocessableEntity, "{bad}: {body}");
    }
    let (status, body) = reauthenticate(&app, &session, json!({"code": "000000"})).await;
    assert_eq!(status, Status::Unauthorized, "{body}");
    let code = code_now(&app, &enrolled.secret);
    let (status, body) = reauthenticate(&app, &session, json!({ "code": code })).await;
    assert_eq!(status, Status::Ok, "{body}");
    let (status, body) = reauthenticate(
        &app,
        &session,
        json!({ "code": enrolled.recovery_codes[0] }),
    )
    .await;
    assert_eq!(status, Status::Ok, "{body}");
    let by: String = sqlx::query_scalar("SELECT proved_by FROM sessions WHERE proved_by IS NOT NULL ORDER BY proved_at DESC LIMIT 1")
        .fetch_one(&app.pool())
        .await
        .unwrap();
    assert_eq!(by, "recovery code");
}

#[rocket::async_test]
async fn the_notes_example_deletes_only_with_a_recent_proof() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let created: Value = app
        .post_bearer(
            "/api/notes",
            &alice.access,
            Some(json!({"title": "keep me"})),
        )
        .await
        .into_json()
        .await
        .unwrap();
    let id = created["note"]["id"].as_i64().unwrap();
    app.clock.advance(601);
    let response = app
        .delete_bearer(&format!("/api/notes/{id}"), &alice.access)
        .await;
    assert_error(response, Status::Unauthorized, "reauthentication_required").await;
    reauthenticate(&app, &alice, json!({"password": PASSWORD})).await;
    let response = app
        .delete_bearer(&format!("/api/notes/{id}"), &alice.access)
        .await;
    assert_eq!(response.status(), Status::NoContent);
}

#[rocket::async_test]
async fn the_pages_ask_for_the_password_again_and_come_back() {
    use crate::support::{browser_login, csrf, location, page, spawn_browser, submit};
    use rocket::http::{ContentType, Header};
    let app = spawn_browser().await;
    app.register("bob", "bob@example.com").await;
    browser_login(&app, "root").await;
    sqlx::query("UPDATE accounts SET is_staff = 1, is_superuser = 1 WHERE username_key = 'root'")
        .execute(&app.pool())
        .await
        .unwrap();
    let bob = app.account_id("bob").await;
    let account_page = format!("/admin/accounts/{bob}");
    page(&app, &account_page).await;
    app.clock.advance(601);
    let token = csrf(&app);
    let response = app
        .client
        .post(format!("{account_page}/delete"))
        .header(ContentType::Form)
        .header(Header::new("Host", "127.0.0.1:8000"))
        .header(Header::new(
            "Referer",
            format!("http://127.0.0.1:8000{account_page}"),
        ))
        .body(format!("confirm=true&csrf_token={token}"))
        .dispatch()
        .await;
    let to = location(&response);
    assert!(
        to.starts_with("/reauthenticate?next=") && to.contains(&bob.to_string()),
        "{to}"
    );
    let (status, html) = page(&app, &to).await;
    assert_eq!(status, Status::Ok);
    assert!(html.contains("Please confirm your password"), "{html}");
    let response = submit(
        &app,
        "/reauthenticate",
        &[
            ("password", "not it at all"),
            ("next", &account_page),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert!(location(&response).starts_with("/reauthenticate"));
    let response = submit(
        &app,
        "/reauthenticate",
        &[
            ("password", PASSWORD),
            ("next", &account_page),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_eq!(location(&response), account_page);
    let response = submit(
        &app,
        &format!("{account_page}/delete"),
        &[("confirm", "true"), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(location(&response), "/admin");
    assert_eq!(page(&app, &account_page).await.0, Status::NotFound);
}
