//! Passwordless sign-ins against a running server, for bench/run.sh: registers a
//! software passkey on the account of TOKEN (a fresh login's access token), then runs
//! sign-in ceremonies (start, the passkey's answer, finish) from CLIENTS clients for
//! SECONDS, and prints how many completed. The passkey is the tests' own.
//!
//! cargo run --release --example passkey_ceremonies -- BASE ORIGIN TOKEN SECONDS CLIENTS

#[path = "../tests/api/passkeys/authenticator.rs"]
mod authenticator;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authenticator::SoftKey;
use serde_json::{json, Value};

async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut request = client
        .post(url)
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let text = response.text().await.expect("a body");
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).expect("JSON")
}

#[rocket::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, origin, token, seconds, clients] = args.as_slice() else {
        eprintln!("usage: passkey_ceremonies BASE ORIGIN TOKEN SECONDS CLIENTS");
        std::process::exit(2);
    };
    let seconds: u64 = seconds.parse().expect("SECONDS");
    let clients: usize = clients.parse().expect("CLIENTS");
    let http = reqwest::Client::new();
    let mut key = SoftKey::synced(origin);
    let started = post(
        &http,
        format!("{base}/api/auth/passkeys/register/start"),
        Some(token),
        json!({}),
    )
    .await;
    let credential = key.register(&started["publicKey"]);
    let body =
        json!({"challenge_id": started["challenge_id"], "name": "Bench", "credential": credential});
    post(
        &http,
        format!("{base}/api/auth/passkeys/register/finish"),
        Some(token),
        body,
    )
    .await;

    // Synced passkeys count 0 every time, so clients may share one without a race
    // on the counter.
    let key = Arc::new(Mutex::new(key));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let began = Instant::now();
    let runs = (0..clients).map(|_| {
        let (http, base, key) = (http.clone(), base.clone(), Arc::clone(&key));
        rocket::tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                let started = post(
                    &http,
                    format!("{base}/api/auth/passkeys/login/start"),
                    None,
                    json!({}),
                )
                .await;
                let credential = key.lock().unwrap().assert(&started["publicKey"]);
                let body =
                    json!({"challenge_id": started["challenge_id"], "credential": credential});
                post(
                    &http,
                    format!("{base}/api/auth/passkeys/login/finish"),
                    None,
                    body,
                )
                .await;
                done += 1;
            }
            done
        })
    });
    let mut total = 0;
    for run in runs.collect::<Vec<_>>() {
        total += run.await.expect("a client");
    }
    let elapsed = began.elapsed().as_secs_f64();
    println!(
        "ceremonies: {total} in {elapsed:.1} s ({:.1}/s)",
        total as f64 / elapsed
    );
}
