use std::process::Command;

use gatehouse::config::Settings;
use rocket::figment::Figment;

use crate::support::{spawn_app, test_figment, SECRET};

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
    let settings = Settings::from_figment(&figment).unwrap();
    assert!(settings.secret_is_ephemeral);
    assert!(settings.secret.len() >= 32);
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
#[allow(clippy::result_large_err)] // figment::Jail's closure type, not ours
fn environment_variables_override_rocket_toml() {
    rocket::figment::Jail::expect_with(|jail| {
        jail.set_env("GATEHOUSE_ACCESS_TTL", "300");
        jail.set_env("GATEHOUSE_REGISTRATION_OPEN", "false");
        jail.set_env("DATABASE_URL", "postgres://db.internal/app");
        let figment = gatehouse::figment();
        let settings = Settings::from_figment(&figment).expect("valid");
        assert_eq!(settings.access_ttl, 300);
        assert!(!settings.registration_open);
        let url: String = figment.extract_inner("databases.gatehouse.url").unwrap();
        assert_eq!(url, "postgres://db.internal/app");
        Ok(())
    });
}

#[test]
fn the_binary_reports_a_bad_setting_in_a_sentence_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
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
