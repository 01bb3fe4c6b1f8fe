//! Access and refresh tokens through the API, for each `access_token_algorithm` with
//! its real keys: what they carry (a `kid` the JWKS names), and that forged, tampered,
//! misdirected, swapped and expired tokens are refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rocket::http::{Cookie, Status};
use serde_json::{json, Value};

use crate::support::{assert_error, cookie_name, spawn_app, spawn_app_with, TestApp, SECRET};

pub fn claims_of(token: &str) -> Value {
    part_of(token, 1)
}

pub fn header_of(token: &str) -> Value {
    part_of(token, 0)
}

fn part_of(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn sign(header: &Header, claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// An app whose access tokens use `algorithm`.
pub async fn spawn_signing_with(algorithm: &str) -> TestApp {
    spawn_app_with(|f| f.merge(("gatehouse.access_token_algorithm", algorithm))).await
}

/// Runs each named test (an `async fn(&str)`) once per algorithm.
macro_rules! for_each_algorithm {
    ($($test:ident),* $(,)?) => {
        mod eddsa {
            $(#[rocket::async_test] async fn $test() { super::$test("EdDSA").await })*
        }
        mod es256 {
            $(#[rocket::async_test] async fn $test() { super::$test("ES256").await })*
        }
        mod hs256 {
            $(#[rocket::async_test] async fn $test() { super::$test("HS256").await })*
        }
    };
}

for_each_algorithm!(
    me_answers_the_account_for_a_valid_token,
    tokens_carry_a_kid_issuer_audience_type_and_session,
    forged_tokens_are_refused,
    wrong_issuer_or_audience_is_refused_even_under_the_real_key,
    access_and_refresh_tokens_are_not_interchangeable,
    access_tokens_expire_after_their_ttl_plus_leeway,
);

async fn me_answers_the_account_for_a_valid_token(algorithm: &str) {
    let app = spawn_signing_with(algorithm).await;
    let session = app.signed_in("alice").await;
    assert_eq!(header_of(&session.access)["alg"], algorithm);
    let response = app.get_bearer("/api/auth/me", &session.access).await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = response.into_json().await.unwrap();
    assert_eq!(body["username"], "alice");
    assert_eq!(body["email"], "alice@example.com");
    assert!(body.get("password_hash").is_none());
    // Again: the remembered verification answers alike.
    let again = app.get_bearer("/api/auth/me", &session.access).await;
    assert_eq!(again.status(), Status::Ok);
}

async fn tokens_carry_a_kid_issuer_audience_type_and_session(algorithm: &str) {
    let app = spawn_signing_with(algorithm).await;
    let session = app.signed_in("alice").await;
    let access = claims_of(&session.access);
    // The app's name: `gatehouse` here, the package name of a renamed clone.
    assert_eq!(access["iss"], gatehouse::config::app_name());
    assert_eq!(access["aud"], gatehouse::config::app_name());
    assert_eq!(access["typ"], "access");
    assert!(access["sid"].as_str().unwrap().len() >= 22);
    let refresh = claims_of(&session.refresh);
    assert_eq!(refresh["typ"], "refresh");
    assert_eq!(refresh["sid"], access["sid"]);
    assert_eq!(refresh["gen"], 0);
    assert_eq!(
        header_of(&session.refresh)["alg"],
        "HS256",
        "refresh tokens stay internal"
    );

    // The kid is the RFC 7638 thumbprint (43 base64url characters of a SHA-256), and the
    // JWKS publishes it for a key pair, never a symmetric key.
    let kid = header_of(&session.access)["kid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(kid.len(), 43, "{kid}");
    let response = app.client.get("/.well-known/jwks.json").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(
        response.headers().get_one("Cache-Control"),
        Some("public, max-age=600")
    );
    let jwks: Value = response.into_json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(
        keys.iter()
            .all(|key| key.get("k").is_none() && key["kty"] != "oct"),
        "{jwks}"
    );
    assert!(
        keys.iter().all(|key| key.get("d").is_none()),
        "no private part: {jwks}"
    );
    let published = keys.iter().find(|key| key["kid"] == kid.as_str());
    if algorithm == "HS256" {
        assert!(keys.is_empty(), "{jwks}");
    } else {
        let published = published.expect("the signing key is published");
        assert_eq!(published["alg"], algorithm);
        assert_eq!(published["use"], "sig");
    }
}

async fn forged_tokens_are_refused(algorithm: &str) {
    let app = spawn_signing_with(algorithm).await;
    let session = app.signed_in("alice").await;
    let claims = claims_of(&session.access);
    let kid = header_of(&session.access)["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let with_kid = |alg: Algorithm, kid: &str| {
        let mut header = Header::new(alg);
        header.kid = Some(kid.to_string());
        header
    };

    // Another key under the right kid.
    let other_key = sign(
        &with_kid(Algorithm::HS256, &kid),
        &claims,
        b"another-secret-that-is-long-enough-0123",
    );
    // The old shared secret, with and without the kid.
    let old_secret = sign(&Header::new(Algorithm::HS256), &claims, SECRET.as_bytes());
    let old_secret_kid = sign(
        &with_kid(Algorithm::HS256, &kid),
        &claims,
        SECRET.as_bytes(),
    );
    // Key confusion: HMAC keyed with the published public key, under its kid.
    let jwks: Value = app
        .client
        .get("/.well-known/jwks.json")
        .dispatch()
        .await
        .into_json()
        .await
        .unwrap();
    let public = jwks["keys"].get(0).map_or_else(
        || "none".to_string(),
        |key| key["x"].as_str().unwrap().to_string(),
    );
    let confused = sign(
        &with_kid(Algorithm::HS256, &kid),
        &claims,
        public.as_bytes(),
    );
    // A kid no key has, and none at all (both with a valid HS256 signature of a key
    // the attacker holds).
    let unknown_kid = sign(
        &with_kid(Algorithm::HS256, "no-such-key"),
        &claims,
        b"attacker",
    );
    // The real signature, another algorithm named in the header.
    let mut parts: Vec<&str> = session.access.split('.').collect();
    let other_alg = if algorithm == "HS256" {
        "HS512"
    } else {
        "HS256"
    };
    let relabelled_header =
        URL_SAFE_NO_PAD.encode(json!({"alg": other_alg, "typ": "JWT", "kid": kid}).to_string());
    parts[0] = &relabelled_header;
    let relabelled = parts.join(".");
    // alg "none" with no signature.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    // An embedded key and key URL, signed with the attacker's own key.
    let mut header = with_kid(Algorithm::HS256, &kid);
    header.jku = Some("https://attacker.example/keys".into());
    header.jwk = Some(
        serde_json::from_value(json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode(b"attacker")}))
            .unwrap(),
    );
    let embedded = sign(&header, &claims, b"attacker");
    // The right key, a tampered payload.
    let mut parts: Vec<&str> = session.access.split('.').collect();
    let mut tampered_claims = claims.clone();
    tampered_claims["sub"] = json!("999");
    let tampered_payload = URL_SAFE_NO_PAD.encode(tampered_claims.to_string());
    parts[1] = &tampered_payload;
    let tampered = parts.join(".");

    for (name, token) in [
        ("other key", other_key),
        ("old secret", old_secret),
        ("old secret with kid", old_secret_kid),
        ("public key as HMAC key", confused),
        ("unknown kid", unknown_kid),
        ("relabelled alg", relabelled),
        ("none", none),
        ("jwk", embedded),
        ("tampered", tampered),
    ] {
        let response = app.get_bearer("/api/auth/me", &token).await;
        assert_eq!(response.status(), Status::Unauthorized, "{name}");
        let body: Value = response.into_json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_token", "{name}");
    }
    // The genuine token still works after all that.
    assert_eq!(
        app.get_bearer("/api/auth/me", &session.access)
            .await
            .status(),
        Status::Ok
    );
}

async fn wrong_issuer_or_audience_is_refused_even_under_the_real_key(algorithm: &str) {
    let app = spawn_signing_with(algorithm).await;
    let session = app.signed_in("alice").await;
    // The real key signs what it is given: the guards must still check the claims.
    let genuine = app.sign(&claims_of(&session.access));
    assert_eq!(
        app.get_bearer("/api/auth/me", &genuine).await.status(),
        Status::Ok
    );
    for (claim, value) in [
        ("iss", "someone-else"),
        ("aud", "another-app"),
        ("typ", "refresh"),
    ] {
        let mut claims = claims_of(&session.access);
        claims[claim] = json!(value);
        let token = app.sign(&claims);
        assert_error(
            app.get_bearer("/api/auth/me", &token).await,
            Status::Unauthorized,
            "invalid_token",
        )
        .await;
    }
}

async fn access_and_refresh_tokens_are_not_interchangeable(algorithm: &str) {
    let app = spawn_signing_with(algorithm).await;
    let session = app.signed_in("alice").await;
    assert_error(
        app.get_bearer("/api/auth/me", &session.refresh).await,
        Status::Unauthorized,
        "invalid_token",
    )
    .await;
    let response = app
        .post_bearer("/api/auth/refresh", &session.access, None)
        .await;
    assert_error(response, Status::Unauthorized, "invalid_token").await;
}

async fn access_tokens_expire_after_their_ttl_plus_leeway(algorithm: &str) {
    let app = spawn_signing_with(algorithm).await;
    let session = app.signed_in("alice").await;
    // Verified (and remembered) while young; the memory must not outlive the token.
    assert_eq!(
        app.get_bearer("/api/auth/me", &session.access)
            .await
            .status(),
        Status::Ok
    );
    app.clock.advance(900 + 30);
    assert_eq!(
        app.get_bearer("/api/auth/me", &session.access)
            .await
            .status(),
        Status::Ok
    );
    app.clock.advance(1);
    assert_error(
        app.get_bearer("/api/auth/me", &session.access).await,
        Status::Unauthorized,
        "token_expired",
    )
    .await;
}

#[rocket::async_test]
async fn missing_and_malformed_tokens_are_refused() {
    let app = spawn_app().await;
    assert_error(
        app.client.get("/api/auth/me").dispatch().await,
        Status::Unauthorized,
        "missing_token",
    )
    .await;
    assert_error(
        app.get_bearer("/api/auth/me", "garbage").await,
        Status::Unauthorized,
        "invalid_token",
    )
    .await;
    let response = app
        .client
        .get("/api/auth/me")
        .header(rocket::http::Header::new("Authorization", "Basic abc"))
        .dispatch()
        .await;
    assert_error(response, Status::Unauthorized, "invalid_token").await;
}

#[rocket::async_test]
async fn the_access_cookie_authenticates_when_cookies_are_enabled() {
    let app = spawn_app().await;
    let session = app.signed_in("alice").await;
    let response = app
        .client
        .get("/api/auth/me")
        .cookie(Cookie::new(cookie_name("access"), session.access.clone()))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);

    let header_only = spawn_app_with(|f| f.merge(("gatehouse.token_locations", ["header"]))).await;
    let session = header_only.signed_in("bob").await;
    let response = header_only
        .client
        .get("/api/auth/me")
        .cookie(Cookie::new(cookie_name("access"), session.access.clone()))
        .dispatch()
        .await;
    assert_error(response, Status::Unauthorized, "missing_token").await;
}

#[rocket::async_test]
async fn login_sets_http_only_cookies() {
    let app = spawn_app().await;
    app.register("alice", "alice@example.com").await;
    let response = app.login("alice", crate::support::PASSWORD).await;
    let cookies: Vec<String> = response
        .headers()
        .get("Set-Cookie")
        .map(str::to_string)
        .collect();
    assert_eq!(cookies.len(), 3, "{cookies:?}");
    for cookie in &cookies {
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
        // The CSRF token is meant to be read by the page's scripts; the tokens are not.
        assert_eq!(
            cookie.contains("HttpOnly"),
            !cookie.starts_with(&format!("{}=", cookie_name("csrf"))),
            "{cookie}"
        );
    }
}

#[rocket::async_test]
async fn a_cookie_authenticated_unsafe_request_needs_the_csrf_header() {
    let app = spawn_app().await;
    app.register("alice", "alice@example.com").await;
    let response = app.login("alice", crate::support::PASSWORD).await;
    let jar: Vec<Cookie<'static>> = response
        .cookies()
        .iter()
        .map(|c| Cookie::new(c.name().to_string(), c.value().to_string()))
        .collect();
    let csrf = jar
        .iter()
        .find(|c| c.name() == cookie_name("csrf"))
        .unwrap()
        .value()
        .to_string();
    fn with_cookies<'c>(
        request: rocket::local::asynchronous::LocalRequest<'c>,
        jar: &[Cookie<'static>],
    ) -> rocket::local::asynchronous::LocalRequest<'c> {
        request.cookies(jar.iter().cloned())
    }
    // Reads need nothing more.
    let response = with_cookies(app.client.get("/api/auth/me"), &jar)
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    // A forged cross-site POST carries the cookies but not the token: refused, and
    // the session is still there.
    for forged in [None, Some("guessed-wrong-token-value")] {
        let mut request = with_cookies(app.client.delete("/api/auth/sessions"), &jar);
        if let Some(token) = forged {
            request = request.header(rocket::http::Header::new("X-CSRF-Token", token));
        }
        assert_error(request.dispatch().await, Status::Forbidden, "csrf_failed").await;
    }
    let response = with_cookies(app.client.post("/api/auth/logout"), &jar)
        .dispatch()
        .await;
    assert_error(response, Status::Forbidden, "csrf_failed").await;
    let response = with_cookies(app.client.get("/api/auth/me"), &jar)
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok, "nothing changed");
    // With the token the same request goes through; bearer requests need none.
    let response = with_cookies(app.client.post("/api/auth/logout"), &jar)
        .header(rocket::http::Header::new("X-CSRF-Token", csrf))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::NoContent);
    let bob = app.signed_in("bob").await;
    let response = app.post_bearer("/api/auth/logout", &bob.access, None).await;
    assert_eq!(response.status(), Status::NoContent);
}

#[rocket::async_test]
async fn a_body_not_declared_as_json_is_refused_so_forms_cannot_log_a_visitor_in() {
    let app = spawn_app().await;
    app.register("mallory", "mallory@example.com").await;
    // What a cross-site form with enctype="text/plain" can send.
    let forged = r#"{"login":"mallory","password":"correct horse battery","x":"="}"#;
    for content_type in [
        Some(rocket::http::ContentType::Plain),
        Some(rocket::http::ContentType::Form),
        None,
    ] {
        let mut request = app.client.post("/api/auth/login").body(forged);
        if let Some(content_type) = content_type {
            request = request.header(content_type);
        }
        let response = request.dispatch().await;
        assert!(response.headers().get_one("Set-Cookie").is_none());
        assert_error(
            response,
            Status::UnsupportedMediaType,
            "unsupported_media_type",
        )
        .await;
    }
}
