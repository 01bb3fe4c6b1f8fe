//! Settings read from the process environment. `figment::Jail` sets variables and
//! changes the working directory for the whole process while it runs, so these tests
//! live in a binary of their own: beside the main suite, a concurrent test or a CLI
//! child process would see the jail's variables.

#[test]
#[allow(clippy::result_large_err)] // figment::Jail's closure type, not ours
fn lockout_settings_come_from_the_environment() {
    rocket::figment::Jail::expect_with(|jail| {
        jail.set_env("GATEHOUSE_LOCKOUT_MAX_ATTEMPTS", "3");
        jail.set_env("GATEHOUSE_LOCKOUT_DURATION", "0");
        let settings = gatehouse::settings(&gatehouse::figment()).unwrap();
        assert_eq!(settings.lockout.lockout_max_attempts, 3);
        assert_eq!(settings.lockout.lockout_duration, None);
        jail.set_env("GATEHOUSE_LOCKOUT_DURATION", "60");
        let settings = gatehouse::settings(&gatehouse::figment()).unwrap();
        assert_eq!(settings.lockout.lockout_duration, Some(60));
        jail.set_env("GATEHOUSE_LOCKOUT_MAX_ATTEMPTS", "5000");
        let error = match gatehouse::settings(&gatehouse::figment()) {
            Ok(_) => panic!("5000 attempts were accepted"),
            Err(error) => error.to_string(),
        };
        assert!(error.contains("GATEHOUSE_LOCKOUT_MAX_ATTEMPTS"), "{error}");
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)] // figment::Jail's closure type, not ours
fn environment_variables_override_rocket_toml() {
    rocket::figment::Jail::expect_with(|jail| {
        jail.set_env("GATEHOUSE_ACCESS_TTL", "300");
        jail.set_env("GATEHOUSE_REGISTRATION_OPEN", "false");
        jail.set_env("DATABASE_URL", "postgres://db.internal/app");
        let figment = gatehouse::figment();
        let settings = gatehouse::settings(&figment).expect("valid");
        assert_eq!(settings.tokens.access_ttl, 300);
        assert!(!settings.service.registration_open);
        let url: String = figment.extract_inner("databases.gatehouse.url").unwrap();
        assert_eq!(url, "postgres://db.internal/app");
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)] // figment::Jail's closure type, not ours
fn without_rocket_toml_bodies_are_bounded_and_no_address_header_is_trusted() {
    rocket::figment::Jail::expect_with(|jail| {
        // The jail's folder has no Rocket.toml.
        jail.set_env("ROCKET_PROFILE", "release");
        let config: rocket::Config = gatehouse::figment().extract().expect("a valid config");
        assert_eq!(
            config.limits.get("json"),
            Some(rocket::data::ToByteUnit::kibibytes(16))
        );
        assert_eq!(config.ip_header, None);
        // Rocket.toml and ROCKET_* still decide when they speak.
        jail.set_env("ROCKET_LIMITS", "{json=\"64 KiB\"}");
        let config: rocket::Config = gatehouse::figment().extract().unwrap();
        assert_eq!(
            config.limits.get("json"),
            Some(rocket::data::ToByteUnit::kibibytes(64))
        );
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)] // figment::Jail's closure type, not ours
fn a_features_section_is_read_from_the_environment() {
    rocket::figment::Jail::expect_with(|jail| {
        jail.set_env("GATEHOUSE_SHOP__LIMITS__PER_ACCOUNT", "7");
        let figment = gatehouse::figment();
        let max: u32 = figment.extract_inner("shop.limits.per_account").unwrap();
        assert_eq!(max, 7);
        Ok(())
    });
}
