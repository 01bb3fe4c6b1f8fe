//! The seam for the app's own features: names that cannot clash, and migrations that
//! never collide with Gatehouse's own, applied beside them on one database.

use std::borrow::Cow;

use gatehouse::config::ConfigError;
use gatehouse::db::Backend;
use gatehouse::feature::{check_names, migrate, Feature, Setup};
use rocket::fairing::AdHoc;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::support::{spawn_app, TestApp};

/// A feature with a name and, optionally, one migration.
struct Probe {
    name: &'static str,
    migration: Option<(i64, &'static str)>,
}

impl Feature for Probe {
    fn name(&self) -> &'static str {
        self.name
    }

    fn stage(&self, _setup: &Setup<'_>) -> Result<AdHoc, ConfigError> {
        Ok(AdHoc::on_ignite("probe", |rocket| async { rocket }))
    }

    fn migrator(&self, _backend: Backend) -> Option<Migrator> {
        let (version, sql) = self.migration?;
        let migration = Migration::new(
            version,
            Cow::Borrowed("probe"),
            MigrationType::Simple,
            Cow::Borrowed(sql),
            false,
        );
        Some(Migrator {
            migrations: Cow::Owned(vec![migration]),
            ..Migrator::DEFAULT
        })
    }
}

fn probe(name: &'static str) -> &'static dyn Feature {
    Box::leak(Box::new(Probe {
        name,
        migration: None,
    }))
}

#[test]
fn feature_names_must_be_well_formed_free_and_distinct() {
    let parts = gatehouse::parts::all();
    assert!(check_names(&parts, &gatehouse::features::all()).is_ok());
    assert!(check_names(&parts, &[probe("shop"), probe("blog_2")]).is_ok());
    for (features, problem) in [
        (vec![probe("Shop")], "lower-case"),
        (vec![probe("2shop")], "lower-case"),
        (vec![probe("my-shop")], "lower-case"),
        (vec![probe("limits")], "taken"),
        (vec![probe("gatehouse")], "taken"),
        (vec![probe("accounts")], "taken"),
        (vec![probe("two_factor")], "taken"),
        (vec![probe("admin")], "taken"),
        (vec![probe("shop"), probe("shop")], "twice"),
    ] {
        let message = check_names(&parts, &features).unwrap_err().to_string();
        assert!(message.contains(problem), "{message}");
    }
}

async fn pool_of(app: &TestApp) -> gatehouse::db::DbPool {
    app.client
        .rocket()
        .state::<gatehouse::app::App>()
        .expect("the app state")
        .db
        .clone()
}

#[rocket::async_test]
async fn a_features_migrations_run_beside_gatehouses_and_are_numbered_above_them() {
    let app = spawn_app().await;
    let db = pool_of(&app).await;
    let shop: &'static dyn Feature = Box::leak(Box::new(Probe {
        name: "shop",
        migration: Some((
            20990101000000,
            "CREATE TABLE shop_items (id BIGINT PRIMARY KEY NOT NULL)",
        )),
    }));
    migrate(&db, &[shop])
        .await
        .expect("a well-numbered migration applies");
    migrate(&db, &[shop]).await.expect("and is applied once");
    sqlx::query("INSERT INTO shop_items (id) VALUES (1)")
        .execute(&db.pool)
        .await
        .expect("the feature's table exists");
    // Gatehouse's own migrator ignores the feature's row, and the app still starts.
    migrate(&db, &gatehouse::installed())
        .await
        .expect("Gatehouse's migrations ignore the feature's");

    let clash: &'static dyn Feature = Box::leak(Box::new(Probe {
        name: "clash",
        migration: Some((5, "CREATE TABLE clash (id BIGINT)")),
    }));
    let message = migrate(&db, &[clash]).await.unwrap_err().to_string();
    assert!(message.contains("10000"), "{message}");
    let twice: &'static dyn Feature = Box::leak(Box::new(Probe {
        name: "twice",
        migration: Some((20990101000000, "CREATE TABLE twice (id BIGINT)")),
    }));
    let message = migrate(&db, &[shop, twice]).await.unwrap_err().to_string();
    assert!(message.contains("differ"), "{message}");
}
