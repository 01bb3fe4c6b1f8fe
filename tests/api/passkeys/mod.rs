//! Passkeys through the API, with a software passkey playing browser and
//! authenticator: registration, passwordless sign-in, the second factor,
//! re-authentication, the counter, origins and RP ids, replayed, expired and foreign
//! challenges, other accounts' passkeys and user handles, blocked accounts, and
//! concurrent finishes of one ceremony.

mod authenticator;
mod pages;

use authenticator::SoftKey;
use gatehouse::clock::Clock;
use rocket::futures::future::join_all;
use rocket::http::{ContentType, Status};
use rocket::local::asynchronous::LocalResponse;
use serde_json::{json, Value};

use crate::support::{assert_error, bearer, spawn_app, spawn_app_with, Session, TestApp};

async fn json_of(response: LocalResponse<'_>) -> Value {
    response.into_json().await.expect("a JSON body")
}

fn origin_of(app: &TestApp) -> String {
    let state = gatehouse::parts::passkeys::state(app.state()).expect("the passkeys part");
    state.settings.origin.clone()
}

/// A ceremony's start: its id and the options' `publicKey`.
async fn start(app: &TestApp, uri: &str, token: Option<&str>) -> (String, Value) {
    let response = match token {
        Some(token) => app.post_bearer(uri, token, None).await,
        None => app.post(uri, json!({})).await,
    };
    assert_eq!(response.status(), Status::Ok, "{uri}");
    let body = json_of(response).await;
    let id = body["challenge_id"]
        .as_str()
        .expect("a challenge id")
        .to_string();
    (id, body["publicKey"].clone())
}

/// Registers `key` on the session's account and returns the stored passkey.
async fn register(app: &TestApp, session: &Session, key: &mut SoftKey, name: &str) -> Value {
    let (challenge_id, options) = start(
        app,
        "/api/auth/passkeys/register/start",
        Some(&session.access),
    )
    .await;
    let credential = key.register(&options);
    let body = json!({"challenge_id": challenge_id, "name": name, "credential": credential});
    let response = app
        .post_bearer(
            "/api/auth/passkeys/register/finish",
            &session.access,
            Some(body),
        )
        .await;
    assert_eq!(response.status(), Status::Created);
    json_of(response).await["passkey"].clone()
}

/// An account with one registered passkey.
async fn with_passkey(app: &TestApp, username: &str) -> (Session, SoftKey) {
    let session = app.signed_in(username).await;
    let mut key = SoftKey::new(&origin_of(app));
    register(app, &session, &mut key, "Laptop").await;
    (session, key)
}

/// A passwordless sign-in's finish with `key`'s answer to a fresh start.
async fn sign_in<'a>(app: &'a TestApp, key: &mut SoftKey) -> LocalResponse<'a> {
    let (challenge_id, options) = start(app, "/api/auth/passkeys/login/start", None).await;
    let credential = key.assert(&options);
    app.post(
        "/api/auth/passkeys/login/finish",
        json!({"challenge_id": challenge_id, "credential": credential}),
    )
    .await
}

/// An access token of `session` whose proof is too old for `Fresh` routes: the clock
/// moves past `reauthentication_max_age` and the session is refreshed.
async fn stale_access(app: &TestApp, session: &Session) -> String {
    app.clock.advance(601);
    let refresh = app
        .post(
            "/api/auth/refresh",
            json!({"refresh_token": session.refresh}),
        )
        .await;
    json_of(refresh).await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn me(app: &TestApp, token: &str) -> Value {
    let response = app.get_bearer("/api/auth/me", token).await;
    assert_eq!(response.status(), Status::Ok);
    json_of(response).await
}

async fn events(app: &TestApp, kind: &str, detail_like: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM auth_events WHERE kind = $1 AND detail LIKE $2")
        .bind(kind)
        .bind(detail_like)
        .fetch_one(&app.pool())
        .await
        .unwrap()
}

#[rocket::async_test]
async fn a_registered_passkey_signs_in_with_no_username() {
    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    let (challenge_id, options) = start(
        &app,
        "/api/auth/passkeys/register/start",
        Some(&session.access),
    )
    .await;
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(
        options["authenticatorSelection"]["residentKey"],
        "preferred"
    );
    // The user handle is a random UUID, never the account id.
    let handle = options["user"]["id"].as_str().unwrap();
    let account_id = app.account_id("alice").await;
    assert_eq!(handle.len(), 22, "16 bytes in base64url: {handle}");
    assert_ne!(handle, account_id.to_string());

    let mut key = SoftKey::new(&origin_of(&app));
    let credential = key.register(&options);
    let body = json!({"challenge_id": challenge_id, "name": " Laptop ", "credential": credential});
    let response = app
        .post_bearer(
            "/api/auth/passkeys/register/finish",
            &session.access,
            Some(body),
        )
        .await;
    assert_eq!(response.status(), Status::Created);
    let created = json_of(response).await;
    assert_eq!(created["passkey"]["name"], "Laptop");
    assert_eq!(created["passkey"]["backed_up"], false);
    assert!(created["passkey"]["last_used_at"].is_null());
    assert_eq!(events(&app, "passkey_added", "%").await, 1);

    let response = sign_in(&app, &mut key).await;
    assert_eq!(response.status(), Status::Ok);
    let tokens = json_of(response).await;
    assert_eq!(tokens["two_factor_required"], false);
    assert!(tokens["refresh_token"].is_string());
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(me(&app, access).await["username"], "alice");
    assert_eq!(
        events(&app, "login_succeeded", "signed in with: passkey").await,
        1
    );

    let list = json_of(app.get_bearer("/api/auth/passkeys", access).await).await;
    let passkeys = list["passkeys"].as_array().unwrap();
    assert_eq!(passkeys.len(), 1);
    assert!(passkeys[0]["last_used_at"].is_i64(), "{list}");

    // A second registration excludes the first passkey.
    let (_, options) = start(&app, "/api/auth/passkeys/register/start", Some(access)).await;
    let excluded = options["excludeCredentials"].as_array().unwrap();
    assert_eq!(excluded.len(), 1);
    assert_eq!(
        excluded[0]["id"].as_str().unwrap(),
        credential["id"].as_str().unwrap()
    );
}

#[rocket::async_test]
async fn a_passkey_is_named_renamed_listed_and_removed() {
    let app = spawn_app().await;
    let (session, _) = with_passkey(&app, "alice").await;
    let list = json_of(app.get_bearer("/api/auth/passkeys", &session.access).await).await;
    let id = list["passkeys"][0]["id"].as_i64().unwrap();
    let uri = format!("/api/auth/passkeys/{id}");

    let response = app
        .patch_bearer(&uri, &session.access, json!({"name": "Phone"}))
        .await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(json_of(response).await["passkey"]["name"], "Phone");
    for bad in ["", "   ", "a\u{202e}b", &"x".repeat(65)] {
        let response = app
            .patch_bearer(&uri, &session.access, json!({"name": bad}))
            .await;
        assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    }

    // Another account sees none of it.
    let bob = app.signed_in("bob").await;
    let response = app
        .patch_bearer(&uri, &bob.access, json!({"name": "Mine"}))
        .await;
    assert_error(response, Status::NotFound, "not_found").await;
    let response = app.delete_bearer(&uri, &bob.access).await;
    assert_error(response, Status::NotFound, "not_found").await;
    let response = app
        .delete_bearer("/api/auth/passkeys/nope", &bob.access)
        .await;
    assert_error(response, Status::NotFound, "not_found").await;

    let response = app.delete_bearer(&uri, &session.access).await;
    assert_eq!(response.status(), Status::NoContent);
    let list = json_of(app.get_bearer("/api/auth/passkeys", &session.access).await).await;
    assert_eq!(list["passkeys"], json!([]));
    assert_eq!(events(&app, "passkey_removed", "%").await, 1);
}

#[rocket::async_test]
async fn registering_and_removing_need_a_recent_proof() {
    let app = spawn_app().await;
    let (session, _) = with_passkey(&app, "alice").await;
    let list = json_of(app.get_bearer("/api/auth/passkeys", &session.access).await).await;
    let id = list["passkeys"][0]["id"].as_i64().unwrap();
    let access = stale_access(&app, &session).await;
    let response = app
        .post_bearer("/api/auth/passkeys/register/start", &access, None)
        .await;
    assert_error(response, Status::Unauthorized, "reauthentication_required").await;
    let response = app
        .delete_bearer(&format!("/api/auth/passkeys/{id}"), &access)
        .await;
    assert_error(response, Status::Unauthorized, "reauthentication_required").await;
}

#[rocket::async_test]
async fn a_challenge_works_once_and_only_for_five_minutes() {
    let app = spawn_app().await;
    let (_, mut key) = with_passkey(&app, "alice").await;
    let (challenge_id, options) = start(&app, "/api/auth/passkeys/login/start", None).await;
    let credential = key.assert(&options);
    let body = json!({"challenge_id": challenge_id, "credential": credential});
    let response = app
        .post("/api/auth/passkeys/login/finish", body.clone())
        .await;
    assert_eq!(response.status(), Status::Ok);
    let response = app.post("/api/auth/passkeys/login/finish", body).await;
    assert_error(response, Status::BadRequest, "invalid_challenge").await;

    let (challenge_id, options) = start(&app, "/api/auth/passkeys/login/start", None).await;
    let credential = key.assert(&options);
    app.clock.advance(301);
    let body = json!({"challenge_id": challenge_id, "credential": credential});
    let response = app.post("/api/auth/passkeys/login/finish", body).await;
    assert_error(response, Status::BadRequest, "invalid_challenge").await;

    // Expired ceremonies are dropped by a later start.
    let now = app.clock.now();
    start(&app, "/api/auth/passkeys/login/start", None).await;
    let expired: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM passkey_ceremonies WHERE expires_at <= $1")
            .bind(now)
            .fetch_one(&app.pool())
            .await
            .unwrap();
    assert_eq!(expired, 0);

    let body = json!({"challenge_id": "x".repeat(5000), "credential": {}});
    let response = app.post("/api/auth/passkeys/login/finish", body).await;
    assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
}

#[rocket::async_test]
async fn twenty_concurrent_finishes_of_one_challenge_sign_in_once() {
    let app = spawn_app().await;
    let (_, mut key) = with_passkey(&app, "alice").await;
    let (challenge_id, options) = start(&app, "/api/auth/passkeys/login/start", None).await;
    let credential = key.assert(&options);
    let body = json!({"challenge_id": challenge_id, "credential": credential}).to_string();
    let requests = (0..20).map(|_| {
        app.client
            .post("/api/auth/passkeys/login/finish")
            .header(ContentType::JSON)
            .body(body.clone())
            .dispatch()
    });
    let statuses: Vec<Status> = join_all(requests)
        .await
        .iter()
        .map(|response| response.status())
        .collect();
    let signed_in = statuses.iter().filter(|s| **s == Status::Ok).count();
    assert_eq!(signed_in, 1, "{statuses:?}");
    assert!(statuses
        .iter()
        .all(|s| *s == Status::Ok || *s == Status::BadRequest));
    let sessions: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE proved_by = 'passkey'")
            .fetch_one(&app.pool())
            .await
            .unwrap();
    assert_eq!(sessions, 1);
}

#[rocket::async_test]
async fn a_counter_going_backwards_is_refused_and_audited() {
    let app = spawn_app().await;
    let (_, mut key) = with_passkey(&app, "alice").await;
    assert_eq!(sign_in(&app, &mut key).await.status(), Status::Ok);
    assert_eq!(sign_in(&app, &mut key).await.status(), Status::Ok);
    // A clone of the key, behind the original.
    key.counter = Some(1);
    let response = sign_in(&app, &mut key).await;
    assert_error(response, Status::Unauthorized, "passkey_refused").await;
    assert_eq!(
        events(
            &app,
            "login_failed",
            "passkey: signature counter went backwards"
        )
        .await,
        1
    );
    // The password is not locked by it.
    assert_eq!(app.failed_logins("alice").await, 0);
}

#[rocket::async_test]
async fn a_synced_passkey_counts_zero_every_time() {
    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    let mut key = SoftKey::synced(&origin_of(&app));
    let passkey = register(&app, &session, &mut key, "Phone").await;
    assert_eq!(passkey["backed_up"], true);
    for _ in 0..3 {
        assert_eq!(sign_in(&app, &mut key).await.status(), Status::Ok);
    }
}

#[rocket::async_test]
async fn another_origin_or_rp_id_is_refused() {
    let app = spawn_app().await;
    let (_, mut key) = with_passkey(&app, "alice").await;
    key.origin = "https://evil.example".into();
    let response = sign_in(&app, &mut key).await;
    assert_error(response, Status::Unauthorized, "passkey_refused").await;
    key.origin = origin_of(&app);
    key.rp_id = Some("evil.example".into());
    let response = sign_in(&app, &mut key).await;
    assert_error(response, Status::Unauthorized, "passkey_refused").await;
    key.rp_id = None;
    assert_eq!(sign_in(&app, &mut key).await.status(), Status::Ok);

    // Registering from another origin is refused too, and stores nothing.
    let session = app.signed_in("bob").await;
    let mut phishing = SoftKey::new("https://evil.example");
    let (challenge_id, options) = start(
        &app,
        "/api/auth/passkeys/register/start",
        Some(&session.access),
    )
    .await;
    let credential = phishing.register(&options);
    let body = json!({"challenge_id": challenge_id, "name": "Evil", "credential": credential});
    let response = app
        .post_bearer(
            "/api/auth/passkeys/register/finish",
            &session.access,
            Some(body),
        )
        .await;
    assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    let list = json_of(app.get_bearer("/api/auth/passkeys", &session.access).await).await;
    assert_eq!(list["passkeys"], json!([]));
}

#[rocket::async_test]
async fn an_assertion_without_user_verification_is_refused() {
    let app = spawn_app().await;
    let (_, mut key) = with_passkey(&app, "alice").await;
    key.verifies_user = false;
    let response = sign_in(&app, &mut key).await;
    assert_error(response, Status::Unauthorized, "passkey_refused").await;
}

#[rocket::async_test]
async fn another_accounts_user_handle_or_passkey_is_refused() {
    let app = spawn_app().await;
    let (_, mut alice_key) = with_passkey(&app, "alice").await;
    let (bob, bob_key) = with_passkey(&app, "bob").await;
    // Alice's passkey claiming to be Bob's account.
    alice_key.user_handle = bob_key.user_handle.clone();
    let response = sign_in(&app, &mut alice_key).await;
    assert_error(response, Status::Unauthorized, "passkey_refused").await;
    assert_eq!(
        events(
            &app,
            "login_failed",
            "passkey: user handle of another account"
        )
        .await,
        1
    );

    // Alice's passkey answering Bob's re-authentication.
    let (challenge_id, options) = start(
        &app,
        "/api/auth/reauthenticate/passkey/start",
        Some(&bob.access),
    )
    .await;
    alice_key.user_handle = bob_key.user_handle.clone();
    let credential = alice_key.assert(&options);
    let body = json!({"challenge_id": challenge_id, "credential": credential});
    let response = app
        .post_bearer("/api/auth/reauthenticate", &bob.access, Some(body))
        .await;
    assert_error(response, Status::Unauthorized, "passkey_refused").await;
}

#[rocket::async_test]
async fn a_challenge_of_another_session_is_refused() {
    let app = spawn_app().await;
    let (alice, mut key) = with_passkey(&app, "alice").await;
    let other = app.signed_in("alice").await;
    let (challenge_id, options) = start(
        &app,
        "/api/auth/reauthenticate/passkey/start",
        Some(&alice.access),
    )
    .await;
    let credential = key.assert(&options);
    let body = json!({"challenge_id": challenge_id, "credential": credential});
    let response = app
        .post_bearer(
            "/api/auth/reauthenticate",
            &other.access,
            Some(body.clone()),
        )
        .await;
    assert_error(response, Status::BadRequest, "invalid_challenge").await;

    // A sign-in challenge is no re-authentication challenge either.
    let (challenge_id, options) = start(&app, "/api/auth/passkeys/login/start", None).await;
    let credential = key.assert(&options);
    let body = json!({"challenge_id": challenge_id, "credential": credential});
    let response = app
        .post_bearer("/api/auth/reauthenticate", &alice.access, Some(body))
        .await;
    assert_error(response, Status::BadRequest, "invalid_challenge").await;

    // A registration started by one session cannot be finished by another.
    let (challenge_id, options) = start(
        &app,
        "/api/auth/passkeys/register/start",
        Some(&alice.access),
    )
    .await;
    let mut second = SoftKey::new(&origin_of(&app));
    let credential = second.register(&options);
    let body = json!({"challenge_id": challenge_id, "name": "Other", "credential": credential});
    let response = app
        .post_bearer(
            "/api/auth/passkeys/register/finish",
            &other.access,
            Some(body),
        )
        .await;
    assert_error(response, Status::BadRequest, "invalid_challenge").await;
}

#[rocket::async_test]
async fn a_passkey_proves_the_holder_again() {
    let app = spawn_app().await;
    let (session, mut key) = with_passkey(&app, "alice").await;
    let access = stale_access(&app, &session).await;
    let (challenge_id, options) = start(
        &app,
        "/api/auth/reauthenticate/passkey/start",
        Some(&access),
    )
    .await;
    assert_eq!(options["allowCredentials"].as_array().unwrap().len(), 1);
    let credential = key.assert(&options);
    let body = json!({"challenge_id": challenge_id, "credential": credential});
    let response = app
        .post_bearer("/api/auth/reauthenticate", &access, Some(body))
        .await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(events(&app, "reauthenticated", "passkey").await, 1);
    let response = app
        .post_bearer("/api/auth/passkeys/register/start", &access, None)
        .await;
    assert_eq!(response.status(), Status::Ok);

    // Mixed proofs are refused with a sentence.
    let body = json!({"password": "x", "challenge_id": "y", "credential": {}});
    let response = app
        .post_bearer("/api/auth/reauthenticate", &access, Some(body))
        .await;
    assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
}

#[rocket::async_test]
async fn a_passkey_completes_a_two_factor_login_instead_of_a_code() {
    let app = spawn_app().await;
    let enrolled = crate::two_factor::enrol(&app, "alice").await;
    let session = Session {
        access: enrolled.access.clone(),
        refresh: String::new(),
    };
    let mut key = SoftKey::new(&origin_of(&app));
    register(&app, &session, &mut key, "Laptop").await;

    // Two wrong passwords before: a completed two-step login starts the count again.
    for _ in 0..2 {
        app.login("alice", "not the password").await;
    }
    assert_eq!(app.failed_logins("alice").await, 2);
    let response = app.login("alice", crate::support::PASSWORD).await;
    let pending = json_of(response).await;
    assert_eq!(pending["two_factor_required"], true);
    assert_eq!(pending["methods"], json!(["totp", "passkey"]));
    let pending_access = pending["access_token"].as_str().unwrap();
    let (challenge_id, options) =
        start(&app, "/api/auth/2fa/passkey/start", Some(pending_access)).await;
    let credential = key.assert(&options);
    let body = json!({"challenge_id": challenge_id, "credential": credential});
    let response = app
        .post_bearer(
            "/api/auth/2fa/passkey/finish",
            pending_access,
            Some(body.clone()),
        )
        .await;
    assert_eq!(response.status(), Status::Ok);
    let tokens = json_of(response).await;
    assert_eq!(tokens["two_factor_required"], false);
    me(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(
        events(&app, "login_succeeded", "second factor: passkey").await,
        1
    );
    // The pending session is spent.
    let response = app
        .post_bearer("/api/auth/2fa/passkey/finish", pending_access, Some(body))
        .await;
    assert_eq!(response.status(), Status::Unauthorized);

    // A passwordless sign-in of a TOTP account asks for no code: the passkey is both.
    let response = sign_in(&app, &mut key).await;
    assert_eq!(json_of(response).await["two_factor_required"], false);
}

#[rocket::async_test]
async fn a_passkey_alone_does_not_make_password_logins_two_step() {
    let app = spawn_app().await;
    with_passkey(&app, "alice").await;
    let response = app.login("alice", crate::support::PASSWORD).await;
    let body = json_of(response).await;
    assert_eq!(body["two_factor_required"], false);
    assert!(body.get("methods").is_none(), "{body}");
}

#[rocket::async_test]
async fn blocked_and_inactive_accounts_are_refused_and_a_locked_password_is_not() {
    let app = spawn_app().await;
    let (_, mut key) = with_passkey(&app, "alice").await;
    let id = app.account_id("alice").await;
    let now = app.clock.now();
    sqlx::query(
        "UPDATE accounts SET locked_at = $2, locked_until = $3, failed_logins = 99 WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .bind(now + 3600)
    .execute(&app.pool())
    .await
    .unwrap();
    assert_eq!(sign_in(&app, &mut key).await.status(), Status::Ok);

    sqlx::query("UPDATE accounts SET blocked_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&app.pool())
        .await
        .unwrap();
    let response = sign_in(&app, &mut key).await;
    assert_error(response, Status::Forbidden, "account_blocked").await;
    sqlx::query("UPDATE accounts SET blocked_at = NULL, is_active = 0 WHERE id = $1")
        .bind(id)
        .execute(&app.pool())
        .await
        .unwrap();
    let response = sign_in(&app, &mut key).await;
    assert_error(response, Status::Forbidden, "account_inactive").await;
}

#[rocket::async_test]
async fn an_unknown_passkey_and_garbage_get_clear_answers() {
    let app = spawn_app().await;
    with_passkey(&app, "alice").await;
    let mut stranger = SoftKey::new(&origin_of(&app));
    stranger.user_handle = vec![7; 16];
    let response = sign_in(&app, &mut stranger).await;
    assert_error(response, Status::Unauthorized, "passkey_refused").await;

    let (challenge_id, _) = start(&app, "/api/auth/passkeys/login/start", None).await;
    for credential in [json!({}), json!("text"), json!({"id": 1, "response": []})] {
        let body = json!({"challenge_id": challenge_id, "credential": credential});
        let response = app.post("/api/auth/passkeys/login/finish", body).await;
        assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    }
    let response = app
        .post(
            "/api/auth/passkeys/login/finish",
            json!({"challenge_id": challenge_id}),
        )
        .await;
    assert_eq!(response.status(), Status::UnprocessableEntity);

    // Challenge ids of any other shape never reach the database (a NUL would be a
    // PostgreSQL error).
    let (_, options) = start(&app, "/api/auth/passkeys/login/start", None).await;
    let credential = stranger.assert(&options);
    for bad in ["\u{0}", "short", &"é".repeat(16), &"a".repeat(33)] {
        let body = json!({"challenge_id": bad, "credential": credential});
        let response = app.post("/api/auth/passkeys/login/finish", body).await;
        assert_error(response, Status::BadRequest, "invalid_challenge").await;
    }
    // Starting needs a JSON body: other sites' plain form posts cannot start one.
    let response = app
        .client
        .post("/api/auth/passkeys/login/start")
        .dispatch()
        .await;
    assert_ne!(response.status(), Status::Ok);
    assert!(response.status().code < 500);
}

#[rocket::async_test]
async fn an_account_keeps_at_most_its_limit_of_passkeys() {
    let app = spawn_app_with(|f| f.merge(("gatehouse.max_passkeys_per_account", 2))).await;
    let session = app.signed_in("alice").await;
    for name in ["One", "Two"] {
        let mut key = SoftKey::new(&origin_of(&app));
        register(&app, &session, &mut key, name).await;
    }
    let response = app
        .post_bearer("/api/auth/passkeys/register/start", &session.access, None)
        .await;
    assert_error(response, Status::Conflict, "passkey_limit_reached").await;
}

#[rocket::async_test]
async fn passkeys_switched_off_answer_not_found() {
    let app = spawn_app_with(|f| f.merge(("gatehouse.passkeys_enabled", false))).await;
    let session = app.signed_in("alice").await;
    let response = app
        .post_bearer("/api/auth/passkeys/register/start", &session.access, None)
        .await;
    assert_eq!(response.status(), Status::NotFound);
    let response = app.post("/api/auth/passkeys/login/start", json!({})).await;
    assert_eq!(response.status(), Status::NotFound);
    let response = app
        .client
        .get("/api/auth/passkeys")
        .header(bearer(&session.access))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::NotFound);
}

#[rocket::async_test]
async fn a_second_implementation_registers_and_proves_the_holder() {
    use webauthn_authenticator_rs::prelude::{Url, WebauthnAuthenticator};
    use webauthn_authenticator_rs::softpasskey::SoftPasskey;

    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    let origin = Url::parse(&origin_of(&app)).unwrap();
    // It claims user verification it cannot do; the site requires it.
    let mut authenticator = SoftPasskey::new(true);
    let response = app
        .post_bearer("/api/auth/passkeys/register/start", &session.access, None)
        .await;
    let mut started = json_of(response).await;
    let challenge_id = started["challenge_id"].take();
    let options = serde_json::from_value(json!({"publicKey": started["publicKey"]})).unwrap();
    let credential = authenticator
        .do_registration(origin.clone(), options)
        .expect("the soft passkey registers");
    let body = json!({"challenge_id": challenge_id, "name": "Soft", "credential": credential});
    let response = app
        .post_bearer(
            "/api/auth/passkeys/register/finish",
            &session.access,
            Some(body),
        )
        .await;
    assert_eq!(response.status(), Status::Created);

    let response = app
        .post_bearer(
            "/api/auth/reauthenticate/passkey/start",
            &session.access,
            None,
        )
        .await;
    let mut started = json_of(response).await;
    let challenge_id = started["challenge_id"].take();
    let options = serde_json::from_value(json!({"publicKey": started["publicKey"]})).unwrap();
    let credential = authenticator
        .do_authentication(origin, options)
        .expect("the soft passkey signs");
    let body = json!({"challenge_id": challenge_id, "credential": credential});
    let response = app
        .post_bearer("/api/auth/reauthenticate", &session.access, Some(body))
        .await;
    assert_eq!(response.status(), Status::Ok);
}

#[rocket::async_test]
async fn an_admin_removes_an_accounts_passkeys_and_the_cli_lists_and_removes_them() {
    use crate::cli::{assert_fails, gatehouse, run, stdout};

    let app = spawn_app().await;
    let (alice, _) = with_passkey(&app, "alice").await;
    let id = app.account_id("alice").await;
    let staff = app.signed_in_admin("staff", false).await;
    let uri = format!("/api/admin/accounts/{id}/passkeys");
    let response = app.delete_bearer(&uri, &staff.access).await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(json_of(response).await, json!({"removed": 1}));
    assert_eq!(
        events(&app, "passkey_removed", "1 passkey, by an administrator").await,
        1
    );
    let response = app.delete_bearer(&uri, &alice.access).await;
    assert_error(response, Status::Forbidden, "forbidden").await;
    let own = format!(
        "/api/admin/accounts/{}/passkeys",
        app.account_id("staff").await
    );
    let response = app.delete_bearer(&own, &staff.access).await;
    assert_error(response, Status::Forbidden, "forbidden").await;

    let mut key = SoftKey::new(&origin_of(&app));
    register(&app, &alice, &mut key, "Desk key").await;
    let output = run(gatehouse(&app.db, &["passkeys", "list", "alice"]), "");
    assert!(output.status.success(), "{output:?}");
    let listed = stdout(&output);
    assert!(
        listed.contains("Desk key") && listed.contains("last used never"),
        "{listed}"
    );
    let output = run(
        gatehouse(&app.db, &["passkeys", "remove-all", "ALICE@example.com"]),
        "",
    );
    assert!(output.status.success(), "{output:?}");
    assert!(stdout(&output).contains("Removed 1 passkey."));
    assert_eq!(
        events(&app, "passkey_removed", "1 passkey, by the CLI").await,
        1
    );
    let output = run(gatehouse(&app.db, &["passkeys", "list", "alice"]), "");
    assert!(
        stdout(&output).contains("alice has no passkeys."),
        "{output:?}"
    );
    let output = run(gatehouse(&app.db, &["passkeys", "list", "nobody"]), "");
    assert_fails(&output, "username or email nobody");
}

#[rocket::async_test]
async fn the_export_lists_passkeys_without_key_material() {
    let app = spawn_app().await;
    let (session, _) = with_passkey(&app, "alice").await;
    let response = app.get_bearer("/api/auth/me/export", &session.access).await;
    assert_eq!(response.status(), Status::Ok);
    let export = json_of(response).await;
    let passkeys = &export["parts"]["passkeys"];
    assert_eq!(passkeys[0]["name"], "Laptop", "{export}");
    let text = export.to_string();
    assert!(
        !text.contains("credential") && !text.contains("public_key"),
        "{text}"
    );
}

#[rocket::async_test]
async fn adding_and_removing_a_passkey_sends_a_notice_unless_switched_off() {
    use crate::smtp_sink::{mailing_app_with, readable, verify_address, SmtpSink};

    let sink = SmtpSink::start().await;
    let app = mailing_app_with(&sink, |f| f).await;
    app.register("alice", "alice@example.com").await;
    verify_address(&app, &sink, "alice@example.com").await;
    let (session, _) = with_passkey(&app, "alice").await;
    let added = sink
        .wait_for_one("alice@example.com", "A passkey was added")
        .await;
    assert!(readable(&added).contains("Browser or device"), "{added}");
    let list = json_of(app.get_bearer("/api/auth/passkeys", &session.access).await).await;
    let id = list["passkeys"][0]["id"].as_i64().unwrap();
    let uri = format!("/api/auth/passkeys/{id}");
    assert_eq!(
        app.delete_bearer(&uri, &session.access).await.status(),
        Status::NoContent
    );
    sink.wait_for_one("alice@example.com", "A passkey was removed")
        .await;

    let quiet_sink = SmtpSink::start().await;
    let quiet = mailing_app_with(&quiet_sink, |f| {
        f.merge(("gatehouse.notify_passkey_changes", false))
    })
    .await;
    quiet.register("bob", "bob@example.com").await;
    verify_address(&quiet, &quiet_sink, "bob@example.com").await;
    with_passkey(&quiet, "bob").await;
    rocket::tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let told = quiet_sink
        .to("bob@example.com")
        .iter()
        .filter(|m| readable(m).contains("passkey"))
        .count();
    assert_eq!(told, 0);
}
