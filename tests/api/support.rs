//! The test harness: `spawn_app()` builds the real app on its own fresh database
//! (a temporary SQLite file, or a new PostgreSQL database when TEST_DATABASE_URL is
//! set) with a manual clock, and wraps Rocket's asynchronous local client.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};

use gatehouse::clock::ManualClock;
use rocket::figment::Figment;
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use serde_json::{json, Value};
use sqlx::{AnyPool, Connection};

#[path = "../shared/binary.rs"]
mod binary;
pub use binary::binary;

/// The name of one of the app's cookies (`csrf`, `access`, …): they carry the app's
/// name, which follows the package name of a renamed clone.
pub fn cookie_name(suffix: &str) -> String {
    format!("{}_{suffix}", gatehouse::config::app_name())
}

pub const PASSWORD: &str = "correct horse battery";
pub const SECRET: &str = "test-secret-4f9c2a7e81d6b03c5e9a1f7d2b8c4e6a";
pub const SIGNING_KEY_SECRET: &str = "test-signing-keys-3b8e1d6f0a2c4e7b9d1f3a5c8e0b2d4f";
pub const TWO_FACTOR_KEY: &str = "test-2fa-key-7c1e9b3d5f2a8c4e6b0d1f3a5c7e9b2d";

static ANNOUNCE: Once = Once::new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The PostgreSQL server URL to test against, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
}

fn announce_backend() {
    ANNOUNCE.call_once(|| {
        // Written straight to stderr, past the test harness's capture, so every run
        // says which backend it exercised.
        let line = match postgres_url() {
            Some(_) => "gatehouse tests: running on PostgreSQL (TEST_DATABASE_URL)\n".to_string(),
            None => "gatehouse tests: running on SQLite; PostgreSQL run skipped (set TEST_DATABASE_URL=postgres://… to run it)\n"
                .to_string(),
        };
        let _ = std::io::stderr().write_all(line.as_bytes());
    });
}

/// A database that exists for one test only.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn new() -> TestDatabase {
        announce_backend();
        sqlx::any::install_default_drivers();
        match postgres_url() {
            None => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                TestDatabase {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                }
            }
            Some(server) => {
                let name = format!(
                    "gatehouse_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    gatehouse::random::token(4)
                        .to_lowercase()
                        .replace(['-', '_'], "x")
                );
                let mut admin = sqlx::AnyConnection::connect(&server)
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .expect("create a test database");
                let _ = admin.close().await;
                let url = replace_database(&server, &name);
                TestDatabase {
                    url,
                    _dir: None,
                    postgres: Some((server, name)),
                }
            }
        }
    }
}

fn replace_database(server: &str, name: &str) -> String {
    let (base, query) = server
        .split_once('?')
        .map_or((server, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((server, name)) = self.postgres.take() {
            // Drop runs outside async code; a short-lived runtime on its own thread
            // removes the database.
            let _ = std::thread::spawn(move || {
                let runtime = rocket::tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(async {
                        if let Ok(mut admin) = sqlx::AnyConnection::connect(&server).await {
                            let _ = sqlx::query(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .execute(&mut admin)
                            .await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// The figment of a test app: Rocket.toml's defaults, a fixed secret, cheap argon2
/// parameters, no rate limits (the rate-limit tests turn them on), no mail (the mail
/// tests choose a transport) and quiet logs, on
/// `url`.
pub fn test_figment(url: &str) -> Figment {
    gatehouse::figment()
        .merge(("log_level", "off"))
        .merge(("databases.gatehouse.url", url))
        .merge(("databases.gatehouse.max_connections", 8))
        .merge(("gatehouse.secret", SECRET))
        .merge(("gatehouse.two_factor_key", TWO_FACTOR_KEY))
        .merge(("gatehouse.signing_key_secret", SIGNING_KEY_SECRET))
        .merge(("gatehouse.argon2_memory_kib", 512))
        .merge(("gatehouse.argon2_iterations", 1))
        .merge(("gatehouse.rate_limit_enabled", false))
        .merge(("gatehouse.mail_transport", "none"))
}

pub struct TestApp {
    pub client: Client,
    pub clock: ManualClock,
    pub db: TestDatabase,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|figment| figment).await
}

/// Spawns the app with settings changed by `customize`.
pub async fn spawn_app_with(customize: impl FnOnce(Figment) -> Figment) -> TestApp {
    spawn_app_on(TestDatabase::new().await, customize).await
}

/// Spawns the app on a database made beforehand (by the CLI, say).
pub async fn spawn_app_on(db: TestDatabase, customize: impl FnOnce(Figment) -> Figment) -> TestApp {
    let clock = ManualClock::new();
    let figment = customize(test_figment(&db.url));
    let client = launch(figment, &clock).await;
    TestApp { client, clock, db }
}

/// Spawns the app with a client that keeps cookies between requests, as a browser does.
pub async fn spawn_browser() -> TestApp {
    spawn_browser_with(|f| f).await
}

/// A browser-like client on an app with settings of its own.
pub async fn spawn_browser_with(customize: impl FnOnce(Figment) -> Figment) -> TestApp {
    let db = TestDatabase::new().await;
    let clock = ManualClock::new();
    let figment = customize(test_figment(&db.url));
    let rocket = gatehouse::rocket_with_clock(figment, Arc::new(clock.clone()))
        .expect("valid test settings");
    let client = Client::tracked(rocket).await.expect("the app starts");
    TestApp { client, clock, db }
}

/// A client on the app built from `figment`.
pub async fn launch(figment: Figment, clock: &ManualClock) -> Client {
    let rocket = gatehouse::rocket_with_clock(figment, Arc::new(clock.clone()))
        .expect("valid test settings");
    Client::untracked(rocket).await.expect("the app starts")
}

/// Three instances of the app starting at the same moment on the database at `url`.
pub async fn launch_three(url: &str, clock: &ManualClock) -> [Client; 3] {
    let (a, b, c) = rocket::tokio::join!(
        launch(test_figment(url), clock),
        launch(test_figment(url), clock),
        launch(test_figment(url), clock),
    );
    [a, b, c]
}

/// The database pool of the app behind `client`.
pub fn pool_of(client: &Client) -> AnyPool {
    let app = client.rocket().state::<gatehouse::app::App>();
    app.expect("the app state").pool().clone()
}

/// A registered account's login and the tokens of one of its sessions.
pub struct Session {
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    pub fn state(&self) -> &gatehouse::app::App {
        self.client
            .rocket()
            .state::<gatehouse::app::App>()
            .expect("the app state")
    }

    pub fn pool(&self) -> AnyPool {
        self.state().pool().clone()
    }

    /// `payload` signed by the app's own current access-token key, as a forger who
    /// stole it would; the guards must still check every claim.
    pub fn sign(&self, payload: &Value) -> String {
        let app = self.state();
        app.keys.sign(payload, app.now()).expect("a signing key")
    }

    pub async fn post(&self, uri: &str, body: Value) -> LocalResponse<'_> {
        self.client
            .post(uri.to_string())
            .header(ContentType::JSON)
            .body(body.to_string())
            .dispatch()
            .await
    }

    pub async fn post_bearer(
        &self,
        uri: &str,
        token: &str,
        body: Option<Value>,
    ) -> LocalResponse<'_> {
        let mut request = self.client.post(uri.to_string()).header(bearer(token));
        if let Some(body) = body {
            request = request.header(ContentType::JSON).body(body.to_string());
        }
        request.dispatch().await
    }

    pub async fn patch_bearer(&self, uri: &str, token: &str, body: Value) -> LocalResponse<'_> {
        self.client
            .patch(uri.to_string())
            .header(bearer(token))
            .header(ContentType::JSON)
            .body(body.to_string())
            .dispatch()
            .await
    }

    pub async fn get_bearer(&self, uri: &str, token: &str) -> LocalResponse<'_> {
        self.client
            .get(uri.to_string())
            .header(bearer(token))
            .dispatch()
            .await
    }

    pub async fn delete_bearer(&self, uri: &str, token: &str) -> LocalResponse<'_> {
        self.client
            .delete(uri.to_string())
            .header(bearer(token))
            .dispatch()
            .await
    }

    pub async fn register(&self, username: &str, email: &str) -> Value {
        let response = self
            .post(
                "/api/auth/register",
                json!({"username": username, "email": email, "password": PASSWORD}),
            )
            .await;
        let status = response.status();
        let body = response.into_json::<Value>().await.expect("json");
        assert_eq!(status, Status::Created, "registering {username}: {body}");
        body
    }

    pub async fn login(&self, login: &str, password: &str) -> LocalResponse<'_> {
        self.post(
            "/api/auth/login",
            json!({"login": login, "password": password}),
        )
        .await
    }

    /// The id of the account `username`.
    pub async fn account_id(&self, username: &str) -> i64 {
        sqlx::query_scalar("SELECT id FROM accounts WHERE username_key = $1")
            .bind(username.to_lowercase())
            .fetch_one(&self.pool())
            .await
            .expect("the account exists")
    }

    /// The failed-login counter of `username`, read from the database.
    /// How many of the account's audit events have a detail starting with `prefix`
    /// (`wrong_password`: the wrong passwords that were checked).
    pub async fn events_with_detail(&self, account_id: i64, prefix: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM auth_events WHERE account_id = $1 AND detail LIKE $2",
        )
        .bind(account_id)
        .bind(format!("{prefix}%"))
        .fetch_one(&self.pool())
        .await
        .unwrap()
    }

    pub async fn failed_logins(&self, username: &str) -> i64 {
        sqlx::query_scalar("SELECT failed_logins FROM accounts WHERE username_key = $1")
            .bind(username.to_lowercase())
            .fetch_one(&self.pool())
            .await
            .expect("the account exists")
    }

    /// Registers `username` as staff (and superuser if asked), bypassing the API as
    /// the CLI would, and signs in.
    pub async fn signed_in_admin(&self, username: &str, superuser: bool) -> Session {
        self.register(username, &format!("{username}@example.com"))
            .await;
        sqlx::query("UPDATE accounts SET is_staff = 1, is_superuser = $1 WHERE username_key = $2")
            .bind(i64::from(superuser))
            .bind(username.to_lowercase())
            .execute(&self.pool())
            .await
            .unwrap();
        self.signed_in(username).await
    }

    /// Registers `username` (if needed) and logs in.
    pub async fn signed_in(&self, username: &str) -> Session {
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM accounts WHERE username_key = $1")
                .bind(username.to_lowercase())
                .fetch_optional(&self.pool())
                .await
                .unwrap();
        if exists.is_none() {
            self.register(username, &format!("{username}@example.com"))
                .await;
        }
        let response = self.login(username, PASSWORD).await;
        assert_eq!(response.status(), Status::Ok);
        let body: Value = response.into_json().await.unwrap();
        Session {
            access: body["access_token"].as_str().unwrap().to_string(),
            refresh: body["refresh_token"].as_str().unwrap().to_string(),
        }
    }
}

pub fn bearer(token: &str) -> Header<'static> {
    Header::new("Authorization", format!("Bearer {token}"))
}

/// Asserts the JSON error shape and returns the body.
pub async fn assert_error(response: LocalResponse<'_>, status: Status, code: &str) -> Value {
    assert_eq!(response.status(), status, "status of a `{code}` error");
    assert_eq!(response.content_type(), Some(ContentType::JSON));
    let body: Value = response.into_json().await.expect("a JSON error body");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "body: {body}"
    );
    body
}

// Pages, as a browser uses them: a cookie-keeping client, forms and redirects.

/// The CSRF token the client's cookie jar holds (after any page view).
pub fn csrf(app: &TestApp) -> String {
    app.client
        .cookies()
        .get(&cookie_name("csrf"))
        .expect("a page view sets the csrf cookie")
        .value()
        .to_string()
}

pub async fn page(app: &TestApp, uri: &str) -> (Status, String) {
    let response = app.client.get(uri.to_string()).dispatch().await;
    let status = response.status();
    (status, response.into_string().await.unwrap_or_default())
}

pub async fn submit<'a>(app: &'a TestApp, uri: &str, fields: &[(&str, &str)]) -> LocalResponse<'a> {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    app.client
        .post(uri.to_string())
        .header(ContentType::Form)
        .body(body)
        .dispatch()
        .await
}

pub fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn location(response: &LocalResponse<'_>) -> String {
    response
        .headers()
        .get_one("Location")
        .unwrap_or("")
        .to_string()
}

/// Registers through the API and logs in through the login form.
pub async fn browser_login(app: &TestApp, username: &str) {
    if sqlx::query_scalar::<_, i64>("SELECT id FROM accounts WHERE username_key = $1")
        .bind(username)
        .fetch_optional(&app.pool())
        .await
        .unwrap()
        .is_none()
    {
        app.register(username, &format!("{username}@example.com"))
            .await;
    }
    page(app, "/login").await;
    let token = csrf(app);
    let response = submit(
        app,
        "/login",
        &[
            ("login", username),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_eq!(response.status(), Status::SeeOther);
}

/// The app served on a real port of the loopback (for clients that speak HTTP or
/// WebSocket themselves: another service, a socket), on its own database with a
/// manual clock; shut down when dropped.
pub struct ServedApp {
    pub port: u16,
    pub clock: ManualClock,
    pub db: TestDatabase,
    shutdown: rocket::Shutdown,
}

impl ServedApp {
    /// A POST of `body` as JSON, with `token` as the bearer if given.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> WireResponse {
        let bearer = token.map(|token| format!("Bearer {token}"));
        let headers: Vec<(&str, &str)> = bearer
            .as_deref()
            .map(|value| vec![("Authorization", value)])
            .unwrap_or_default();
        http(self.port, "POST", path, &headers, Some(body)).await
    }

    /// `username`'s login with the test password.
    pub async fn login(&self, username: &str) -> WireResponse {
        let body = json!({"login": username, "password": PASSWORD});
        self.post("/api/auth/login", None, &body).await
    }

    /// Registers `username` unless it exists, signs in, and answers the login's body.
    pub async fn signed_in(&self, username: &str) -> Value {
        let email = format!("{username}@example.com");
        let body = json!({"username": username, "email": email, "password": PASSWORD});
        let registered = self.post("/api/auth/register", None, &body).await;
        assert!(
            registered.status == 201 || registered.status == 409,
            "{}",
            registered.body
        );
        let login = self.login(username).await;
        assert_eq!(login.status, 200, "{}", login.body);
        login.json()
    }
}

impl Drop for ServedApp {
    fn drop(&mut self) {
        self.shutdown.clone().notify();
    }
}

pub async fn serve_with(customize: impl FnOnce(Figment) -> Figment) -> ServedApp {
    serve_on(TestDatabase::new().await, ManualClock::new(), customize).await
}

/// Serves the app on `db` with `clock` (shared with another instance, say).
pub async fn serve_on(
    db: TestDatabase,
    clock: ManualClock,
    customize: impl FnOnce(Figment) -> Figment,
) -> ServedApp {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let figment = customize(test_figment(&db.url))
        .merge(("address", "127.0.0.1"))
        .merge(("port", port));
    let rocket = gatehouse::rocket_with_clock(figment, Arc::new(clock.clone()))
        .expect("valid test settings")
        .ignite()
        .await
        .expect("the app ignites");
    let shutdown = rocket.shutdown();
    rocket::tokio::spawn(rocket.launch());
    for _ in 0..200 {
        if rocket::tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        rocket::tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    ServedApp {
        port,
        clock,
        db,
        shutdown,
    }
}

/// A response read off the wire.
pub struct WireResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl WireResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// One HTTP/1.1 request over a new connection, answered in full (`Connection: close`).
pub async fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> WireResponse {
    let body = body.map(Value::to_string).unwrap_or_default();
    http_raw(port, method, path, headers, "application/json", &body).await
}

/// [`http`] with a body of any `content_type` (sent only with a body), taken as is.
pub async fn http_raw(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    content_type: &str,
    body: &str,
) -> WireResponse {
    try_http_raw(port, method, path, headers, content_type, body)
        .await
        .expect("the server answers")
}

/// [`http`], or `None` when the connection fails or breaks (a server going away).
pub async fn try_http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Option<WireResponse> {
    let body = body.map(Value::to_string).unwrap_or_default();
    try_http_raw(port, method, path, headers, "application/json", &body).await
}

async fn try_http_raw(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    content_type: &str,
    body: &str,
) -> Option<WireResponse> {
    use rocket::tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        request.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    let mut stream = rocket::tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.ok()?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect();
    Some(WireResponse {
        status,
        headers,
        body: body.to_string(),
    })
}

/// A request on any client (another instance, say): JSON `body` and the bearer
/// `token` when given; the status and the JSON answer (null when none).
pub async fn send(
    client: &Client,
    method: rocket::http::Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (Status, Value) {
    let mut request = client.req(method, uri.to_string());
    if let Some(body) = body {
        request = request.header(ContentType::JSON).body(body.to_string());
    }
    if let Some(token) = token {
        request = request.header(bearer(token));
    }
    let response = request.dispatch().await;
    let status = response.status();
    (status, response.into_json().await.unwrap_or(Value::Null))
}

/// Adds bench/seed.sql's synthetic rows: `accounts` accounts (seed1, seed2, …),
/// `sessions` live sessions and `events` audit events.
pub async fn seed(pool: &AnyPool, accounts: u64, sessions: u64, events: u64, now: i64) {
    let script: String = include_str!("../../bench/seed.sql")
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("{accounts}", &accounts.to_string())
        .replace("{sessions}", &sessions.to_string())
        .replace("{events}", &events.to_string())
        .replace("{now}", &now.to_string())
        .replace("{events_at}", &now.to_string());
    for statement in script.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        sqlx::query(statement)
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("seeding failed: {e}\n{statement}"));
    }
}

/// A free port on loopback (free when asked; a test binds it at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// The binary serving `database_url` on `port` (debug profile, the test secrets,
/// cheap argon2, no rate limits, no mail), with `settings` on top, its output (both
/// streams) going to `log` if given; returns once it answers.
pub async fn serve_binary(
    database_url: &str,
    port: u16,
    settings: &[(&str, &str)],
    log: Option<&std::fs::File>,
) -> std::process::Child {
    let output = |log: Option<&std::fs::File>| match log.map(std::fs::File::try_clone) {
        Some(Ok(file)) => std::process::Stdio::from(file),
        _ => std::process::Stdio::null(),
    };
    let mut command = std::process::Command::new(binary());
    command
        .env("ROCKET_PROFILE", "debug")
        .env("ROCKET_PORT", port.to_string())
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_LOG_LEVEL", "off")
        .env("DATABASE_URL", database_url)
        .env("GATEHOUSE_SECRET", SECRET)
        .env("GATEHOUSE_TWO_FACTOR_KEY", TWO_FACTOR_KEY)
        .env("GATEHOUSE_SIGNING_KEY_SECRET", SIGNING_KEY_SECRET)
        .env("GATEHOUSE_MAIL_TRANSPORT", "none")
        .env("GATEHOUSE_RATE_LIMIT_ENABLED", "false")
        .env("GATEHOUSE_ARGON2_MEMORY_KIB", "512")
        .env("GATEHOUSE_ARGON2_ITERATIONS", "1");
    for (name, value) in settings {
        command.env(name, value);
    }
    let mut child = command
        .stdout(output(log))
        .stderr(output(log))
        .spawn()
        .expect("the binary starts");
    let started = std::time::Instant::now();
    while rocket::tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the binary stopped: {status}");
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the binary did not start"
        );
        rocket::tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child
}

/// The headers of an answer, sorted, less those that differ between any two requests
/// whatever they carried (`Date`, `X-Request-Id`): what answers that must be alike
/// are compared on.
pub fn comparable_headers(response: &LocalResponse<'_>) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|h| {
            let name = h.name().as_str();
            !name.eq_ignore_ascii_case("date") && !name.eq_ignore_ascii_case("x-request-id")
        })
        .map(|h| (h.name().to_string(), h.value().to_string()))
        .collect();
    headers.sort();
    headers
}
