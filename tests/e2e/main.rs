//! End-to-end tests in a real headless Chromium, driven through chromedriver: the
//! `gatehouse` binary serves a temporary SQLite database on a free port, and two
//! browsers (two people, or two devices) use its pages with no JavaScript.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`apt-get install chromium
//! chromium-driver`; `bash .ci/run` installs them). Without them the test says it was
//! skipped, except under CI=true, where their absence is a failure. Screenshots of the
//! main pages are saved under target/screenshots/.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[path = "../shared/binary.rs"]
mod binary;
mod cross_origin;
mod passkeys;
mod proxy;
use binary::binary;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use totp_rs::{Algorithm, Secret, TOTP};

const PASSWORD: &str = "correct horse battery";

/// Says a test was skipped, straight to stderr: the harness captures `eprintln!` and
/// would print only `ok`.
pub fn say_skipped(why: &str) {
    let line = format!("{} {why}\n", env!("CARGO_PKG_NAME"));
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until `port` answers an HTTP GET of `path`.
fn wait_for(port: u16, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let request =
                format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
            let mut answer = [0u8; 8];
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_exact(&mut answer).is_ok()
                && answer.starts_with(b"HTTP/1")
            {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing answered on port {port} within 30 s");
}

fn find_program(candidates: &[&str]) -> Option<PathBuf> {
    candidates
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .map(Path::to_path_buf)
}

/// The browser and its driver, or why the test cannot run here.
fn browser_programs() -> Option<(PathBuf, PathBuf)> {
    let chromium = std::env::var("CHROMIUM")
        .ok()
        .map(PathBuf::from)
        .or_else(|| {
            find_program(&[
                "/usr/bin/chromium",
                "/usr/bin/chromium-browser",
                "/usr/bin/google-chrome",
            ])
        })?;
    let driver = std::env::var("CHROMEDRIVER")
        .ok()
        .map(PathBuf::from)
        .or_else(|| find_program(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]))?;
    Some((chromium, driver))
}

struct Harness {
    base: String,
    db_url: String,
    _server: Running,
    _driver: Running,
    driver_url: String,
    chromium: PathBuf,
    /// Where the file mailer writes (`.eml` files).
    mail_dir: PathBuf,
    /// The server's log (stdout and stderr), at Rocket's normal level (a request line each).
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn start(chromium: PathBuf, driver: PathBuf) -> Harness {
        Harness::start_with(chromium, driver, &[])
    }

    /// The server with settings of its own (`GATEHOUSE_…` variables) on top.
    fn start_with(chromium: PathBuf, driver: PathBuf, settings: &[(&str, String)]) -> Harness {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db_url = format!("sqlite://{}", dir.path().join("e2e.db").display());
        let port = free_port();
        let mail_dir = dir.path().join("mail");
        let log = dir.path().join("server.log");
        let log_file = std::fs::File::create(&log).expect("a log file");
        let server = Command::new(binary())
            .env("ROCKET_PORT", port.to_string())
            .env("ROCKET_ADDRESS", "127.0.0.1")
            .env("ROCKET_LOG_LEVEL", "normal")
            .env("ROCKET_CLI_COLORS", "false")
            .env("ROCKET_PROFILE", "debug")
            .env("DATABASE_URL", &db_url)
            .env(
                "GATEHOUSE_SECRET",
                "e2e-secret-5b1c9d7e3f2a8b6c4d0e1f3a5b7c9d2e",
            )
            .env(
                "GATEHOUSE_TWO_FACTOR_KEY",
                "e2e-2fa-key-8a6c4e2f0b1d3c5e7a9b2d4f6a8c0e1f",
            )
            .env("GATEHOUSE_ARGON2_MEMORY_KIB", "512")
            .env("GATEHOUSE_ARGON2_ITERATIONS", "1")
            .env("GATEHOUSE_RATE_LIMIT_ENABLED", "false")
            .env("GATEHOUSE_MAIL_TRANSPORT", "file")
            .env("GATEHOUSE_MAIL_DIR", &mail_dir)
            .env("GATEHOUSE_MAIL_THROTTLE_SECONDS", "0")
            .envs(settings.iter().map(|(name, value)| (*name, value.as_str())))
            .stdout(log_file.try_clone().expect("the log file"))
            .stderr(log_file)
            .spawn()
            .expect("the gatehouse binary starts");
        let server = Running(server);
        wait_for(port, "/api/health/live");
        let driver_port = free_port();
        let driver = Command::new(driver)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Running(driver);
        wait_for(driver_port, "/status");
        Harness {
            base: format!("http://127.0.0.1:{port}"),
            db_url,
            _server: server,
            _driver: driver,
            driver_url: format!("http://127.0.0.1:{driver_port}"),
            chromium,
            mail_dir,
            log,
            _dir: dir,
        }
    }

    /// A new browser with its own profile (its own cookies).
    async fn browser(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": self.chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"],
            }),
        );
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.driver_url)
            .await
            .expect("a Chromium session")
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

async fn fill(browser: &Client, css: &str, text: &str) {
    let field = browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    field.clear().await.ok();
    field.send_keys(text).await.expect("typing");
}

async fn submit(browser: &Client, form_action: &str) {
    let css = format!("form[action='{form_action}'] button[type=submit]");
    let button = browser
        .find(Locator::Css(&css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    click_and_wait(browser, &button).await;
}

/// Clicks `element` and waits for the next page: the old document's root goes stale
/// once the browser has replaced it.
async fn click_and_wait(browser: &Client, element: &fantoccini::elements::Element) {
    let old_root = browser.find(Locator::Css("html")).await.expect("a page");
    element.click().await.expect("a click");
    let deadline = Instant::now() + Duration::from_secs(10);
    while old_root.text().await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "no new page within 10 s of the click"
        );
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn page_text(browser: &Client) -> String {
    browser
        .find(Locator::Css("body"))
        .await
        .expect("a body")
        .text()
        .await
        .expect("its text")
}

async fn path(browser: &Client) -> String {
    browser
        .current_url()
        .await
        .expect("a URL")
        .path()
        .to_string()
}

async fn screenshot(browser: &Client, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("target/screenshots");
    let png = browser.screenshot().await.expect("a screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("a screenshot file");
}

fn code_at(secret: &str, time: u64) -> String {
    let bytes = Secret::Encoded(secret.to_string())
        .to_bytes()
        .expect("base32");
    TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, "e2e".into())
        .expect("TOTP")
        .generate(time)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs()
}

/// The token of the newest link to `page` in the mail the file mailer wrote to `to`,
/// waiting up to 10 s for it.
fn mailed_token(harness: &Harness, to: &str, page: &str) -> String {
    let marker = format!("{page}?token=");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut found: Vec<(SystemTime, String)> = std::fs::read_dir(&harness.mail_dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|entry| {
                        let text = std::fs::read_to_string(entry.path()).ok()?;
                        let text = text
                            .replace("=\r\n", "")
                            .replace("=\n", "")
                            .replace("=3D", "=");
                        let modified = entry.metadata().ok()?.modified().ok()?;
                        (text.contains(&format!("To: {to}")) && text.contains(&marker))
                            .then_some((modified, text))
                    })
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        if let Some((_, text)) = found.last() {
            let start = text.rfind(&marker).unwrap() + marker.len();
            return text[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "no mail to {to} with a link to {page}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn log_in(browser: &Client, harness: &Harness, login: &str) {
    browser
        .goto(&harness.url("/login"))
        .await
        .expect("the login page");
    fill(browser, "#login", login).await;
    fill(browser, "#password", PASSWORD).await;
    submit(browser, "/login").await;
}

#[rocket::async_test]
async fn people_use_the_pages_in_a_real_browser() {
    let Some((chromium, driver)) = browser_programs() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but no chromium/chromedriver: .ci/run installs Debian's chromium and chromium-driver");
        }
        say_skipped(
            "browser tests skipped: install Debian's chromium and chromium-driver \
             (apt-get install chromium chromium-driver) to run them",
        );
        return;
    };
    let harness = Harness::start(chromium, driver);
    let alice = harness.browser().await;

    // Register, then log in.
    alice.goto(&harness.url("/register")).await.unwrap();
    screenshot(&alice, "register").await;
    fill(&alice, "#username", "alice").await;
    fill(&alice, "#email", "alice@example.com").await;
    fill(&alice, "#password", PASSWORD).await;
    submit(&alice, "/register").await;
    // Registering signs in.
    assert_eq!(path(&alice).await, "/");
    assert!(page_text(&alice).await.contains("you are signed in"));
    assert!(page_text(&alice).await.contains("Hello, alice"));
    // Log out, and in again.
    submit(&alice, "/logout").await;
    alice.goto(&harness.url("/login")).await.unwrap();
    screenshot(&alice, "login").await;
    fill(&alice, "#login", "alice").await;
    fill(&alice, "#password", PASSWORD).await;
    submit(&alice, "/login").await;
    assert!(page_text(&alice).await.contains("Hello, alice"));

    // Turn on 2FA, reading the secret from the page.
    alice.goto(&harness.url("/account")).await.unwrap();
    fill(&alice, "#setup-password", PASSWORD).await;
    submit(&alice, "/account/2fa/setup").await;
    assert_eq!(path(&alice).await, "/account/2fa/setup");
    screenshot(&alice, "2fa-setup").await;
    let secret = alice
        .find(Locator::Css("#totp-secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    fill(&alice, "#code", &code_at(&secret, now())).await;
    submit(&alice, "/account/2fa/enable").await;
    let codes: Vec<String> = {
        let mut codes = Vec::new();
        for item in alice
            .find_all(Locator::Css("#recovery-codes li"))
            .await
            .unwrap()
        {
            codes.push(item.text().await.unwrap());
        }
        codes
    };
    assert_eq!(codes.len(), 10);
    alice.goto(&harness.url("/account")).await.unwrap();
    assert!(page_text(&alice).await.contains("10 recovery codes left"));
    screenshot(&alice, "account").await;

    // Log out, and in again with the second step (the next step's code: the enabling
    // code's own step is spent).
    submit(&alice, "/logout").await;
    log_in(&alice, &harness, "alice").await;
    assert_eq!(path(&alice).await, "/login/2fa");
    screenshot(&alice, "login-2fa").await;
    fill(&alice, "#code", &code_at(&secret, now() + 30)).await;
    submit(&alice, "/login/2fa").await;
    assert!(page_text(&alice).await.contains("Hello, alice"));

    // Her notes, the example feature, from the navigation.
    let notes = alice
        .find(Locator::LinkText("Notes"))
        .await
        .expect("a Notes link in the navigation");
    click_and_wait(&alice, &notes).await;
    assert_eq!(path(&alice).await, "/notes");
    fill(&alice, "#title", "Groceries").await;
    fill(&alice, "#body", "eggs\nmilk").await;
    submit(&alice, "/notes").await;
    let text = page_text(&alice).await;
    assert!(
        text.contains("Note added.") && text.contains("Groceries"),
        "{text}"
    );
    screenshot(&alice, "notes").await;

    // Signed out, the notes page sends her to log in, and back there after both steps.
    submit(&alice, "/logout").await;
    alice.goto(&harness.url("/notes")).await.unwrap();
    assert_eq!(path(&alice).await, "/login");
    assert_eq!(
        alice.current_url().await.unwrap().query(),
        Some("next=%2Fnotes")
    );
    fill(&alice, "#login", "alice").await;
    fill(&alice, "#password", PASSWORD).await;
    submit(&alice, "/login").await;
    assert_eq!(path(&alice).await, "/login/2fa");
    fill(&alice, "#code", &codes[9]).await;
    submit(&alice, "/login/2fa").await;
    assert_eq!(path(&alice).await, "/notes");
    assert!(page_text(&alice).await.contains("Groceries"));

    // A second device signs in with a recovery code; the first signs it out.
    let phone = harness.browser().await;
    phone.set_window_size(390, 844).await.unwrap();
    log_in(&phone, &harness, "alice@example.com").await;
    fill(&phone, "#code", &codes[0]).await;
    submit(&phone, "/login/2fa").await;
    assert!(page_text(&phone).await.contains("Hello, alice"));
    phone.goto(&harness.url("/account")).await.unwrap();
    screenshot(&phone, "account-phone").await;
    alice.goto(&harness.url("/account")).await.unwrap();
    let sign_out = alice
        .find(Locator::Css(
            "form[action^='/account/sessions/'][action$='/revoke'] button",
        ))
        .await
        .expect("a sign-out button for the other session");
    click_and_wait(&alice, &sign_out).await;
    assert!(page_text(&alice)
        .await
        .contains("That device is signed out."));
    phone.goto(&harness.url("/account")).await.unwrap();
    assert_eq!(path(&phone).await, "/login", "the phone is signed out");
    phone.close().await.ok();

    // An admin blocks alice; her open browser session is refused on its next page.
    let output = Command::new(binary())
        .args([
            "create-superuser",
            "--username",
            "boss",
            "--email",
            "boss@example.com",
            "--password-stdin",
        ])
        .arg("--database-url")
        .arg(&harness.db_url)
        .env("GATEHOUSE_ARGON2_MEMORY_KIB", "512")
        .env("GATEHOUSE_ARGON2_ITERATIONS", "1")
        .env("GATEHOUSE_MAIL_TRANSPORT", "none")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(PASSWORD.as_bytes())?;
            child.wait_with_output()
        })
        .expect("the CLI runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let boss = harness.browser().await;
    log_in(&boss, &harness, "boss").await;
    boss.goto(&harness.url("/admin?q=alice")).await.unwrap();
    screenshot(&boss, "admin").await;
    let link = boss.find(Locator::LinkText("alice")).await.unwrap();
    click_and_wait(&boss, &link).await;
    fill(&boss, "#reason", "Chargeback fraud").await;
    let block_action = format!("{}/block", path(&boss).await);
    submit(&boss, &block_action).await;
    assert!(page_text(&boss)
        .await
        .contains("Blocked; its sessions are signed out."));
    screenshot(&boss, "admin-account").await;
    alice.goto(&harness.url("/account")).await.unwrap();
    assert_eq!(path(&alice).await, "/login");
    assert!(page_text(&alice)
        .await
        .contains("blocked by an administrator"));
    boss.close().await.ok();
    alice.close().await.ok();
}

#[rocket::async_test]
async fn a_forgotten_password_is_reset_in_a_real_browser() {
    let Some((chromium, driver)) = browser_programs() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but no chromium/chromedriver: .ci/run installs Debian's chromium and chromium-driver");
        }
        say_skipped("browser reset test skipped: no chromium/chromium-driver");
        return;
    };
    let harness = Harness::start(chromium, driver);
    let alice = harness.browser().await;
    alice.goto(&harness.url("/register")).await.unwrap();
    fill(&alice, "#username", "alice").await;
    fill(&alice, "#email", "alice@example.com").await;
    fill(&alice, "#password", PASSWORD).await;
    submit(&alice, "/register").await;
    assert_eq!(path(&alice).await, "/");
    submit(&alice, "/logout").await;
    alice.goto(&harness.url("/login")).await.unwrap();

    let forgot = alice
        .find(Locator::Css("a[href='/forgot-password']"))
        .await
        .expect("a 'Forgot password?' link on the login page");
    click_and_wait(&alice, &forgot).await;
    assert_eq!(path(&alice).await, "/forgot-password");
    screenshot(&alice, "forgot-password").await;
    fill(&alice, "#email", "alice@example.com").await;
    submit(&alice, "/forgot-password").await;
    assert_eq!(path(&alice).await, "/login");
    assert!(page_text(&alice)
        .await
        .contains("If an account has that address"));

    let token = mailed_token(&harness, "alice@example.com", "/reset-password");
    alice
        .goto(&harness.url(&format!("/reset-password?token={token}")))
        .await
        .unwrap();
    let address = alice.current_url().await.unwrap().to_string();
    assert_eq!(
        address,
        harness.url("/reset-password"),
        "the token left the address"
    );
    screenshot(&alice, "reset-password").await;
    let new_password = "violet canyon drifting northward";
    fill(&alice, "#new_password", new_password).await;
    submit(&alice, "/reset-password").await;
    assert_eq!(path(&alice).await, "/login");
    assert!(page_text(&alice).await.contains("Your password is changed"));
    fill(&alice, "#login", "alice").await;
    fill(&alice, "#password", new_password).await;
    submit(&alice, "/login").await;
    assert!(page_text(&alice).await.contains("Hello, alice"));
    alice.close().await.ok();

    // The server logged every request line, and the link's token in none.
    let log = std::fs::read_to_string(&harness.log).expect("the server log");
    assert!(log.contains("GET /reset-password"), "{log}");
    let leaks: Vec<&str> = log.lines().filter(|line| line.contains(&token)).collect();
    assert!(
        leaks.is_empty(),
        "the link token reached the log: {leaks:#?}"
    );
}
