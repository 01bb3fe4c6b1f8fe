//! The password policy (NIST SP 800-63B rev. 4, ASVS 5.0) wherever a password is set:
//! registration, password change, the CLI; and passwords compared in their NFKC form,
//! with accounts hashed before that still working.

use argon2::password_hash::{PasswordHasher, SaltString};
use rocket::http::Status;
use serde_json::{json, Value};

use crate::cli::{assert_fails, create_root_with, gatehouse, run, stderr};
use crate::support::{assert_error, spawn_app, PASSWORD};

async fn refusal_of(app: &crate::support::TestApp, username: &str, password: &str) -> String {
    let response = app
        .post(
            "/api/auth/register",
            json!({"username": username, "email": format!("{username}@example.com"), "password": password}),
        )
        .await;
    let body = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    body["error"]["fields"]["password"]
        .as_str()
        .expect("a reason on the password field")
        .to_string()
}

#[rocket::async_test]
async fn common_short_and_personal_passwords_are_refused_with_the_reason() {
    let app = spawn_app().await;
    assert!(refusal_of(&app, "alice", "password")
        .await
        .contains("at least 15"));
    assert!(refusal_of(&app, "alice", "12345678")
        .await
        .contains("at least 15"));
    for common in [
        "passwordpassword",
        "123456789012345",
        "iloveyouiloveyou",
        "qwertyuiopasdfghjkl",
    ] {
        assert!(
            refusal_of(&app, "alice", common)
                .await
                .contains("easy to guess"),
            "{common}"
        );
    }
    assert!(refusal_of(&app, "bartholomew", "Bartholomew is my name")
        .await
        .contains("username"));
    let response = app
        .post(
            "/api/auth/register",
            json!({"username": "carol", "email": "c.w.ridley@example.com", "password": "hello c.w.ridley friends"}),
        )
        .await;
    let body = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    assert!(body["error"]["fields"]["password"]
        .as_str()
        .unwrap()
        .contains("email"));
    // Nothing was created along the way; a good passphrase of 15 characters is enough.
    let response = app
        .post(
            "/api/auth/register",
            json!({"username": "alice", "email": "alice@example.com", "password": "umbrella zoo ok"}),
        )
        .await;
    assert_eq!(response.status(), Status::Created);
}

#[rocket::async_test]
async fn a_password_change_follows_the_same_policy() {
    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    for (new, reason) in [
        ("qwertyuiopasdfghjkl", "guess"),
        ("alice in wonderland 1865", "username"),
    ] {
        let response = app
            .post_bearer(
                "/api/auth/password",
                &session.access,
                Some(json!({"current_password": PASSWORD, "new_password": new})),
            )
            .await;
        let body = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
        assert!(
            body["error"]["fields"]["new_password"]
                .as_str()
                .unwrap()
                .contains(reason),
            "{body}"
        );
    }
    assert_eq!(
        app.failed_logins("alice").await,
        0,
        "a refused new password costs no attempt"
    );
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn composed_and_decomposed_forms_of_a_password_are_the_same_password() {
    let app = spawn_app().await;
    let composed = "caf\u{e9} au lait with cr\u{e8}me";
    let decomposed = "cafe\u{301} au lait with cre\u{300}me";
    let response = app
        .post(
            "/api/auth/register",
            json!({"username": "alice", "email": "alice@example.com", "password": composed}),
        )
        .await;
    assert_eq!(response.status(), Status::Created);
    assert_eq!(app.login("alice", decomposed).await.status(), Status::Ok);
    assert_eq!(app.login("alice", composed).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn an_account_hashed_before_normalisation_keeps_working_and_is_rehashed() {
    let app = spawn_app().await;
    app.register("alice", "alice@example.com").await;
    // As an earlier version stored it: the hash of the password as typed (here the
    // decomposed form), not marked normalised.
    let typed = "cafe\u{301} au lait with cre\u{300}me";
    let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
    let legacy = argon2::Argon2::default()
        .hash_password(typed.as_bytes(), &salt)
        .unwrap()
        .to_string();
    sqlx::query("UPDATE accounts SET password_hash = $1, password_normalized = 0")
        .bind(&legacy)
        .execute(&app.pool())
        .await
        .unwrap();

    assert_eq!(app.login("alice", typed).await.status(), Status::Ok);
    let (hash, normalized): (String, i64) =
        sqlx::query_as("SELECT password_hash, password_normalized FROM accounts")
            .fetch_one(&app.pool())
            .await
            .unwrap();
    assert_ne!(hash, legacy, "re-hashed");
    assert_eq!(normalized, 1);
    // From now on either form works, and a wrong one still does not.
    assert_eq!(
        app.login("alice", "caf\u{e9} au lait with cr\u{e8}me")
            .await
            .status(),
        Status::Ok
    );
    assert_eq!(app.login("alice", typed).await.status(), Status::Ok);
    assert_eq!(
        app.login("alice", "cafe au lait with creme").await.status(),
        Status::Unauthorized
    );
}

#[rocket::async_test]
async fn the_cli_applies_the_policy_too() {
    let app = spawn_app().await;
    let db = &app.db;
    let weak = create_root_with(db, "passwordpassword");
    assert_fails(&weak, "easy to guess");
    let created = create_root_with(db, "a sturdy lighthouse keeper");
    assert!(created.status.success(), "{}", stderr(&created));
    let personal = run(
        gatehouse(
            db,
            &["accounts", "set-password", "root", "--password-stdin"],
        ),
        "root beer and root vegetables\n",
    );
    assert_fails(&personal, "username");
    let body: Value = app
        .login("root", "a sturdy lighthouse keeper")
        .await
        .into_json()
        .await
        .unwrap();
    assert!(
        body["access_token"].is_string(),
        "the old password still works: {body}"
    );
}

/// A range API on loopback that knows one breached password; it records the paths it
/// was asked for.
async fn fake_range_server(breached: &str) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use rocket::tokio::io::{AsyncReadExt, AsyncWriteExt};
    let hash: String = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        breached.as_bytes(),
    )
    .as_ref()
    .iter()
    .map(|b| format!("{b:02X}"))
    .collect();
    let listener = rocket::tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = asked.clone();
    rocket::tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = vec![0u8; 4096];
            let read = stream.read(&mut request).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&request[..read]).to_string();
            let path = request.split(' ').nth(1).unwrap_or("").to_string();
            let padded = request.to_ascii_lowercase().contains("add-padding: true");
            record
                .lock()
                .unwrap()
                .push(format!("{path} padded={padded}"));
            let body = if path.ends_with(&hash[..5]) {
                format!(
                    "{}:42\r\n0018A45C4D1DEF81644B54AB7F969B88D65:0\r\n",
                    &hash[5..]
                )
            } else {
                "0018A45C4D1DEF81644B54AB7F969B88D65:0\r\n".to_string()
            };
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    (port, asked)
}

#[rocket::async_test]
async fn the_breach_check_refuses_a_breached_password_and_sends_only_a_prefix() {
    let breached = "tr0ub4dor and three";
    let (port, asked) = fake_range_server(breached).await;
    let app = crate::support::spawn_app_with(|f| {
        f.merge(("gatehouse.password_breach_check", true)).merge((
            "gatehouse.password_breach_api",
            format!("http://127.0.0.1:{port}/range/"),
        ))
    })
    .await;
    let reason = refusal_of(&app, "alice", breached).await;
    assert!(reason.contains("breaches (42 times)"), "{reason}");
    let response = app
        .post(
            "/api/auth/register",
            json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), Status::Created);
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 2, "{asked:?}");
    for line in &asked {
        let (path, padded) = line.split_once(' ').unwrap();
        let prefix = path.strip_prefix("/range/").unwrap();
        assert_eq!(prefix.len(), 5, "only five hex digits leave: {path}");
        assert!(prefix.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(padded, "padded=true");
    }
}

#[rocket::async_test]
async fn an_unreachable_breach_service_fails_open() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = crate::support::spawn_app_with(|f| {
        f.merge(("gatehouse.password_breach_check", true)).merge((
            "gatehouse.password_breach_api",
            format!("http://127.0.0.1:{port}/range/"),
        ))
    })
    .await;
    app.register("alice", "alice@example.com").await;
}
