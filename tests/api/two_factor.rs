//! Two-factor authentication: enrolment, the two-step login, replay and drift, recovery
//! codes, the attempt limit and lockout, disabling, the admin reset, the feature
//! switched off, and what the database holds. Codes are computed with totp-rs from
//! the secret the setup returns, at times set on the app's manual clock.

use gatehouse::clock::Clock;
use rocket::futures::future::join_all;
use rocket::http::{ContentType, Status};
use rocket::local::asynchronous::LocalResponse;
use serde_json::{json, Value};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::support::{
    assert_error, bearer, launch, spawn_app, spawn_app_with, test_figment, TestApp, PASSWORD,
};

/// The code of `secret` (base32) at unix time `time`.
pub fn code_at(secret: &str, time: i64) -> String {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().unwrap();
    TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, "test".into())
        .unwrap()
        .generate(time as u64)
}

/// Moves the clock to 10 s into the next 30-second step and returns that time.
fn next_step(app: &TestApp) -> i64 {
    let now = app.clock.now();
    let time = (now / 30 + 1) * 30 + 10;
    app.clock.set(time);
    time
}

async fn json_of(response: LocalResponse<'_>) -> Value {
    response.into_json().await.expect("a JSON body")
}

/// An enrolled account: its full session, TOTP secret and recovery codes. The clock is
/// left one step past the code that enabled it.
pub struct Enrolled {
    pub access: String,
    pub secret: String,
    pub recovery_codes: Vec<String>,
}

/// The code of `secret` at the app's current time.
pub fn code_now(app: &TestApp, secret: &str) -> String {
    code_at(secret, app.clock.now())
}

pub async fn enrol(app: &TestApp, username: &str) -> Enrolled {
    let session = app.signed_in(username).await;
    let response = app
        .post_bearer(
            "/api/auth/2fa/setup",
            &session.access,
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(response.status(), Status::Ok);
    let setup = json_of(response).await;
    let secret = setup["secret"].as_str().unwrap().to_string();
    let time = next_step(app);
    let response = app
        .post_bearer(
            "/api/auth/2fa/enable",
            &session.access,
            Some(json!({"code": code_at(&secret, time)})),
        )
        .await;
    assert_eq!(response.status(), Status::Ok);
    let body = json_of(response).await;
    let recovery_codes = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    next_step(app);
    Enrolled {
        access: session.access,
        secret,
        recovery_codes,
    }
}

/// Logs in with the password; returns the pending session's token.
async fn password_step(app: &TestApp, username: &str) -> String {
    let response = app.login(username, PASSWORD).await;
    assert_eq!(response.status(), Status::Ok);
    let body = json_of(response).await;
    assert_eq!(body["two_factor_required"], true, "{body}");
    assert_eq!(body["methods"], json!(["totp"]), "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

async fn verify<'a>(app: &'a TestApp, pending: &str, code: &str) -> LocalResponse<'a> {
    app.post_bearer(
        "/api/auth/2fa/verify",
        pending,
        Some(json!({ "code": code })),
    )
    .await
}

async fn status(app: &TestApp, access: &str) -> Value {
    json_of(app.get_bearer("/api/auth/2fa", access).await).await
}

#[rocket::async_test]
async fn setup_alone_enables_nothing_and_a_new_setup_replaces_it() {
    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    for (body, field) in [
        (json!({}), "password"),
        (json!({"password": "wrong one"}), "password"),
    ] {
        let response = app
            .post_bearer("/api/auth/2fa/setup", &session.access, Some(body))
            .await;
        let error = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
        assert!(error["error"]["fields"][field].is_string(), "{error}");
    }
    let first = json_of(
        app.post_bearer(
            "/api/auth/2fa/setup",
            &session.access,
            Some(json!({"password": PASSWORD})),
        )
        .await,
    )
    .await;
    let secret = first["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    let uri = first["otpauth_uri"].as_str().unwrap();
    let brand = gatehouse::config::brand().replace(' ', "%20");
    assert!(
        uri.starts_with(&format!("otpauth://totp/{brand}:alice?"))
            && uri.contains(&format!("issuer={brand}")),
        "{uri}"
    );
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(first["qr_svg"].as_str().unwrap().contains("<svg"));

    assert_eq!(status(&app, &session.access).await["enabled"], false);
    let login = json_of(app.login("alice", PASSWORD).await).await;
    assert_eq!(login["two_factor_required"], false);

    let second = json_of(
        app.post_bearer(
            "/api/auth/2fa/setup",
            &session.access,
            Some(json!({"password": PASSWORD})),
        )
        .await,
    )
    .await;
    let replacement = second["secret"].as_str().unwrap();
    assert_ne!(replacement, secret);
    let time = next_step(&app);
    assert_error(
        app.post_bearer(
            "/api/auth/2fa/enable",
            &session.access,
            Some(json!({"code": code_at(secret, time)})),
        )
        .await,
        Status::Unauthorized,
        "invalid_otp",
    )
    .await;
    assert_eq!(status(&app, &session.access).await["enabled"], false);
    let response = app
        .post_bearer(
            "/api/auth/2fa/enable",
            &session.access,
            Some(json!({"code": code_at(replacement, time)})),
        )
        .await;
    assert_eq!(response.status(), Status::Ok);
    let state = status(&app, &session.access).await;
    assert_eq!(state["enabled"], true);
    assert_eq!(state["recovery_codes_left"], 10);
    // On now: a further setup is a conflict.
    assert_error(
        app.post_bearer(
            "/api/auth/2fa/setup",
            &session.access,
            Some(json!({"password": PASSWORD})),
        )
        .await,
        Status::Conflict,
        "conflict",
    )
    .await;
}

#[rocket::async_test]
async fn enabling_needs_a_setup_and_the_right_code() {
    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    assert_error(
        app.post_bearer(
            "/api/auth/2fa/enable",
            &session.access,
            Some(json!({"code": "123456"})),
        )
        .await,
        Status::Conflict,
        "conflict",
    )
    .await;
    app.post_bearer(
        "/api/auth/2fa/setup",
        &session.access,
        Some(json!({"password": PASSWORD})),
    )
    .await;
    for wrong in ["000000", "12345", "not a code"] {
        assert_error(
            app.post_bearer(
                "/api/auth/2fa/enable",
                &session.access,
                Some(json!({ "code": wrong })),
            )
            .await,
            Status::Unauthorized,
            "invalid_otp",
        )
        .await;
    }
    assert_eq!(status(&app, &session.access).await["enabled"], false);
}

#[rocket::async_test]
async fn a_login_with_2fa_on_takes_a_second_step_under_a_new_session() {
    let app = spawn_app().await;
    let enrolled = enrol(&app, "alice").await;
    let pending = password_step(&app, "alice").await;

    // The pending token opens nothing but verify and logout.
    for uri in ["/api/auth/me", "/api/auth/sessions", "/api/auth/2fa"] {
        assert_error(
            app.get_bearer(uri, &pending).await,
            Status::Unauthorized,
            "two_factor_required",
        )
        .await;
    }
    // A complete session has nothing to verify.
    assert_error(
        verify(&app, &enrolled.access, "123456").await,
        Status::Unauthorized,
        "session_revoked",
    )
    .await;

    let code = code_at(&enrolled.secret, app.clock.now());
    let response = verify(&app, &pending, &code).await;
    assert_eq!(response.status(), Status::Ok);
    let pair = json_of(response).await;
    assert_eq!(pair["two_factor_required"], false);
    let access = pair["access_token"].as_str().unwrap();
    let refresh = pair["refresh_token"].as_str().unwrap();
    let me = json_of(app.get_bearer("/api/auth/me", access).await).await;
    assert_eq!(me["username"], "alice");
    let refreshed = app
        .post("/api/auth/refresh", json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(refreshed.status(), Status::Ok);
    // The pending session is spent.
    assert_error(
        verify(&app, &pending, &code).await,
        Status::Unauthorized,
        "session_revoked",
    )
    .await;
}

#[rocket::async_test]
async fn a_code_is_accepted_once_and_within_one_step_of_drift() {
    let app = spawn_app().await;
    let enrolled = enrol(&app, "alice").await;
    // One step further, so that the step before now is not the one enabling spent.
    let now = next_step(&app);
    let at = |steps: i64| code_at(&enrolled.secret, now + steps * 30);

    let pending = password_step(&app, "alice").await;
    for (too_far, left) in [(at(-2), 2), (at(2), 1)] {
        let error = assert_error(
            verify(&app, &pending, &too_far).await,
            Status::Unauthorized,
            "invalid_otp",
        )
        .await;
        assert_eq!(error["error"]["attempts_left"], left);
    }
    assert_eq!(verify(&app, &pending, &at(-1)).await.status(), Status::Ok);

    // The next step's code is still ahead of the last one accepted.
    let pending = password_step(&app, "alice").await;
    assert_eq!(verify(&app, &pending, &at(1)).await.status(), Status::Ok);

    // Every code up to the last accepted step is spent, the current one included.
    let pending = password_step(&app, "alice").await;
    for replay in [at(1), at(0)] {
        assert_error(
            verify(&app, &pending, &replay).await,
            Status::Unauthorized,
            "invalid_otp",
        )
        .await;
    }
    app.clock.advance(60);
    let fresh = code_at(&enrolled.secret, app.clock.now());
    assert_eq!(verify(&app, &pending, &fresh).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn a_recovery_code_works_once_in_any_case_or_spacing() {
    let app = spawn_app().await;
    let enrolled = enrol(&app, "alice").await;
    let code = enrolled.recovery_codes[3].clone();
    assert_eq!(enrolled.recovery_codes.len(), 10);
    assert!(code.len() == 14 && code.matches('-').count() == 2, "{code}");

    let pending = password_step(&app, "alice").await;
    let typed = format!(" {} ", code.to_uppercase().replace('-', " "));
    let response = verify(&app, &pending, &typed).await;
    assert_eq!(response.status(), Status::Ok);
    let access = json_of(response).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(status(&app, &access).await["recovery_codes_left"], 9);

    let pending = password_step(&app, "alice").await;
    assert_error(
        verify(&app, &pending, &code).await,
        Status::Unauthorized,
        "invalid_otp",
    )
    .await;
    let kinds: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM auth_events WHERE kind = 'recovery_code_used'")
            .fetch_all(&app.pool())
            .await
            .unwrap();
    assert_eq!(kinds.len(), 1);
}

/// Sends `code` on each pending session at once; returns the statuses.
async fn verify_at_once(app: &TestApp, pendings: &[String], code: &str) -> Vec<Status> {
    let requests = pendings.iter().map(|pending| async move {
        app.client
            .post("/api/auth/2fa/verify")
            .header(bearer(pending))
            .header(ContentType::JSON)
            .body(json!({ "code": code }).to_string())
            .dispatch()
            .await
            .status()
    });
    join_all(requests).await
}

#[rocket::async_test]
async fn one_code_sent_twice_at_once_succeeds_exactly_once() {
    let app = spawn_app().await;
    let enrolled = enrol(&app, "alice").await;
    let code = code_at(&enrolled.secret, app.clock.now());
    let mut pendings = Vec::new();
    for _ in 0..2 {
        pendings.push(password_step(&app, "alice").await);
    }
    let statuses = verify_at_once(&app, &pendings, &code).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == Status::Ok).count(),
        1,
        "{statuses:?}"
    );

    let mut pendings = Vec::new();
    for _ in 0..2 {
        pendings.push(password_step(&app, "alice").await);
    }
    let statuses = verify_at_once(&app, &pendings, &enrolled.recovery_codes[0]).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == Status::Ok).count(),
        1,
        "{statuses:?}"
    );
}

#[rocket::async_test]
async fn too_many_wrong_codes_revoke_the_pending_session() {
    let app = spawn_app().await;
    let enrolled = enrol(&app, "alice").await;
    let pending = password_step(&app, "alice").await;
    for left in [2, 1] {
        let error = assert_error(
            verify(&app, &pending, "000000").await,
            Status::Unauthorized,
            "invalid_otp",
        )
        .await;
        assert_eq!(error["error"]["attempts_left"], left);
    }
    assert_error(
        verify(&app, &pending, "000000").await,
        Status::Unauthorized,
        "session_revoked",
    )
    .await;
    let right = code_at(&enrolled.secret, app.clock.now());
    assert_error(
        verify(&app, &pending, &right).await,
        Status::Unauthorized,
        "session_revoked",
    )
    .await;
    // Starting again from the password works.
    let pending = password_step(&app, "alice").await;
    assert_eq!(verify(&app, &pending, &right).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn wrong_codes_count_towards_the_lockout_and_only_a_completed_login_resets_it() {
    let app = spawn_app().await;
    let enrolled = enrol(&app, "alice").await;
    let pending = password_step(&app, "alice").await;
    for _ in 0..3 {
        verify(&app, &pending, "000000").await;
    }
    assert_eq!(app.failed_logins("alice").await, 3);
    // The password step alone does not reset the counter.
    let pending = password_step(&app, "alice").await;
    assert_eq!(app.failed_logins("alice").await, 3);
    assert_error(
        verify(&app, &pending, "000000").await,
        Status::Unauthorized,
        "invalid_otp",
    )
    .await;
    let response = verify(&app, &pending, "000000").await;
    assert_eq!(response.headers().get_one("Retry-After"), Some("900"));
    assert_error(response, Status::Locked, "account_locked").await;
    // Locked: even the right code and the right password are refused.
    assert_error(
        app.login("alice", PASSWORD).await,
        Status::Locked,
        "account_locked",
    )
    .await;
    let right = code_at(&enrolled.secret, app.clock.now());
    assert_error(
        verify(&app, &pending, &right).await,
        Status::Unauthorized,
        "session_revoked",
    )
    .await;

    app.clock.advance(901);
    let pending = password_step(&app, "alice").await;
    let right = code_at(&enrolled.secret, app.clock.now());
    assert_eq!(verify(&app, &pending, &right).await.status(), Status::Ok);
    assert_eq!(app.failed_logins("alice").await, 0);
}

#[rocket::async_test]
async fn a_pending_session_lapses_and_can_be_logged_out() {
    let app = spawn_app().await;
    let enrolled = enrol(&app, "alice").await;
    let pending = password_step(&app, "alice").await;
    assert_eq!(
        app.post_bearer("/api/auth/logout", &pending, None)
            .await
            .status(),
        Status::NoContent
    );
    let pending = password_step(&app, "alice").await;
    app.clock.advance(301 + 30);
    let right = code_at(&enrolled.secret, app.clock.now());
    let response = verify(&app, &pending, &right).await;
    assert_eq!(response.status(), Status::Unauthorized);
}

#[rocket::async_test]
async fn new_recovery_codes_replace_the_old_ones() {
    let app = spawn_app().await;
    let enrolled = enrol(&app, "alice").await;
    let code = code_at(&enrolled.secret, app.clock.now());
    let response = app
        .post_bearer(
            "/api/auth/2fa/recovery-codes",
            &enrolled.access,
            Some(json!({ "code": code })),
        )
        .await;
    assert_eq!(response.status(), Status::Ok);
    let fresh: Vec<String> = json_of(response).await["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(fresh.len(), 10);
    let pending = password_step(&app, "alice").await;
    assert_error(
        verify(&app, &pending, &enrolled.recovery_codes[0]).await,
        Status::Unauthorized,
        "invalid_otp",
    )
    .await;
    assert_eq!(verify(&app, &pending, &fresh[0]).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn the_holder_disables_2fa_with_password_and_code() {
    let app = spawn_app().await;
    let enrolled = enrol(&app, "alice").await;
    let code = code_at(&enrolled.secret, app.clock.now());
    let disable = |body: Value| async {
        app.post_bearer("/api/auth/2fa/disable", &enrolled.access, Some(body))
            .await
    };
    assert_error(
        disable(json!({"password": "wrong password", "code": code})).await,
        Status::UnprocessableEntity,
        "validation_failed",
    )
    .await;
    assert_error(
        disable(json!({"password": PASSWORD, "code": "000000"})).await,
        Status::Unauthorized,
        "invalid_otp",
    )
    .await;
    assert_eq!(
        disable(json!({"password": PASSWORD, "code": code}))
            .await
            .status(),
        Status::NoContent
    );
    assert_eq!(status(&app, &enrolled.access).await["enabled"], false);
    let login = json_of(app.login("alice", PASSWORD).await).await;
    assert_eq!(login["two_factor_required"], false);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes")
        .fetch_one(&app.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[rocket::async_test]
async fn staff_reset_2fa_for_a_user_who_lost_the_device() {
    let app = spawn_app().await;
    let staff = app.signed_in_admin("helper", false).await;
    enrol(&app, "alice").await;
    let id = app.account_id("alice").await;
    let uri = format!("/api/admin/accounts/{id}/2fa/disable");
    let detail = json_of(
        app.get_bearer(&format!("/api/admin/accounts/{id}"), &staff.access)
            .await,
    )
    .await;
    assert_eq!(detail["account"]["two_factor_enabled"], true);

    let response = app.post_bearer(&uri, &staff.access, None).await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(
        json_of(response).await["account"]["two_factor_enabled"],
        false
    );
    assert_error(
        app.post_bearer(&uri, &staff.access, None).await,
        Status::Conflict,
        "conflict",
    )
    .await;
    let login = json_of(app.login("alice", PASSWORD).await).await;
    assert_eq!(login["two_factor_required"], false);

    let own = format!(
        "/api/admin/accounts/{}/2fa/disable",
        app.account_id("helper").await
    );
    assert_error(
        app.post_bearer(&own, &staff.access, None).await,
        Status::Forbidden,
        "forbidden",
    )
    .await;
    let kinds: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM auth_events WHERE account_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&app.pool())
            .await
            .unwrap();
    for kind in ["two_factor_enabled", "two_factor_reset"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing: {kinds:?}");
    }
}

#[rocket::async_test]
async fn switched_off_the_routes_are_gone_and_logins_take_one_step() {
    let app = spawn_app().await;
    let enrolled = enrol(&app, "alice").await;
    // The same database, served with 2FA off.
    let off = launch(
        test_figment(&app.db.url).merge(("gatehouse.two_factor_enabled", false)),
        &app.clock,
    )
    .await;
    let response = off
        .get("/api/auth/2fa")
        .header(bearer(&enrolled.access))
        .dispatch()
        .await;
    assert_error(response, Status::NotFound, "not_found").await;
    let response = off
        .post("/api/auth/2fa/setup")
        .header(bearer(&enrolled.access))
        .header(ContentType::JSON)
        .body(json!({"password": PASSWORD}).to_string())
        .dispatch()
        .await;
    assert_error(response, Status::NotFound, "not_found").await;
    let response = off
        .post("/api/auth/login")
        .header(ContentType::JSON)
        .body(json!({"login": "alice", "password": PASSWORD}).to_string())
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = response.into_json().await.unwrap();
    assert_eq!(body["two_factor_required"], false);
    assert!(body.get("methods").is_none(), "{body}");
    let access = body["access_token"].as_str().unwrap().to_string();
    // Off means off: no second step to complete, no code as proof, no admin reset.
    let response = off
        .post("/api/auth/2fa/verify")
        .header(bearer(&access))
        .header(ContentType::JSON)
        .body(json!({"code": "123456"}).to_string())
        .dispatch()
        .await;
    assert_error(response, Status::NotFound, "not_found").await;
    let response = off
        .post("/api/auth/reauthenticate")
        .header(bearer(&access))
        .header(ContentType::JSON)
        .body(json!({"code": "123456"}).to_string())
        .dispatch()
        .await;
    assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    let response = off
        .post("/api/admin/accounts/1/2fa/disable")
        .header(bearer(&access))
        .dispatch()
        .await;
    assert_error(response, Status::NotFound, "not_found").await;
    let off_only = spawn_app_with(|f| f.merge(("gatehouse.two_factor_enabled", false))).await;
    let session = off_only.signed_in("bob").await;
    assert_error(
        off_only
            .post_bearer("/api/auth/2fa/setup", &session.access, Some(json!({})))
            .await,
        Status::NotFound,
        "not_found",
    )
    .await;
}

#[rocket::async_test]
async fn the_database_holds_neither_the_secret_nor_the_recovery_codes() {
    let app = spawn_app().await;
    let enrolled = enrol(&app, "alice").await;
    let stored: String =
        sqlx::query_scalar("SELECT totp_secret FROM accounts WHERE username_key = 'alice'")
            .fetch_one(&app.pool())
            .await
            .unwrap();
    assert!(stored.starts_with("v1."), "{stored}");
    let raw = Secret::Encoded(enrolled.secret.clone()).to_bytes().unwrap();
    let lower = enrolled.secret.to_lowercase();
    assert!(!stored.contains(&enrolled.secret) && !stored.to_lowercase().contains(&lower));
    assert!(!stored
        .as_bytes()
        .windows(raw.len())
        .any(|w| w == raw.as_slice()));
    let hashes: Vec<String> = sqlx::query_scalar("SELECT code_hash FROM recovery_codes")
        .fetch_all(&app.pool())
        .await
        .unwrap();
    assert_eq!(hashes.len(), 10);
    for code in &enrolled.recovery_codes {
        let bare = code.replace('-', "");
        assert!(
            hashes.iter().all(|h| !h.contains(&bare)),
            "{code} stored in clear"
        );
    }
    // A copy of the database without the key does not open it: another key cannot.
    let (other_key, pending) = login_under_another_key(&app, "alice").await;
    let pending = pending.as_str();
    let code = code_at(&enrolled.secret, app.clock.now());
    let response = other_key
        .post("/api/auth/2fa/verify")
        .header(bearer(pending))
        .header(ContentType::JSON)
        .body(json!({ "code": code }).to_string())
        .dispatch()
        .await;
    assert_error(response, Status::Conflict, "two_factor_unavailable").await;
}

/// A second instance on `app`'s database with another `two_factor_key`, and the
/// pending token of `username`'s password step there.
async fn login_under_another_key(
    app: &TestApp,
    username: &str,
) -> (rocket::local::asynchronous::Client, String) {
    let other_key = launch(
        test_figment(&app.db.url).merge((
            "gatehouse.two_factor_key",
            "a-different-key-0123456789abcdefghijkl",
        )),
        &app.clock,
    )
    .await;
    let response = other_key
        .post("/api/auth/login")
        .header(ContentType::JSON)
        .body(json!({"login": username, "password": PASSWORD}).to_string())
        .dispatch()
        .await;
    let pending: Value = response.into_json().await.unwrap();
    let pending = pending["access_token"].as_str().unwrap().to_string();
    (other_key, pending)
}

/// After `two_factor_key` changes, an enrolled account's code step answers 409
/// `two_factor_unavailable` whatever is sent (a right TOTP code, a recovery code,
/// garbage), identically, without spending the pending login or counting a failure;
/// the page says so too; an admin's reset lets the account in again.
#[rocket::async_test]
async fn a_changed_two_factor_key_answers_two_factor_unavailable_not_500() {
    let app = spawn_app().await;
    let enrolled = enrol(&app, "alice").await;
    let (other_key, pending) = login_under_another_key(&app, "alice").await;
    let mut bodies = Vec::new();
    for code in [
        code_at(&enrolled.secret, app.clock.now()),
        enrolled.recovery_codes[0].clone(),
        "000000".to_string(),
        "not a code".to_string(),
    ] {
        let response = other_key
            .post("/api/auth/2fa/verify")
            .header(bearer(&pending))
            .header(ContentType::JSON)
            .body(json!({ "code": code }).to_string())
            .dispatch()
            .await;
        let body = assert_error(response, Status::Conflict, "two_factor_unavailable").await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("ask an administrator to reset it"),
            "{body}"
        );
        bodies.push(body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    assert_eq!(
        app.failed_logins("alice").await,
        0,
        "not the holder's fault"
    );
    // A signed-in holder's own 2FA actions say the same.
    let response = other_key
        .post("/api/auth/2fa/recovery-codes")
        .header(bearer(&enrolled.access))
        .header(ContentType::JSON)
        .body(json!({ "code": "123456" }).to_string())
        .dispatch()
        .await;
    assert_error(response, Status::Conflict, "two_factor_unavailable").await;

    // The page: a message, not a 500. The secret is sealed under another key here.
    let browser = crate::support::spawn_browser().await;
    crate::two_factor::enrol(&browser, "alice").await;
    let token = crate::support::csrf(&browser);
    crate::support::submit(&browser, "/logout", &[("csrf_token", &token)]).await;
    let foreign = gatehouse::parts::two_factor::crypto::TwoFactorKeys::derive(b"an earlier key")
        .seal(1, b"twenty bytes of totp");
    sqlx::query("UPDATE accounts SET totp_secret = $1 WHERE id = 1")
        .bind(foreign)
        .execute(&browser.pool())
        .await
        .unwrap();
    crate::support::browser_login(&browser, "alice").await;
    let token = crate::support::csrf(&browser);
    let response = crate::support::submit(
        &browser,
        "/login/2fa",
        &[("code", "123456"), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(crate::support::location(&response), "/login");
    let (status, body) = crate::support::page(&browser, "/login").await;
    assert_eq!(status, Status::Ok);
    assert!(
        body.contains("Your second factor cannot be checked. Ask an administrator to reset it."),
        "{body}"
    );
}

#[rocket::async_test]
async fn wrong_passwords_and_codes_from_a_signed_in_session_count_towards_the_lock() {
    let app = spawn_app().await;
    let enrolled = enrol(&app, "alice").await;
    let code = code_at(&enrolled.secret, app.clock.now());
    for _ in 0..2 {
        assert_error(
            app.post_bearer(
                "/api/auth/2fa/recovery-codes",
                &enrolled.access,
                Some(json!({"code": "000000"})),
            )
            .await,
            Status::Unauthorized,
            "invalid_otp",
        )
        .await;
    }
    for _ in 0..2 {
        assert_error(
            app.post_bearer(
                "/api/auth/password",
                &enrolled.access,
                Some(json!({"current_password": "wrong", "new_password": "a much better passphrase"})),
            )
            .await,
            Status::UnprocessableEntity,
            "validation_failed",
        )
        .await;
    }
    assert_error(
        app.post_bearer(
            "/api/auth/2fa/disable",
            &enrolled.access,
            Some(json!({"password": "wrong", "code": code})),
        )
        .await,
        Status::Locked,
        "account_locked",
    )
    .await;
    assert_eq!(app.failed_logins("alice").await, 5);
    // Locked: the right code and password are refused too, and 2FA stays on.
    assert_error(
        app.post_bearer(
            "/api/auth/2fa/disable",
            &enrolled.access,
            Some(json!({"password": PASSWORD, "code": code})),
        )
        .await,
        Status::Locked,
        "account_locked",
    )
    .await;
    assert_eq!(status(&app, &enrolled.access).await["enabled"], true);
}

#[rocket::async_test]
async fn a_burst_of_holder_codes_gets_no_more_than_the_budget_checked() {
    const REQUESTS: usize = 30;
    const RIGHT: usize = 11;
    let app = spawn_app().await;
    let enrolled = enrol(&app, "alice").await;
    let right = code_now(&app, &enrolled.secret);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let regenerate = (0..REQUESTS).map(|i| {
        let code = if i == RIGHT { right.as_str() } else { wrong };
        let app = &app;
        let access = enrolled.access.clone();
        async move {
            let response = app
                .post_bearer(
                    "/api/auth/2fa/recovery-codes",
                    &access,
                    Some(json!({ "code": code })),
                )
                .await;
            let status = response.status();
            (status, response.into_string().await.unwrap_or_default())
        }
    });
    let answers = rocket::futures::future::join_all(regenerate).await;
    let alice = app.account_id("alice").await;
    let checked = app.events_with_detail(alice, "wrong_otp").await;
    // The budget is five checks; the right code, when it is among them, takes one.
    assert!(
        (4..=5).contains(&checked),
        "wrong codes checked: {checked} of {REQUESTS}"
    );
    // Refused unchecked: the budget in flight (429) or the lock (423).
    let refused = answers
        .iter()
        .filter(|a| [Status::Locked, Status::TooManyRequests].contains(&a.0))
        .count();
    assert!(refused >= REQUESTS - 5, "{answers:?}");
    let right = &answers[RIGHT];
    if right.0 != Status::Ok {
        // Refused unchecked, exactly like the wrong ones refused the same way.
        assert!(
            answers
                .iter()
                .filter(|a| a.0 == right.0)
                .all(|a| a == right),
            "{answers:?}"
        );
    }
}

#[rocket::async_test]
async fn an_unconfirmed_setup_belongs_to_the_session_that_started_it() {
    let app = crate::support::spawn_browser().await;
    // The owner's browser is signed in; a second session of the same account (a
    // thief's, without the password) is another.
    crate::support::browser_login(&app, "alice").await;
    let owner = app.signed_in("alice").await;
    let thief = app.signed_in("alice").await;
    let response = app
        .post_bearer(
            "/api/auth/2fa/setup",
            &owner.access,
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(response.status(), Status::Ok);
    let secret = json_of(response).await["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let time = next_step(&app);

    // Another session can neither confirm it (and take the recovery codes) ...
    let response = app
        .post_bearer(
            "/api/auth/2fa/enable",
            &thief.access,
            Some(json!({"code": code_at(&secret, time)})),
        )
        .await;
    assert_error(response, Status::Conflict, "conflict").await;
    // ... nor read the secret on the setup page (the browser is yet another session).
    let (_, html) = crate::support::page(&app, "/account/2fa/setup").await;
    assert!(
        !html.contains(&secret),
        "the secret leaked to another session"
    );
    assert_eq!(status(&app, &owner.access).await["enabled"], false);

    // The session that started it confirms it.
    let response = app
        .post_bearer(
            "/api/auth/2fa/enable",
            &owner.access,
            Some(json!({"code": code_at(&secret, time)})),
        )
        .await;
    assert_eq!(response.status(), Status::Ok);
}

#[rocket::async_test]
async fn a_password_changed_between_the_two_steps_ends_the_login() {
    let app = spawn_app().await;
    let enrolled = enrol(&app, "alice").await;
    let pending = password_step(&app, "alice").await;
    // A reset's first statement (the new hash and version) has landed; its
    // revocation of the sessions has not yet.
    sqlx::query(
        "UPDATE accounts SET password_version = password_version + 1 WHERE username_key = 'alice'",
    )
    .execute(&app.pool())
    .await
    .unwrap();
    let response = verify(&app, &pending, &code_now(&app, &enrolled.secret)).await;
    assert_eq!(response.status(), Status::Unauthorized);
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL AND two_factor_pending = 0 \
         AND account_id = (SELECT id FROM accounts WHERE username_key = 'alice') \
         AND proved_by = 'totp'",
    )
    .fetch_one(&app.pool())
    .await
    .unwrap();
    assert_eq!(live, 0, "no session made with the old password survives");
}
