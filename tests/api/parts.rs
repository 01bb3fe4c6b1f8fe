//! The hooks of the seam, through a probe installed after the listed parts and
//! features (`gatehouse::rocket_with`): its state in the registry, its claims (and
//! the per-part cap), its page slots and sections, its way to sign in, its export,
//! and the call after a deletion. The two real parts use the same hooks; their own
//! suites (two_factor, admin) test them.

use std::sync::{Arc, Mutex};

use gatehouse::clock::ManualClock;
use gatehouse::prelude::*;
use rocket::local::asynchronous::Client;
use serde_json::{json, Map};

use crate::support::{browser_login, page, test_figment, TestApp, TestDatabase};

/// Accounts deleted while the probe was installed (all tests share it: each looks
/// for its own account's id).
static DELETED: Mutex<Vec<i64>> = Mutex::new(Vec::new());

struct Probe;

/// What the probe keeps in the registry, read back by its route.
struct ProbeState(&'static str);

#[get("/state")]
fn probe_state(app: &State<App>, _me: AuthAccount) -> String {
    app.registry
        .get::<ProbeState>()
        .map_or("missing", |state| state.0)
        .to_string()
}

#[rocket::async_trait]
impl Feature for Probe {
    fn name(&self) -> &'static str {
        // Not `probe`: the template test adds a feature of that name.
        "hook_probe"
    }

    fn stage(&self, _setup: &Setup<'_>) -> Result<AdHoc, ConfigError> {
        Ok(AdHoc::on_ignite("Probe", |rocket| async move {
            rocket.mount("/hook-probe", routes![probe_state])
        }))
    }

    fn start(&self, _setup: &Setup<'_>, registry: &mut Registry) -> Result<(), ConfigError> {
        registry.insert(ProbeState("started"));
        Ok(())
    }

    async fn claims(
        &self,
        _app: &App,
        subject: &TokenSubject<'_>,
    ) -> Result<Map<String, Value>, AppError> {
        let mut claims = Map::new();
        claims.insert("hook_probe".into(), json!(subject.account.username));
        // Gatehouse's own claims are never overridden.
        claims.insert("sub".into(), json!("forged"));
        claims.insert("roles".into(), json!(["forged"]));
        Ok(claims)
    }

    async fn section(
        &self,
        _app: &App,
        slot: Slot,
        context: &SectionContext<'_>,
    ) -> Result<Option<String>, AppError> {
        let who = context.account.map_or("nobody", |a| a.username.as_str());
        Ok(Some(format!(
            "<p class=\"probe\">probe {slot:?} for {who} ({})</p>",
            context.csrf.len()
        )))
    }

    async fn signs_in(&self, _app: &App, account: &AccountRow) -> Result<bool, AppError> {
        Ok(account.username.starts_with("key"))
    }

    async fn account_deleted(&self, _app: &App, account_id: i64) -> Result<(), AppError> {
        DELETED.lock().unwrap().push(account_id);
        Ok(())
    }

    async fn export(&self, _app: &App, account: &AccountRow) -> Result<Option<Value>, AppError> {
        Ok(Some(json!({ "seen": account.username })))
    }
}

/// A probe whose claims are over the cap: dropped, and never the others'.
struct Bulky;

#[rocket::async_trait]
impl Feature for Bulky {
    fn name(&self) -> &'static str {
        "bulky_probe"
    }

    fn stage(&self, _setup: &Setup<'_>) -> Result<AdHoc, ConfigError> {
        Ok(AdHoc::on_ignite("Bulky", |rocket| async move { rocket }))
    }

    async fn claims(
        &self,
        _app: &App,
        _subject: &TokenSubject<'_>,
    ) -> Result<Map<String, Value>, AppError> {
        let mut claims = Map::new();
        claims.insert("bulk".into(), json!("x".repeat(2000)));
        Ok(claims)
    }
}

/// The app with both probes; `browser`: a client that keeps cookies, as pages need.
async fn app_with_probes_as(browser: bool) -> TestApp {
    let db = TestDatabase::new().await;
    let clock = ManualClock::new();
    let rocket = gatehouse::rocket_with(
        test_figment(&db.url),
        Arc::new(clock.clone()),
        vec![&Probe, &Bulky],
    )
    .expect("valid test settings");
    let client = if browser {
        Client::tracked(rocket).await
    } else {
        Client::untracked(rocket).await
    };
    let client = client.expect("the app starts");
    TestApp { client, clock, db }
}

async fn app_with_probes() -> TestApp {
    app_with_probes_as(false).await
}

fn payload(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

async fn id_of(app: &TestApp, username: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM accounts WHERE username_key = $1")
        .bind(username)
        .fetch_one(&app.pool())
        .await
        .unwrap()
}

#[rocket::async_test]
async fn a_parts_start_fills_the_registry_its_routes_read() {
    let app = app_with_probes().await;
    let session = app.signed_in("alice").await;
    let response = app.get_bearer("/hook-probe/state", &session.access).await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.into_string().await.unwrap(), "started");
}

#[rocket::async_test]
async fn each_part_adds_its_claims_and_an_oversized_set_drops_only_its_own() {
    let app = app_with_probes().await;
    let staff = app.signed_in_admin("boss", false).await;
    let claims = payload(&staff.access);
    assert_eq!(claims["hook_probe"], "boss", "{claims}");
    assert_eq!(
        claims["roles"],
        json!(["staff"]),
        "the admin part's, listed first"
    );
    assert_ne!(claims["sub"], "forged", "Gatehouse's own claims stand");
    assert!(claims.get("bulk").is_none(), "over the cap: {claims}");
    // At refresh too, and in introspection's view of the account now.
    let refreshed = app
        .post(
            "/api/auth/refresh",
            json!({ "refresh_token": staff.refresh }),
        )
        .await;
    let body: Value = refreshed.into_json().await.unwrap();
    let claims = payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["hook_probe"], "boss", "{claims}");
    assert!(claims.get("bulk").is_none());
}

#[rocket::async_test]
async fn parts_render_into_the_login_registration_account_and_admin_pages() {
    let app = app_with_probes_as(true).await;
    let (_, login) = page(&app, "/login").await;
    assert!(login.contains("probe Login for nobody ("), "{login}");
    let (_, register) = page(&app, "/register").await;
    assert!(
        register.contains("probe Registration for nobody"),
        "{register}"
    );
    // The section's HTML is the part's, not escaped again; the CSRF token is given.
    assert!(!login.contains("probe Login for nobody (0)"));

    let admin = app.signed_in_admin("root", true).await;
    drop(admin);
    browser_login(&app, "root").await;
    let (_, account) = page(&app, "/account").await;
    assert!(
        account.contains("<p class=\"probe\">probe AccountPage for root"),
        "{account}"
    );
    assert!(
        account.contains("Two-factor authentication"),
        "the TOTP part's section"
    );

    app.register("keyholder", "keyholder@example.com").await;
    let id = id_of(&app, "keyholder").await;
    let (status, view) = page(&app, &format!("/admin/accounts/{id}")).await;
    assert_eq!(status, Status::Ok);
    assert!(
        view.contains("probe AdminAccountView for keyholder"),
        "{view}"
    );
    assert!(
        view.contains("Signs in with: password, hook_probe."),
        "{view}"
    );
    let own = id_of(&app, "root").await;
    let (_, view) = page(&app, &format!("/admin/accounts/{own}")).await;
    assert!(view.contains("Signs in with: password."), "{view}");
}

#[rocket::async_test]
async fn the_export_holds_each_parts_data_and_no_secret() {
    let app = app_with_probes().await;
    let session = app.signed_in("carol").await;
    let note = json!({ "title": "Groceries", "body": "Eggs" });
    let created = app
        .post_bearer("/api/notes", &session.access, Some(note))
        .await;
    assert_eq!(created.status(), Status::Created);
    let response = app.get_bearer("/api/auth/me/export", &session.access).await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = response.into_json().await.unwrap();
    assert_eq!(body["account"]["username"], "carol", "{body}");
    assert_eq!(body["parts"]["hook_probe"], json!({ "seen": "carol" }));
    assert_eq!(body["parts"]["two_factor"]["enabled"], false);
    assert_eq!(body["parts"]["notes"][0]["title"], "Groceries", "{body}");
    // Without a recent proof, no export.
    app.clock.advance(3600);
    let stale = app.get_bearer("/api/auth/me/export", &session.access).await;
    assert_ne!(stale.status(), Status::Ok);
    let text = body.to_string();
    assert!(
        !text.contains("argon2") && !text.contains("password_hash"),
        "{text}"
    );
}

#[rocket::async_test]
async fn a_deletion_reaches_every_part_after_it_is_done() {
    let app = app_with_probes().await;
    let root = app.signed_in_admin("root", true).await;
    app.register("doomed", "doomed@example.com").await;
    let id = id_of(&app, "doomed").await;
    let response = app
        .client
        .delete(format!("/api/admin/accounts/{id}"))
        .header(crate::support::bearer(&root.access))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::NoContent);
    assert!(DELETED.lock().unwrap().contains(&id));
    // A refused deletion (oneself) calls nothing.
    let own = id_of(&app, "root").await;
    let response = app
        .client
        .delete(format!("/api/admin/accounts/{own}"))
        .header(crate::support::bearer(&root.access))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Forbidden);
    assert!(!DELETED.lock().unwrap().contains(&own));
}
