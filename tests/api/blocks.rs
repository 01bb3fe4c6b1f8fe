//! Blocked accounts: an admin's block revokes every session at once and refuses login
//! whatever the password, until it is lifted.

use gatehouse::clock::Clock;
use rocket::http::Status;
use serde_json::{json, Value};

use crate::support::{assert_error, spawn_app, PASSWORD};

#[rocket::async_test]
async fn a_block_ends_the_sessions_at_once_and_refuses_login_until_lifted() {
    let app = spawn_app().await;
    let admin = app.signed_in_admin("boss", false).await;
    let alice = app.signed_in("alice").await;
    let second_device = app.signed_in("alice").await;
    let id = app.account_id("alice").await;
    let admin_id = app.account_id("boss").await;
    // Seen once, so the guard's cache holds alice's live session.
    assert_eq!(
        app.get_bearer("/api/auth/me", &alice.access).await.status(),
        Status::Ok
    );

    let before = app.clock.now();
    let response = app
        .post_bearer(
            &format!("/api/admin/accounts/{id}/block"),
            &admin.access,
            Some(json!({"reason": "  chargeback fraud  "})),
        )
        .await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = response.into_json().await.unwrap();
    let account = &body["account"];
    assert_eq!(account["blocked"], true);
    assert_eq!(account["block_reason"], "chargeback fraud");
    assert_eq!(account["blocked_by"], admin_id);
    assert_eq!(account["blocked_at"], before);

    // The very next request with either device's tokens is refused, not at expiry.
    for tokens in [&alice, &second_device] {
        assert_error(
            app.get_bearer("/api/auth/me", &tokens.access).await,
            Status::Forbidden,
            "account_blocked",
        )
        .await;
        assert_error(
            app.post(
                "/api/auth/refresh",
                json!({"refresh_token": tokens.refresh}),
            )
            .await,
            Status::Forbidden,
            "account_blocked",
        )
        .await;
    }
    for password in [PASSWORD, "wrong password"] {
        assert_error(
            app.login("alice", password).await,
            Status::Forbidden,
            "account_blocked",
        )
        .await;
    }
    assert_eq!(
        app.failed_logins("alice").await,
        0,
        "no password was checked"
    );

    let response = app
        .post_bearer(
            &format!("/api/admin/accounts/{id}/unblock"),
            &admin.access,
            None,
        )
        .await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = response.into_json().await.unwrap();
    assert_eq!(body["account"]["blocked"], false);
    assert_eq!(body["account"]["block_reason"], Value::Null);

    // Login works again; the sessions the block ended stay ended.
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Ok);
    assert_error(
        app.get_bearer("/api/auth/me", &alice.access).await,
        Status::Unauthorized,
        "session_revoked",
    )
    .await;
}

#[rocket::async_test]
async fn a_block_needs_a_reason_of_at_most_500_characters() {
    let app = spawn_app().await;
    let admin = app.signed_in_admin("boss", false).await;
    app.register("alice", "alice@example.com").await;
    let uri = format!(
        "/api/admin/accounts/{}/block",
        app.account_id("alice").await
    );

    for body in [
        json!({}),
        json!({"reason": "   "}),
        json!({"reason": "é".repeat(501)}),
        json!({"reason": "nul \u{0} inside"}),
        // A line break could forge a row of `accounts list`; a bidi override, its text.
        json!({"reason": "spam\n2  mallory  mallory@example.com  superuser  active"}),
        json!({"reason": "spam \u{202E}"}),
    ] {
        let response = app.post_bearer(&uri, &admin.access, Some(body)).await;
        let error = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
        assert!(error["error"]["fields"]["reason"].is_string(), "{error}");
    }
    let response = app
        .post_bearer(
            &uri,
            &admin.access,
            Some(json!({"reason": "é".repeat(500)})),
        )
        .await;
    assert_eq!(response.status(), Status::Ok);
    // Nothing was lost: the block is in place, and a second one is a conflict.
    assert_error(
        app.post_bearer(&uri, &admin.access, Some(json!({"reason": "again"})))
            .await,
        Status::Conflict,
        "conflict",
    )
    .await;
}

#[rocket::async_test]
async fn nobody_blocks_themselves_and_staff_cannot_block_a_superuser() {
    let app = spawn_app().await;
    let staff = app.signed_in_admin("helper", false).await;
    let root = app.signed_in_admin("root", true).await;
    let reason = Some(json!({"reason": "testing"}));
    let block = |id: i64| format!("/api/admin/accounts/{id}/block");
    let staff_id = app.account_id("helper").await;
    let root_id = app.account_id("root").await;

    assert_error(
        app.post_bearer(&block(staff_id), &staff.access, reason.clone())
            .await,
        Status::Forbidden,
        "forbidden",
    )
    .await;
    assert_error(
        app.post_bearer(&block(root_id), &root.access, reason.clone())
            .await,
        Status::Forbidden,
        "forbidden",
    )
    .await;
    assert_error(
        app.post_bearer(&block(root_id), &staff.access, reason.clone())
            .await,
        Status::Forbidden,
        "forbidden",
    )
    .await;
    // Nor unlock one: staff could otherwise guess a superuser's password without end.
    assert_error(
        app.post_bearer(
            &format!("/api/admin/accounts/{root_id}/unlock"),
            &staff.access,
            None,
        )
        .await,
        Status::Forbidden,
        "forbidden",
    )
    .await;
    // A superuser may block staff.
    let response = app
        .post_bearer(&block(staff_id), &root.access, reason.clone())
        .await;
    assert_eq!(response.status(), Status::Ok);
    assert_error(
        app.get_bearer("/api/admin/accounts", &staff.access).await,
        Status::Forbidden,
        "account_blocked",
    )
    .await;
}

#[rocket::async_test]
async fn unblocking_an_account_that_is_not_blocked_is_a_conflict() {
    let app = spawn_app().await;
    let admin = app.signed_in_admin("boss", false).await;
    app.register("alice", "alice@example.com").await;
    let id = app.account_id("alice").await;
    assert_error(
        app.post_bearer(
            &format!("/api/admin/accounts/{id}/unblock"),
            &admin.access,
            None,
        )
        .await,
        Status::Conflict,
        "conflict",
    )
    .await;
}
