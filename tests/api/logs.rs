//! The log lines of the binary itself, at Rocket's debug level in JSON: every line is
//! one JSON object, every request has its line with the id its answer carried, and no
//! line holds anything secret that went through it (passwords, access and refresh
//! tokens, cookies, one-time and recovery codes, TOTP secrets, link tokens, the
//! configured secrets), whatever the flow, malformed requests included.

use std::time::Duration;

use serde_json::{json, Value};

use crate::smtp_sink::{link_token, SmtpSink};
use crate::support::{
    cookie_name, free_port, http, http_raw, serve_binary, TestDatabase, WireResponse, SECRET,
    SIGNING_KEY_SECRET, TWO_FACTOR_KEY,
};
use crate::two_factor::code_at;

const FIRST_PASSWORD: &str = "first-PASSWORD-a81f3c9e";
const SECOND_PASSWORD: &str = "second-PASSWORD-5d07b2e4";
const THIRD_PASSWORD: &str = "third-PASSWORD-c6e91a0f";

/// What went through the server, to look for in its output afterwards.
#[derive(Default)]
struct Secrets(Vec<String>);

impl Secrets {
    fn keep(&mut self, secret: &str) -> String {
        assert!(secret.len() >= 6, "too short to search for: {secret:?}");
        self.0.push(secret.to_string());
        secret.to_string()
    }
}

fn field(response: &WireResponse, name: &str) -> String {
    response.json()[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {}", response.body))
        .to_string()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `secret` appears in `text` as a whole word: not inside a longer run of letters,
/// digits, `-` or `_` (a six-digit code inside a request id is no leak).
fn contains_word(text: &str, secret: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices(secret).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + secret.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

#[rocket::async_test]
async fn debug_logs_of_every_flow_hold_no_secret_and_name_every_request() {
    let sink = SmtpSink::start().await;
    let db = TestDatabase::new().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log_path = dir.path().join("out.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let smtp_url = sink.url();
    let settings = [
        ("ROCKET_LOG_LEVEL", "debug"),
        ("GATEHOUSE_LOG_FORMAT", "json"),
        ("GATEHOUSE_MAIL_TRANSPORT", "smtp"),
        ("GATEHOUSE_SMTP_URL", smtp_url.as_str()),
        ("GATEHOUSE_MAIL_THROTTLE_SECONDS", "0"),
    ];
    let mut server = serve_binary(&db.url, port, &settings, Some(&log_file)).await;

    let mut secrets = Secrets::default();
    let mut request_ids = Vec::new();
    let mut call = |response: WireResponse| {
        request_ids.push(response.header("X-Request-Id").expect("an id").to_string());
        response
    };
    for secret in [SECRET, TWO_FACTOR_KEY, SIGNING_KEY_SECRET] {
        secrets.keep(secret);
    }

    // Registration, and the verification link it mails.
    let first = secrets.keep(FIRST_PASSWORD);
    let body = json!({"username": "alice", "email": "alice@example.com", "password": first});
    let registered = call(http(port, "POST", "/api/auth/register", &[], Some(&body)).await);
    assert_eq!(registered.status, 201, "{}", registered.body);
    let verification = secrets.keep(&link_token(&sink.wait_for(1).await[0], "/verify-email"));
    let page = format!("/verify-email?token={verification}");
    call(http(port, "GET", &page, &[], None).await);
    let body = json!({ "token": verification });
    let verified = call(http(port, "POST", "/api/auth/email/verify", &[], Some(&body)).await);
    assert_eq!(verified.status, 200, "{}", verified.body);

    // Login, /me, refresh, password change.
    let body = json!({"login": "alice", "password": first});
    let login = call(http(port, "POST", "/api/auth/login", &[], Some(&body)).await);
    assert_eq!(login.status, 200, "{}", login.body);
    let access = secrets.keep(&field(&login, "access_token"));
    let refresh = secrets.keep(&field(&login, "refresh_token"));
    let bearer = format!("Bearer {access}");
    let me = call(
        http(
            port,
            "GET",
            "/api/auth/me",
            &[("Authorization", &bearer)],
            None,
        )
        .await,
    );
    assert_eq!(me.status, 200);
    let body = json!({ "refresh_token": refresh });
    let refreshed = call(http(port, "POST", "/api/auth/refresh", &[], Some(&body)).await);
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let access = secrets.keep(&field(&refreshed, "access_token"));
    secrets.keep(&field(&refreshed, "refresh_token"));
    let bearer = format!("Bearer {access}");
    let second = secrets.keep(SECOND_PASSWORD);
    let body = json!({"current_password": first, "new_password": second});
    let changed = call(
        http(
            port,
            "POST",
            "/api/auth/password",
            &[("Authorization", &bearer)],
            Some(&body),
        )
        .await,
    );
    assert_eq!(changed.status, 204, "{}", changed.body);

    // Two-factor: setup, enable with a code, a login finished with a recovery code.
    let body = json!({ "password": second });
    let setup = call(
        http(
            port,
            "POST",
            "/api/auth/2fa/setup",
            &[("Authorization", &bearer)],
            Some(&body),
        )
        .await,
    );
    assert_eq!(setup.status, 200, "{}", setup.body);
    let totp_secret = secrets.keep(&field(&setup, "secret"));
    let code = code_at(&totp_secret, unix_now());
    let body = json!({ "code": code });
    let enabled = call(
        http(
            port,
            "POST",
            "/api/auth/2fa/enable",
            &[("Authorization", &bearer)],
            Some(&body),
        )
        .await,
    );
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    secrets.keep(&code);
    let recovery: Vec<String> = enabled.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| secrets.keep(code.as_str().unwrap()))
        .collect();
    let body = json!({"login": "alice@example.com", "password": second});
    let pending = call(http(port, "POST", "/api/auth/login", &[], Some(&body)).await);
    let pending = secrets.keep(&field(&pending, "access_token"));
    let body = json!({ "code": "999999" });
    let pending_bearer = format!("Bearer {pending}");
    let wrong = call(
        http(
            port,
            "POST",
            "/api/auth/2fa/verify",
            &[("Authorization", &pending_bearer)],
            Some(&body),
        )
        .await,
    );
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let body = json!({ "code": recovery[0] });
    let verified = call(
        http(
            port,
            "POST",
            "/api/auth/2fa/verify",
            &[("Authorization", &pending_bearer)],
            Some(&body),
        )
        .await,
    );
    assert_eq!(verified.status, 200, "{}", verified.body);
    let access = secrets.keep(&field(&verified, "access_token"));
    secrets.keep(&field(&verified, "refresh_token"));
    let bearer = format!("Bearer {access}");

    // A change of address, confirmed by its link.
    let body = json!({"new_email": "alice@example.org", "password": second});
    let asked = call(
        http(
            port,
            "POST",
            "/api/auth/email",
            &[("Authorization", &bearer)],
            Some(&body),
        )
        .await,
    );
    assert_eq!(asked.status, 202, "{}", asked.body);
    let message = sink
        .wait_for_one("alice@example.org", "confirm-email")
        .await;
    let change = secrets.keep(&link_token(&message, "/confirm-email"));
    let body = json!({ "token": change });
    let confirmed = call(http(port, "POST", "/api/auth/email/confirm", &[], Some(&body)).await);
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);

    // A reset link, its page, and the reset.
    let body = json!({ "email": "alice@example.org" });
    let forgot = call(http(port, "POST", "/api/auth/password/forgot", &[], Some(&body)).await);
    assert_eq!(forgot.status, 202, "{}", forgot.body);
    let message = sink
        .wait_for_one("alice@example.org", "reset-password")
        .await;
    let reset = secrets.keep(&link_token(&message, "/reset-password"));
    call(
        http(
            port,
            "GET",
            &format!("/reset-password?token={reset}"),
            &[],
            None,
        )
        .await,
    );
    let third = secrets.keep(THIRD_PASSWORD);
    let body = json!({"token": reset, "new_password": third});
    let done = call(http(port, "POST", "/api/auth/password/reset", &[], Some(&body)).await);
    assert_eq!(done.status, 204, "{}", done.body);

    // Malformed and hostile requests carrying secrets of their own.
    let broken = secrets.keep("broken-json-SECRET-73a1");
    let body = format!(r#"{{"login": "alice", "password": "{broken}""#);
    call(
        http_raw(
            port,
            "POST",
            "/api/auth/login",
            &[],
            "application/json",
            &body,
        )
        .await,
    );
    let in_query = secrets.keep("query-SECRET-0b7e22");
    call(
        http(
            port,
            "GET",
            &format!("/nowhere?token={in_query}"),
            &[],
            None,
        )
        .await,
    );
    let in_form = secrets.keep("form-SECRET-9d2c41");
    let form = format!("password={in_form}");
    call(
        http_raw(
            port,
            "POST",
            "/login",
            &[],
            "application/x-www-form-urlencoded",
            &form,
        )
        .await,
    );
    let in_cookie = secrets.keep("cookie-SECRET-5e8f03");
    let cookie = format!("{}={in_cookie}", cookie_name("access"));
    call(http(port, "GET", "/api/auth/me", &[("Cookie", &cookie)], None).await);
    let forged = secrets.keep("forged-bearer-SECRET-2a9d");
    let forged = format!("Bearer {forged}");
    call(
        http(
            port,
            "GET",
            "/api/auth/me",
            &[("Authorization", &forged)],
            None,
        )
        .await,
    );
    let body = json!({"login": "alice", "password": "wrong-PASSWORD-e40c7b"});
    secrets.keep("wrong-PASSWORD-e40c7b");
    call(http(port, "POST", "/api/auth/login", &[], Some(&body)).await);
    let logout = call(
        http(
            port,
            "POST",
            "/api/auth/logout",
            &[("Authorization", &bearer)],
            None,
        )
        .await,
    );
    assert_eq!(logout.status, 204, "{}", logout.body);

    rocket::tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = server.kill();
    let _ = server.wait();
    let output = std::fs::read_to_string(&log_path).unwrap();
    let mut lines = Vec::new();
    for line in output.lines().filter(|line| !line.trim().is_empty()) {
        let mut event: Value = serde_json::from_str(line)
            .unwrap_or_else(|_| panic!("a line that is not JSON: {line}"));
        // Timestamps carry digits of their own.
        event.as_object_mut().unwrap().remove("timestamp");
        lines.push(event.to_string());
    }
    let text = lines.join("\n");
    assert!(
        text.contains("\"level\":\"DEBUG\""),
        "no debug line at all:\n{text}"
    );
    for id in &request_ids {
        assert!(
            text.contains(id.as_str()),
            "no line for request {id}:\n{text}"
        );
    }
    for secret in &secrets.0 {
        assert!(
            !contains_word(&text, secret),
            "{secret} is in the logs:\n{text}"
        );
    }
}
