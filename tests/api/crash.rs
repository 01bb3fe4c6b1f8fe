//! kill -9 under load: registrations, logins, refreshes and logouts run against the
//! binary when it is killed outright; after a restart on the same database every
//! acknowledged registration can log in, no acknowledged logout comes back (neither
//! its access nor its refresh token works), and SQLite's file passes
//! `PRAGMA integrity_check`. On PostgreSQL in the PostgreSQL run.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{free_port, http, serve_binary, TestDatabase, PASSWORD};

#[derive(Default)]
struct Acknowledged {
    registered: Vec<String>,
    /// The access and refresh tokens of sessions whose logout was answered 204.
    logged_out: Vec<(String, String)>,
    refreshed: usize,
}

/// One client's loop until the server goes away: register a new account, log in,
/// refresh, log out; each answer that came back is noted.
async fn client(port: u16, number: usize, acknowledged: Arc<Mutex<Acknowledged>>) {
    for round in 0.. {
        let username = format!("crash{number}x{round}");
        let body = json!({"username": username, "email": format!("{username}@example.com"), "password": PASSWORD});
        let Some(registered) = call(port, "POST", "/api/auth/register", None, &body).await else {
            return;
        };
        if registered.0 != 201 {
            continue;
        }
        acknowledged
            .lock()
            .unwrap()
            .registered
            .push(username.clone());
        let body = json!({"login": username, "password": PASSWORD});
        let Some((200, login)) = call(port, "POST", "/api/auth/login", None, &body).await else {
            return;
        };
        let body = json!({"refresh_token": login["refresh_token"]});
        let Some((200, refreshed)) = call(port, "POST", "/api/auth/refresh", None, &body).await
        else {
            return;
        };
        acknowledged.lock().unwrap().refreshed += 1;
        let access = refreshed["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let refresh = refreshed["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let Some((status, _)) = call(
            port,
            "POST",
            "/api/auth/logout",
            Some(&access),
            &Value::Null,
        )
        .await
        else {
            return;
        };
        if status == 204 {
            acknowledged
                .lock()
                .unwrap()
                .logged_out
                .push((access, refresh));
        }
    }
}

/// The status and body of one request; `None` once the server is gone (no answer).
async fn call(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> Option<(u16, Value)> {
    let bearer = token.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("Authorization", b.as_str()))
        .collect();
    let body = (!body.is_null()).then_some(body);
    let answer = rocket::tokio::time::timeout(
        Duration::from_secs(5),
        crate::support::try_http(port, method, path, &headers, body),
    )
    .await
    .ok()??;
    (answer.status != 0).then(|| (answer.status, answer.json()))
}

#[rocket::async_test]
async fn kill_9_under_load_loses_no_acknowledged_registration_or_logout() {
    let db = TestDatabase::new().await;
    let port = free_port();
    let mut server = serve_binary(&db.url, port, &[], None).await;
    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let clients: Vec<_> = (0..8)
        .map(|number| rocket::tokio::spawn(client(port, number, Arc::clone(&acknowledged))))
        .collect();
    rocket::tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().expect("SIGKILL");
    server.wait().unwrap();
    for client in clients {
        client.await.unwrap();
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    assert!(
        acknowledged.registered.len() >= 8 && !acknowledged.logged_out.is_empty(),
        "too little load to prove anything: {} registrations, {} logouts",
        acknowledged.registered.len(),
        acknowledged.logged_out.len()
    );

    if let Some(path) = db.url.strip_prefix("sqlite://") {
        let pool = sqlx::AnyPool::connect(&format!("sqlite://{path}"))
            .await
            .unwrap();
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(check, "ok");
        pool.close().await;
    }
    let mut server = serve_binary(&db.url, port, &[], None).await;
    for username in &acknowledged.registered {
        let body = json!({"login": username, "password": PASSWORD});
        let answer = http(port, "POST", "/api/auth/login", &[], Some(&body)).await;
        assert_eq!(
            answer.status, 200,
            "{username} was acknowledged: {}",
            answer.body
        );
    }
    for (access, refresh) in &acknowledged.logged_out {
        let bearer = format!("Bearer {access}");
        let me = http(
            port,
            "GET",
            "/api/auth/me",
            &[("Authorization", &bearer)],
            None,
        )
        .await;
        assert_eq!(
            me.status, 401,
            "a logged-out session came back: {}",
            me.body
        );
        let body = json!({ "refresh_token": refresh });
        let again = http(port, "POST", "/api/auth/refresh", &[], Some(&body)).await;
        assert_eq!(
            again.status, 401,
            "a logged-out refresh token works: {}",
            again.body
        );
    }
    let _ = server.kill();
    let _ = server.wait();
    eprintln!(
        "kill -9 after {} acknowledged registrations, {} refreshes and {} logouts: all held",
        acknowledged.registered.len(),
        acknowledged.refreshed,
        acknowledged.logged_out.len()
    );
}
