//! The access-token signing keys as other services and operators meet them: a service
//! fetching the JWKS over HTTP and verifying tokens with its own code (ed25519-dalek,
//! p256), before and after `gatehouse keys rotate`; `keys list` and `keys retire`;
//! keys sealed under a random secret by an earlier run; instances starting together.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rocket::http::Status;
use serde_json::{json, Value};

use crate::cli::{assert_fails, gatehouse, run, stdout};
use crate::support::{
    http, launch, serve_with, test_figment, ServedApp, TestDatabase, PASSWORD, SIGNING_KEY_SECRET,
};
use crate::tokens::{claims_of, header_of};

/// What another service does with a token: fetch the JWKS, take the key its kid
/// names, check the signature with that key's algorithm using its own crypto code,
/// then the claims. `Err` says why it refused.
async fn verify_elsewhere(port: u16, token: &str) -> Result<Value, String> {
    let response = http(port, "GET", "/.well-known/jwks.json", &[], None).await;
    // Cacheable, as a service's JWKS client expects.
    assert_eq!(
        response.header("Cache-Control"),
        Some("public, max-age=600")
    );
    let jwks = response.json();
    let kid = header_of(token)["kid"].as_str().unwrap_or("").to_string();
    let key = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|key| key["kid"] == kid.as_str()))
        .ok_or_else(|| format!("no published key {kid}"))?;
    if header_of(token)["alg"] != key["alg"] {
        return Err("the header names another algorithm than the key's".into());
    }
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| e.to_string())?;
    let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap();
    match key["kty"].as_str() {
        Some("OKP") => {
            use ed25519_dalek::{Signature, VerifyingKey};
            let x: [u8; 32] = coordinate("x").try_into().map_err(|_| "x is 32 bytes")?;
            let public = VerifyingKey::from_bytes(&x).map_err(|e| e.to_string())?;
            let signature = Signature::from_slice(&signature).map_err(|e| e.to_string())?;
            public
                .verify_strict(signed.as_bytes(), &signature)
                .map_err(|e| e.to_string())?;
        }
        Some("EC") => {
            use p256::ecdsa::signature::Verifier;
            use p256::ecdsa::{Signature, VerifyingKey};
            let point = p256::EncodedPoint::from_affine_coordinates(
                coordinate("x").as_slice().into(),
                coordinate("y").as_slice().into(),
                false,
            );
            let public = VerifyingKey::from_encoded_point(&point).map_err(|e| e.to_string())?;
            let signature = Signature::from_slice(&signature).map_err(|e| e.to_string())?;
            public
                .verify(signed.as_bytes(), &signature)
                .map_err(|e| e.to_string())?;
        }
        other => return Err(format!("unexpected key type {other:?}")),
    }
    let claims = claims_of(token);
    if claims["iss"] != gatehouse::config::app_name().as_str() || claims["typ"] != "access" {
        return Err("not our access token".into());
    }
    Ok(claims)
}

/// Registers `username` and signs in over HTTP; the access token.
async fn sign_in(app: &ServedApp, username: &str) -> String {
    app.signed_in(username).await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn me_status(app: &ServedApp, token: &str) -> u16 {
    let bearer = format!("Bearer {token}");
    http(
        app.port,
        "GET",
        "/api/auth/me",
        &[("Authorization", &bearer)],
        None,
    )
    .await
    .status
}

#[rocket::async_test]
async fn another_service_verifies_eddsa_tokens_from_the_jwks_before_and_after_a_rotation() {
    a_service_verifies_across_a_rotation("EdDSA").await;
}

#[rocket::async_test]
async fn another_service_verifies_es256_tokens_from_the_jwks_before_and_after_a_rotation() {
    a_service_verifies_across_a_rotation("ES256").await;
}

async fn a_service_verifies_across_a_rotation(algorithm: &str) {
    let app = serve_with(|f| f.merge(("gatehouse.access_token_algorithm", algorithm))).await;
    let before = sign_in(&app, "alice").await;
    let claims = verify_elsewhere(app.port, &before).await.expect("verifies");
    assert_eq!(claims["typ"], "access");
    let old_kid = header_of(&before)["kid"].as_str().unwrap().to_string();

    // A forged signature and a tampered payload fail the other service's check too.
    let mut tampered: Vec<&str> = before.split('.').collect();
    let payload = URL_SAFE_NO_PAD.encode(json!({"sub": "1", "iss": "gatehouse"}).to_string());
    tampered[1] = &payload;
    assert!(verify_elsewhere(app.port, &tampered.join("."))
        .await
        .is_err());

    // Rotate (the CLI, as an operator would, on the same database).
    let output = run(gatehouse(&app.db, &["keys", "rotate"]), "");
    assert!(output.status.success(), "{}", crate::cli::stderr(&output));
    let listed = stdout(&run(gatehouse(&app.db, &["keys", "list"]), ""));
    assert!(listed.contains("published, signs from"), "{listed}");
    assert!(
        listed.contains(&format!("{old_kid}  {algorithm}")),
        "{listed}"
    );

    // Published at once, not signing yet: the old key signs until jwks_max_age passed.
    app.clock.advance(20);
    let jwks = http(app.port, "GET", "/.well-known/jwks.json", &[], None)
        .await
        .json();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2, "{jwks}");
    let still_old = sign_in(&app, "bob").await;
    assert_eq!(header_of(&still_old)["kid"], old_kid.as_str());

    // After jwks_max_age (600 s) the new key signs; the old key's tokens still verify,
    // here and elsewhere, until they expire.
    app.clock.advance(600);
    let after = sign_in(&app, "carol").await;
    let new_kid = header_of(&after)["kid"].as_str().unwrap().to_string();
    assert_ne!(new_kid, old_kid);
    assert_eq!(header_of(&after)["alg"], algorithm);
    verify_elsewhere(app.port, &after)
        .await
        .expect("the new key verifies");
    verify_elsewhere(app.port, &before)
        .await
        .expect("the old key still verifies");
    assert_eq!(me_status(&app, &after).await, 200);
    assert_eq!(me_status(&app, &still_old).await, 200);

    // Once the last token the old key could sign has expired, it leaves the JWKS.
    app.clock.advance(900 + 30 + 1);
    let jwks = http(app.port, "GET", "/.well-known/jwks.json", &[], None)
        .await
        .json();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [new_kid.as_str()]);
}

#[rocket::async_test]
async fn a_retired_key_stops_verifying_and_a_new_one_takes_over() {
    let app = serve_with(|f| f).await;
    let token = sign_in(&app, "alice").await;
    let kid = header_of(&token)["kid"].as_str().unwrap().to_string();

    let unknown = run(gatehouse(&app.db, &["keys", "retire", "no-such-kid"]), "");
    assert_fails(&unknown, "no key no-such-kid is in use");
    let retired = run(gatehouse(&app.db, &["keys", "retire", &kid]), "");
    assert!(retired.status.success(), "{}", crate::cli::stderr(&retired));
    assert!(stdout(&retired).contains("no longer verify"));

    // Running instances follow at their next reload of the keys.
    app.clock.advance(11);
    let bearer = format!("Bearer {token}");
    let refused = http(
        app.port,
        "GET",
        "/api/auth/me",
        &[("Authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json()["error"]["code"], "invalid_token");
    assert!(verify_elsewhere(app.port, &token).await.is_err());
    let fresh = sign_in(&app, "alice").await;
    assert_ne!(header_of(&fresh)["kid"], kid.as_str());
    assert_eq!(me_status(&app, &fresh).await, 200);
    let listed = stdout(&run(gatehouse(&app.db, &["keys", "list"]), ""));
    assert!(
        listed.contains(&format!("{kid}  EdDSA  retired")),
        "{listed}"
    );
}

#[rocket::async_test]
async fn rotating_needs_the_sealing_secret_and_a_key_pair_algorithm() {
    let db = TestDatabase::new().await;
    // In release (debug keeps a development secret the server shares, see
    // config::dev_secrets), a key cannot be sealed without the server's secret.
    let mut without = gatehouse(&db, &["keys", "rotate"]);
    without
        .env_remove("GATEHOUSE_SIGNING_KEY_SECRET")
        .env("ROCKET_PROFILE", "release")
        .env("GATEHOUSE_SECRET", crate::support::SECRET)
        .env("GATEHOUSE_TWO_FACTOR_KEY", crate::support::TWO_FACTOR_KEY);
    assert_fails(&run(without, ""), "SIGNING_KEY_SECRET");
    let mut hs256 = gatehouse(&db, &["keys", "rotate"]);
    hs256
        .env("GATEHOUSE_SIGNING_KEY_SECRET", SIGNING_KEY_SECRET)
        .env("GATEHOUSE_ACCESS_TOKEN_ALGORITHM", "HS256");
    assert_fails(&run(hs256, ""), "no key pair to rotate");
}

#[rocket::async_test]
async fn keys_sealed_by_an_earlier_runs_random_secret_are_replaced_and_still_verify() {
    let db = TestDatabase::new().await;
    let clock = gatehouse::clock::ManualClock::new();
    let random_seal = |url: &str| test_figment(url).merge(("gatehouse.signing_key_secret", ""));
    let first = launch(random_seal(&db.url), &clock).await;
    let login = json!({"login": "alice", "password": PASSWORD});
    let register = json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD});
    let response = post(&first, "/api/auth/register", &register).await;
    assert_eq!(response.status(), Status::Created);
    let body: Value = post(&first, "/api/auth/login", &login)
        .await
        .into_json()
        .await
        .unwrap();
    let old = body["access_token"].as_str().unwrap().to_string();

    // A second run with another random secret cannot open that key: it retires it
    // (never a crash) and signs with a new one, while the old token keeps verifying.
    let second = launch(random_seal(&db.url), &clock).await;
    let body: Value = post(&second, "/api/auth/login", &login)
        .await
        .into_json()
        .await
        .unwrap();
    let new = body["access_token"].as_str().unwrap();
    assert_ne!(header_of(new)["kid"], header_of(&old)["kid"]);
    for token in [old.as_str(), new] {
        let response = second
            .get("/api/auth/me")
            .header(rocket::http::Header::new(
                "Authorization",
                format!("Bearer {token}"),
            ))
            .dispatch()
            .await;
        assert_eq!(response.status(), Status::Ok);
    }

    // A configured secret takes over from a throwaway run's key the same way…
    let configured = launch(test_figment(&db.url), &clock).await;
    let body: Value = post(&configured, "/api/auth/login", &login)
        .await
        .into_json()
        .await
        .unwrap();
    let third = body["access_token"].as_str().unwrap().to_string();
    assert_ne!(header_of(&third)["kid"], header_of(new)["kid"]);

    // …but a key sealed under a configured secret is never replaced by an instance
    // holding another: it refuses to start, with a sentence.
    let other_secret = test_figment(&db.url).merge((
        "gatehouse.signing_key_secret",
        "another-configured-sealing-secret-9d8c7b6a5f4e3d2c1b0a",
    ));
    for figment in [other_secret, random_seal(&db.url)] {
        let refused = rocket::local::asynchronous::Client::untracked(
            gatehouse::rocket_with_clock(figment, std::sync::Arc::new(clock.clone())).unwrap(),
        )
        .await;
        // Marked handled, so dropping the error does not abort the test.
        refused
            .expect_err("a key it cannot open stops the start")
            .pretty_print();
    }
    // The running instance signs on.
    let response = post(&configured, "/api/auth/login", &login).await;
    assert_eq!(response.status(), Status::Ok);
}

#[rocket::async_test]
async fn instances_starting_together_agree_on_one_first_key() {
    let db = TestDatabase::new().await;
    // Migrated beforehand (by the CLI, which makes no key): the race is the first key's.
    let listed = run(gatehouse(&db, &["keys", "list"]), "");
    assert!(
        stdout(&listed).contains("no signing keys yet"),
        "{}",
        crate::cli::stderr(&listed)
    );
    let clock = gatehouse::clock::ManualClock::new();
    let [a, b, c] = crate::support::launch_three(&db.url, &clock).await;
    let pool = crate::support::pool_of(&a);
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
    let kids: Vec<String> = [&a, &b, &c]
        .iter()
        .map(|client| {
            let app = client.rocket().state::<gatehouse::app::App>().unwrap();
            let token = app.keys.sign(&json!({"probe": true}), app.now()).unwrap();
            header_of(&token)["kid"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(kids.iter().all(|kid| kid == &kids[0]), "{kids:?}");
    // And a token one signs, another accepts.
    let register = json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD});
    let response = a
        .post("/api/auth/register")
        .header(rocket::http::ContentType::JSON)
        .body(register.to_string())
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Created);
    let response = b
        .post("/api/auth/login")
        .header(rocket::http::ContentType::JSON)
        .body(json!({"login": "alice", "password": PASSWORD}).to_string())
        .dispatch()
        .await;
    let body: Value = response.into_json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    let response = c
        .get("/api/auth/me")
        .header(rocket::http::Header::new(
            "Authorization",
            format!("Bearer {token}"),
        ))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
}

async fn post<'c>(
    client: &'c rocket::local::asynchronous::Client,
    uri: &'static str,
    body: &Value,
) -> rocket::local::asynchronous::LocalResponse<'c> {
    client
        .post(uri)
        .header(rocket::http::ContentType::JSON)
        .body(body.to_string())
        .dispatch()
        .await
}

#[rocket::async_test]
async fn a_reload_follows_retirements_even_when_no_key_can_sign_here() {
    let app = serve_with(|f| f).await;
    let token = sign_in(&app, "alice").await;
    let kid = header_of(&token)["kid"].as_str().unwrap().to_string();

    // Rotating with a secret that does not open the current key is refused…
    let mut wrong = gatehouse(&app.db, &["keys", "rotate"]);
    wrong.env(
        "GATEHOUSE_SIGNING_KEY_SECRET",
        "a-wrong-sealing-secret-1f2e3d4c5b6a7988a7b6c5d4e3f2",
    );
    assert_fails(&run(wrong, ""), "does not open the current key");

    // …but suppose a key sealed elsewhere takes over anyway (another deployment's
    // instance on this database), and then the old key is retired.
    let pool = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    let prk = aws_lc_rs::hkdf::Salt::new(aws_lc_rs::hkdf::HKDF_SHA256, b"elsewhere")
        .extract(b"a secret this instance does not hold");
    let foreign = gatehouse::sealing::Sealer::derive(&prk, b"elsewhere");
    let key = gatehouse::tokens::signing_keys::generate(
        gatehouse::config::TokenAlgorithm::EdDsa,
        &foreign,
        false,
    )
    .unwrap();
    let now = gatehouse::clock::Clock::now(&app.clock);
    let seen = gatehouse::tokens::signing_keys::latest_generation(&pool)
        .await
        .unwrap();
    gatehouse::tokens::signing_keys::introduce(&pool, &key, seen, now, 930, now)
        .await
        .unwrap();
    let retired = run(gatehouse(&app.db, &["keys", "retire", &kid]), "");
    assert!(retired.status.success());

    // At its next reload the instance refuses the retired key's token, though it
    // cannot sign with the new key: it does not keep the keys it had.
    app.clock.advance(11);
    assert_eq!(me_status(&app, &token).await, 401);
    let login = app.login("alice").await;
    assert_eq!(login.status, 500, "nothing signs here: {}", login.body);
    let jwks = http(app.port, "GET", "/.well-known/jwks.json", &[], None)
        .await
        .json();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [key.kid.as_str()]);
}

#[rocket::async_test]
async fn switching_to_hs256_stops_the_key_pairs_after_their_tokens_expire() {
    let db = TestDatabase::new().await;
    let clock = gatehouse::clock::ManualClock::new();
    let eddsa = launch(test_figment(&db.url), &clock).await;
    let register = json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD});
    let login = json!({"login": "alice", "password": PASSWORD});
    post(&eddsa, "/api/auth/register", &register).await;
    let body: Value = post(&eddsa, "/api/auth/login", &login)
        .await
        .into_json()
        .await
        .unwrap();
    let old = body["access_token"].as_str().unwrap().to_string();
    drop(eddsa);

    let hs256 = launch(
        test_figment(&db.url).merge(("gatehouse.access_token_algorithm", "HS256")),
        &clock,
    )
    .await;
    let me = |token: String| {
        let request = hs256.get("/api/auth/me").header(rocket::http::Header::new(
            "Authorization",
            format!("Bearer {token}"),
        ));
        async move { request.dispatch().await.status() }
    };
    assert_eq!(
        me(old.clone()).await,
        Status::Ok,
        "tokens already out still work"
    );
    let listed = stdout(&run(gatehouse(&db, &["keys", "list"]), ""));
    assert!(listed.contains("verifying until"), "{listed}");
    clock.advance(900 + 30 + 1);
    assert_eq!(me(old).await, Status::Unauthorized);
    let jwks: Value = hs256
        .get("/.well-known/jwks.json")
        .dispatch()
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"], json!([]));
}
