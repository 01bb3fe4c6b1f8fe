use std::process::Command;

use rocket::figment::Figment;

use crate::support::{cookie_name, spawn_app, test_figment, SECRET};

fn error_of(figment: Figment) -> String {
    match gatehouse::rocket(figment) {
        Ok(_) => panic!("the settings were accepted"),
        Err(error) => error.to_string(),
    }
}

#[rocket::async_test]
async fn the_release_profile_refuses_to_start_without_a_strong_secret() {
    let app = spawn_app().await;
    let release = || test_figment(&app.db.url).select("release");
    let message = error_of(release().merge(("gatehouse.secret", "")));
    assert!(message.contains("GATEHOUSE_SECRET"), "{message}");
    let message = error_of(release().merge(("gatehouse.secret", "too-short")));
    assert!(
        message.contains("GATEHOUSE_SECRET") && message.contains("32"),
        "{message}"
    );
    let message = error_of(release().merge(("gatehouse.secret", "a".repeat(64))));
    assert!(message.contains("random"), "{message}");
    let without_key = || release().merge(("gatehouse.two_factor_key", ""));
    let message = error_of(without_key());
    assert!(message.contains("GATEHOUSE_TWO_FACTOR_KEY"), "{message}");
    let message = error_of(release().merge(("gatehouse.two_factor_key", SECRET)));
    assert!(message.contains("must differ"), "{message}");
    assert!(
        gatehouse::rocket(without_key().merge(("gatehouse.two_factor_enabled", false))).is_ok()
    );
    assert!(gatehouse::rocket(release()).is_ok());
}

#[rocket::async_test]
async fn the_debug_profile_makes_an_ephemeral_secret() {
    let app = spawn_app().await;
    let figment = test_figment(&app.db.url).merge(("gatehouse.secret", ""));
    let settings = gatehouse::settings(&figment).unwrap();
    assert!(settings.tokens.secret_is_ephemeral);
    assert!(settings.tokens.secret.len() >= 32);
    assert!(!format!("{settings:?}").contains("test-secret"));
}

#[rocket::async_test]
async fn invalid_settings_are_named() {
    let app = spawn_app().await;
    let base = || test_figment(&app.db.url);
    for (key, value, expected) in [
        (
            "gatehouse.access_ttl",
            serde_json::json!(0),
            "GATEHOUSE_ACCESS_TTL",
        ),
        (
            "gatehouse.leeway",
            serde_json::json!(61),
            "GATEHOUSE_LEEWAY",
        ),
        (
            "gatehouse.token_locations",
            serde_json::json!(["carrier-pigeon"]),
            "token_locations",
        ),
        (
            "gatehouse.token_locations",
            serde_json::json!([]),
            "GATEHOUSE_TOKEN_LOCATIONS",
        ),
        (
            "gatehouse.access_ttl",
            serde_json::json!("soon"),
            "access_ttl",
        ),
        (
            "gatehouse.argon2_memory_kib",
            serde_json::json!(1),
            "argon2",
        ),
        (
            "gatehouse.cookie_same_site",
            serde_json::json!("none"),
            "GATEHOUSE_COOKIE_SAME_SITE",
        ),
        ("gatehouse.acess_ttl", serde_json::json!(5), "acess_ttl"),
        // A part's keys are known through the part, and checked by it.
        (
            "gatehouse.two_factor_isuer",
            serde_json::json!("Acme"),
            "two_factor_isuer",
        ),
        (
            "gatehouse.two_factor_issuer",
            serde_json::json!("Acme:Prod"),
            "GATEHOUSE_TWO_FACTOR_ISSUER",
        ),
        (
            "gatehouse.two_factor_pending_ttl",
            serde_json::json!(5),
            "GATEHOUSE_TWO_FACTOR_PENDING_TTL",
        ),
        (
            "gatehouse.password_max_length",
            serde_json::json!(4),
            "GATEHOUSE_PASSWORD_MAX_LENGTH",
        ),
    ] {
        let figment = base().merge((key, value.clone()));
        let message = error_of(figment);
        assert!(message.contains(expected), "{key}={value}: {message}");
    }
}

#[test]
fn the_binary_reports_a_bad_setting_in_a_sentence_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(crate::support::binary())
        .current_dir(dir.path())
        .env("ROCKET_PROFILE", "release")
        .env_remove("GATEHOUSE_SECRET")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("x.db").display()),
        )
        .output()
        .expect("run the binary");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("GATEHOUSE_SECRET"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A Rocket.toml that is not TOML at all stops every command with one sentence naming
/// the line, exit 1, never a panic and never the line's text (it may hold a secret).
#[test]
fn a_broken_rocket_toml_is_one_sentence_without_its_text() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Rocket.toml"),
        "[default.gatehouse]\ntwo_factor_key = \"Sup3rS3cretValue-unterminated\n",
    )
    .unwrap();
    for args in [vec![], vec!["doctor"], vec!["accounts", "list"]] {
        let output = Command::new(crate::support::binary())
            .args(&args)
            .current_dir(dir.path())
            .env("RUST_BACKTRACE", "1")
            .env_remove("DATABASE_URL")
            .output()
            .expect("run the binary");
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("The configuration cannot be read") && stderr.contains("line 2"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("Sup3rS3cret"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
}

/// A default as Rocket.toml and the README write it: TOML, `none` where there is none.
fn toml_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "none".into(),
        serde_json::Value::Array(items) => format!(
            "[{}]",
            items.iter().map(toml_text).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

/// `value` with the app's name written as the placeholders the docs use: `<app>` (the
/// package name in snake case) and `<App>` (in words); unchanged when it has neither.
fn placeholders(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::String(text) => serde_json::Value::String(
            text.replace(&gatehouse::config::brand(), "<App>")
                .replace(&gatehouse::config::app_name(), "<app>"),
        ),
        other => other.clone(),
    }
}

/// Every documented default must be the code's, and every key documented, in the
/// `[default.gatehouse]` and `[release.gatehouse]` tables of Rocket.toml. Keys without
/// a default, and defaults named after the app, appear commented out (with `<app>` or
/// `<App>`): Rocket.toml never spells the app's name, so renaming the package needs no
/// edit there. A feature's table is optional; a key it sets must be the feature's.
#[test]
fn rocket_toml_lists_every_setting_with_the_codes_default() {
    use gatehouse::config::Profile;
    use gatehouse::setting_defaults as defaults;
    use rocket::figment::providers::{Format, Toml};
    use std::collections::BTreeMap;

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/Rocket.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let table = |profile: &str, name: &str| -> BTreeMap<String, serde_json::Value> {
        rocket::figment::Figment::from(Toml::file(path).nested())
            .select(profile)
            .extract_inner(name)
            .unwrap_or_default()
    };
    let commented = |key: &str, shown: &str| {
        text.lines()
            .any(|l| l.starts_with(&format!("# {key} = {shown}")))
    };
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let value = line.split_once('=').map_or("", |(_, v)| v);
        let value = value.split(" #").next().unwrap_or("");
        assert!(
            !value.contains(&gatehouse::config::app_name())
                && !value.contains(&gatehouse::config::brand()),
            "Rocket.toml spells the app's name in {line:?}: leave the default to the code"
        );
    }

    let code = defaults(Profile::Debug);
    let written = table("default", "gatehouse");
    for key in written.keys() {
        assert!(
            code.contains_key(key),
            "Rocket.toml sets `gatehouse.{key}`, which the code does not know"
        );
    }
    for (key, default) in &code {
        let shown = placeholders(default);
        match written.get(key) {
            Some(value) => assert_eq!(
                toml_text(value),
                toml_text(default),
                "Rocket.toml's `gatehouse.{key}` differs from the code's default"
            ),
            None if default.is_null() => assert!(
                commented(key, ""),
                "Rocket.toml leaves out `gatehouse.{key}` (a key without a default is listed commented out)"
            ),
            None => assert!(
                shown != *default && commented(key, &toml_text(&shown)),
                "Rocket.toml leaves out `gatehouse.{key}` (only a default named after the app \
                 is left out, commented out as {})",
                toml_text(&shown)
            ),
        }
    }
    let release = table("release", "gatehouse");
    for (key, default) in defaults(Profile::Release)
        .iter()
        .filter(|(_, d)| !d.is_null())
    {
        if placeholders(default) != *default {
            continue;
        }
        assert_eq!(
            release.get(key).or(written.get(key)).map(toml_text),
            Some(toml_text(default)),
            "Rocket.toml's release `gatehouse.{key}` differs from the code's release default"
        );
    }
    for feature in gatehouse::features::all() {
        let known = match feature.default_settings() {
            serde_json::Value::Object(keys) => keys,
            _ => Default::default(),
        };
        for profile in ["default", "release"] {
            for key in table(profile, feature.name()).keys() {
                assert!(
                    known.contains_key(key),
                    "Rocket.toml sets `{}.{key}`, which the feature does not know",
                    feature.name()
                );
            }
        }
    }
}

/// The rows of a settings table in Markdown (`| `key` | default | meaning |`), by key.
fn settings_rows(markdown: &str) -> std::collections::BTreeMap<String, String> {
    let mut rows = std::collections::BTreeMap::new();
    for line in markdown.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split(" | ").collect();
        let key = cells[0].trim_start_matches("| ").trim_matches('`');
        if key.contains(' ') || cells.len() < 3 || !cells[0].ends_with('`') {
            continue;
        }
        let cell = cells[1]
            .replace("<app>", &gatehouse::config::app_name())
            .replace("<App>", &gatehouse::config::brand());
        rows.insert(key.to_string(), cell);
    }
    rows
}

/// Checks that `rows` document every key of `expected` with its default (and its
/// release default where it differs), naming `document` in the failure.
fn check_rows(
    document: &str,
    rows: &std::collections::BTreeMap<String, String>,
    expected: &std::collections::BTreeMap<String, (serde_json::Value, Option<serde_json::Value>)>,
) {
    for (key, (default, release)) in expected {
        let Some(cell) = rows.get(key) else {
            panic!("{document}'s settings table leaves out `{key}`");
        };
        let shown = if default.is_null() {
            "none".to_string()
        } else {
            format!("`{}`", toml_text(default))
        };
        assert!(
            cell.starts_with(&shown),
            "{document} `{key}`: {cell:?} should start with {shown}"
        );
        if let Some(release) = release {
            assert!(
                cell.contains(&format!("(release: `{}`)", toml_text(release))),
                "{document} `{key}`: {cell:?} should give the release default"
            );
        }
    }
}

/// The book's configuration reference (`docs/src/configuration.md`: one row per key,
/// the default in backticks as TOML, `(release: …)` where it differs) names exactly
/// the keys of the `gatehouse` table.
#[test]
fn the_configuration_reference_lists_every_setting_with_the_codes_default() {
    use gatehouse::config::Profile;
    use gatehouse::setting_defaults as defaults;
    use std::collections::BTreeMap;

    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/src/configuration.md"
    ))
    .unwrap();
    let rows = settings_rows(&readme);
    let mut expected: BTreeMap<String, (serde_json::Value, Option<serde_json::Value>)> =
        BTreeMap::new();
    let release = defaults(Profile::Release);
    for (key, value) in defaults(Profile::Debug) {
        let differs = release.get(&key).filter(|r| **r != value).cloned();
        expected.insert(key, (value, differs));
    }
    check_rows("docs/src/configuration.md", &rows, &expected);
    let settings_rows = rows
        .keys()
        .filter(|key| {
            key.chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
        })
        .filter(|key| !expected.contains_key(*key));
    for key in settings_rows {
        // Other tables start with a backticked path or name too; only rows that look
        // like settings keys are held to the code.
        assert!(
            !readme.contains(&format!("| `{key}` | `"))
                && !readme.contains(&format!("| `{key}` | none")),
            "docs/src/configuration.md documents `{key}`, which the code does not know"
        );
    }
}

/// Each feature with settings lists them in its own folder,
/// `src/features/<name>/settings.md`: exactly its keys, with the code's defaults.
#[test]
fn each_feature_documents_its_settings_in_its_folder() {
    for feature in gatehouse::features::all() {
        let serde_json::Value::Object(keys) = feature.default_settings() else {
            continue;
        };
        let document = format!("src/features/{}/settings.md", feature.name());
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(&document);
        let Ok(markdown) = std::fs::read_to_string(&path) else {
            panic!(
                "the feature `{}` has settings but no {document}: list each key there \
                 (| `key` | `default` | meaning |)",
                feature.name()
            );
        };
        let rows = settings_rows(&markdown);
        let expected = keys
            .into_iter()
            .map(|(key, value)| (key, (value, None)))
            .collect();
        check_rows(&document, &rows, &expected);
        for key in rows.keys() {
            assert!(
                expected.contains_key(key),
                "{document} documents `{key}`, which the feature does not know"
            );
        }
    }
}

#[test]
fn without_rocket_toml_release_still_has_secure_host_cookies() {
    let figment = rocket::figment::Figment::new()
        .merge(("gatehouse.secret", SECRET))
        .merge(("gatehouse.two_factor_key", crate::support::TWO_FACTOR_KEY))
        .merge((
            "gatehouse.signing_key_secret",
            crate::support::SIGNING_KEY_SECRET,
        ))
        .merge(("gatehouse.mail_transport", "none"))
        .select("release");
    let settings = gatehouse::settings(&figment).expect("valid");
    assert!(settings.cookies.cookie_secure);
    assert_eq!(
        settings.cookies.access_cookie,
        format!("__Host-{}", cookie_name("access"))
    );
    let debug = gatehouse::settings(&rocket::figment::Figment::new().select("debug")).unwrap();
    assert!(!debug.cookies.cookie_secure);
    assert_eq!(debug.cookies.access_cookie, cookie_name("access"));
}

/// The release profile as a bare deployment gets it: no Rocket.toml, only the required
/// secrets and a database, the app built by the same path as `main`.
#[test]
fn release_without_rocket_toml_is_safe_by_the_code_s_defaults_alone() {
    use rocket::http::{ContentType, Header, Status};
    use rocket::local::blocking::Client;

    let dir = tempfile::tempdir().unwrap();
    // No Rocket.toml and no environment: only what the code itself defaults to, under
    // the release profile, with the secrets release requires.
    let figment = gatehouse::config::code_defaults()
        .select("release")
        .merge(("log_level", "off"))
        .merge(("gatehouse.secret", SECRET))
        .merge(("gatehouse.two_factor_key", crate::support::TWO_FACTOR_KEY))
        .merge((
            "gatehouse.signing_key_secret",
            crate::support::SIGNING_KEY_SECRET,
        ))
        .merge(("gatehouse.mail_transport", "none"))
        .merge((
            "databases.gatehouse.url",
            format!("sqlite://{}", dir.path().join("release.db").display()),
        ));
    {
        let rocket = gatehouse::rocket(figment).expect("release starts");
        let client = Client::tracked(rocket).expect("the app ignites");

        // Cookies: Secure, and __Host- names (no Domain, Path=/).
        let page = client.get("/login").dispatch();
        assert_eq!(page.status(), Status::Ok);
        let hsts = page.headers().get_one("Strict-Transport-Security");
        assert!(
            hsts.is_some_and(|h| h.contains("max-age=")),
            "HSTS: {hsts:?}"
        );
        let set_cookie: Vec<String> = page
            .headers()
            .get("Set-Cookie")
            .map(str::to_owned)
            .collect();
        let csrf = set_cookie
            .iter()
            .find(|c| c.starts_with(&format!("__Host-{}=", cookie_name("csrf"))))
            .unwrap_or_else(|| panic!("a __Host- csrf cookie: {set_cookie:?}"));
        assert!(csrf.contains("Secure") && csrf.contains("Path=/") && !csrf.contains("Domain"));

        // Bodies: JSON beyond 16 KiB is refused before any work.
        let big = format!(r#"{{"login":"{}","password":"x"}}"#, "a".repeat(17 * 1024));
        let response = client
            .post("/api/auth/login")
            .header(ContentType::JSON)
            .body(big)
            .dispatch();
        assert_eq!(response.status(), Status::PayloadTooLarge);

        // Addresses: headers a client writes are not believed.
        let account = serde_json::json!({
            "username": "alice", "email": "alice@example.com", "password": crate::support::PASSWORD
        });
        let created = client
            .post("/api/auth/register")
            .header(ContentType::JSON)
            .body(account.to_string())
            .dispatch();
        assert_eq!(created.status(), Status::Created);
        let login = client
            .post("/api/auth/login")
            .remote("127.0.0.9:4000".parse().unwrap())
            .header(Header::new("X-Real-IP", "203.0.113.5"))
            .header(Header::new("X-Forwarded-For", "203.0.113.6"))
            .header(ContentType::JSON)
            .body(r#"{"login":"alice","password":"correct horse battery"}"#)
            .dispatch();
        assert_eq!(login.status(), Status::Ok);
        let login_cookies: Vec<String> = login
            .headers()
            .get("Set-Cookie")
            .map(str::to_owned)
            .collect();
        let auth_cookies: Vec<&String> = login_cookies
            .iter()
            .filter(|c| c.contains("_access=") || c.contains("_refresh="))
            .collect();
        assert_eq!(auth_cookies.len(), 2, "{login_cookies:?}");
        assert!(
            auth_cookies.iter().all(|c| c.starts_with("__Host-")
                && c.contains("Secure")
                && c.contains("HttpOnly")),
            "{login_cookies:?}"
        );
        let body: serde_json::Value = login.into_json().unwrap();
        let sessions: serde_json::Value = client
            .get("/api/auth/sessions")
            .header(Header::new(
                "Authorization",
                format!("Bearer {}", body["access_token"].as_str().unwrap()),
            ))
            .dispatch()
            .into_json()
            .unwrap();
        assert_eq!(sessions["sessions"][0]["ip"], "127.0.0.9", "{sessions}");
    }
}

/// The README states the minimum Rust version Cargo.toml declares (`rust-version`).
#[test]
fn the_readme_states_the_minimum_rust_version() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let declared = env!("CARGO_PKG_RUST_VERSION");
    assert!(!declared.is_empty(), "Cargo.toml declares no rust-version");
    assert!(
        readme.contains(&format!("It needs Rust {declared} or newer")),
        "the README should say: It needs Rust {declared} or newer"
    );
}

/// Every `__` in a variable's name nests one level: `GATEHOUSE_A__B__C` sets `c` in
/// the table `b` of the section `a`, so a section's nested settings can be set from
/// the environment too. (The mapping itself: a figment Jail here would change the
/// process's directory and variables under the tests running beside it.)
#[test]
fn nested_settings_are_read_from_the_environment() {
    use gatehouse::config::env_key;
    assert_eq!(env_key("probe__limits__daily"), "probe.limits.daily");
    assert_eq!(env_key("notes__max_per_account"), "notes.max_per_account");
    assert_eq!(env_key("access_ttl"), "gatehouse.access_ttl");
    let figment = rocket::figment::Figment::from(rocket::figment::providers::Serialized::default(
        &env_key("probe__limits__daily"),
        12,
    ));
    let daily: u32 = figment.extract_inner("probe.limits.daily").unwrap();
    assert_eq!(daily, 12);
}
