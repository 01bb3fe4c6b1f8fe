//! PostgreSQL unreachable: a TCP proxy of the test's own between the app and the
//! machine's PostgreSQL (never stopped: other tests use it) is cut and restored.
//! Meanwhile requests answer 503 `database_unavailable` within the pool's timeout,
//! readiness goes 503, and service resumes by itself once the connection is back.
//! PostgreSQL only: on SQLite this test says it was skipped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rocket::http::{Method, Status};
use rocket::tokio::net::{TcpListener, TcpStream};
use rocket::tokio::task::AbortHandle;
use serde_json::json;

use crate::support::{launch, postgres_url, send, test_figment, TestDatabase, PASSWORD};

/// A TCP proxy to `upstream` that can drop every connection and refuse new ones.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (accepting_cut, accepting_links) = (Arc::clone(&cut), Arc::clone(&links));
        rocket::tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if accepting_cut.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is closed at once
                }
                let upstream = upstream.clone();
                let link = rocket::tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ =
                            rocket::tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                accepting_links.lock().unwrap().push(link.abort_handle());
            }
        });
        Proxy { port, cut, links }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

#[rocket::async_test]
async fn requests_answer_503_while_postgresql_is_cut_off_and_recover_by_themselves() {
    if postgres_url().is_none() {
        eprintln!("outage: PostgreSQL run skipped (set TEST_DATABASE_URL)");
        return;
    }
    let db = TestDatabase::new().await;
    let (server, rest) = db.url.split_once("@").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let proxy = Proxy::start(host.to_string()).await;
    let through_proxy = format!("{server}@127.0.0.1:{}/{path}", proxy.port);
    let clock = gatehouse::clock::ManualClock::new();
    let app = launch(
        test_figment(&through_proxy).merge(("databases.gatehouse.connect_timeout", 1)),
        &clock,
    )
    .await;
    let register = json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD});
    let login = json!({"login": "alice", "password": PASSWORD});
    assert_eq!(
        send(
            &app,
            Method::Post,
            "/api/auth/register",
            None,
            Some(register)
        )
        .await
        .0,
        Status::Created
    );
    let (_, body) = send(
        &app,
        Method::Post,
        "/api/auth/login",
        None,
        Some(login.clone()),
    )
    .await;
    let token = body["access_token"].as_str().unwrap().to_string();

    proxy.cut();
    let bob = json!({"username": "bob", "email": "bob@example.com", "password": PASSWORD});
    for (method, uri, token, body) in [
        (Method::Get, "/api/health", None, None),
        (Method::Get, "/api/auth/me", Some(token.as_str()), None),
        (
            Method::Get,
            "/api/auth/sessions",
            Some(token.as_str()),
            None,
        ),
        (Method::Post, "/api/auth/login", None, Some(login.clone())),
        (Method::Post, "/api/auth/register", None, Some(bob)),
    ] {
        let started = Instant::now();
        let (status, answer) = send(&app, method, uri, token, body).await;
        let took = started.elapsed();
        assert_eq!(
            status,
            Status::ServiceUnavailable,
            "{method} {uri}: {answer}"
        );
        assert_eq!(
            answer["error"]["code"], "database_unavailable",
            "{method} {uri}"
        );
        // Within the pool's timeout (1 s here), never a hang.
        assert!(
            took < Duration::from_secs(3),
            "{method} {uri} took {took:?}"
        );
    }

    proxy.restore();
    let started = Instant::now();
    loop {
        let (status, _) = send(&app, Method::Get, "/api/auth/me", Some(&token), None).await;
        if status == Status::Ok {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no recovery: {status}"
        );
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "outage: service resumed {:?} after the connection returned",
        started.elapsed()
    );
    assert_eq!(
        send(&app, Method::Get, "/api/health", None, None).await.0,
        Status::Ok
    );
    assert_eq!(
        send(&app, Method::Post, "/api/auth/login", None, Some(login))
            .await
            .0,
        Status::Ok
    );
}
