//! The SQLite and PostgreSQL migrations (Gatehouse's and the features') must build
//! the same tables with the same columns and nullability: the code reads both alike.

use std::collections::BTreeMap;

use sqlx::AnyPool;

use crate::support::{postgres_url, spawn_app_on, TestDatabase};

type Schema = BTreeMap<String, BTreeMap<String, bool>>;

/// Table → column → NOT NULL, for the database behind `pool`.
async fn schema_of(pool: &AnyPool, sqlite: bool) -> Schema {
    let rows: Vec<(String, String, bool)> = if sqlite {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        // A full-text index (FTS5) is SQLite's own way to search: its virtual table
        // and shadow tables stand where PostgreSQL has indexes, not tables.
        let virtual_tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let is_index = |table: &str| {
            virtual_tables
                .iter()
                .any(|name| table == name || table.starts_with(&format!("{name}_")))
        };
        let mut rows = Vec::new();
        for table in tables.into_iter().filter(|table| !is_index(table)) {
            let columns: Vec<(String, i64, i64)> =
                sqlx::query_as("SELECT name, \"notnull\", pk FROM pragma_table_info($1)")
                    .bind(&table)
                    .fetch_all(pool)
                    .await
                    .unwrap();
            for (column, not_null, pk) in columns {
                rows.push((table.clone(), column, not_null != 0 || pk != 0));
            }
        }
        rows
    } else {
        let columns: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text, is_nullable::text \
             FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        columns
            .into_iter()
            .map(|(table, column, nullable)| (table, column, nullable == "NO"))
            .collect()
    };
    let mut schema = Schema::new();
    for (table, column, not_null) in rows {
        schema.entry(table).or_default().insert(column, not_null);
    }
    schema
}

#[rocket::async_test]
async fn both_backends_build_the_same_tables_and_columns() {
    if postgres_url().is_none() {
        eprintln!("schema comparison skipped: it needs TEST_DATABASE_URL (the PostgreSQL run)");
        return;
    }
    // The app applies every migration on start; one app per backend.
    let postgres = TestDatabase::new().await;
    let postgres_app = spawn_app_on(postgres, |f| f).await;
    let sqlite_dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", sqlite_dir.path().join("schema.db").display());
    let sqlite_app = crate::support::launch(
        crate::support::test_figment(&sqlite_url),
        &gatehouse::clock::ManualClock::new(),
    )
    .await;
    let sqlite_pool = sqlite_app
        .rocket()
        .state::<gatehouse::app::App>()
        .unwrap()
        .pool()
        .clone();
    let postgres_schema = schema_of(&postgres_app.pool(), false).await;
    let sqlite_schema = schema_of(&sqlite_pool, true).await;
    assert!(postgres_schema.contains_key("accounts") && postgres_schema.contains_key("notes"));
    assert_eq!(sqlite_schema, postgres_schema);
}

/// `(table, on delete)` of every foreign key to `accounts`, for the database behind
/// `pool`.
async fn references_to_accounts(pool: &AnyPool, sqlite: bool) -> Vec<(String, String)> {
    if sqlite {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let mut found = Vec::new();
        for table in tables {
            let keys: Vec<(String, String)> = sqlx::query_as(&format!(
                "SELECT \"table\", on_delete FROM pragma_foreign_key_list('{table}')"
            ))
            .fetch_all(pool)
            .await
            .unwrap();
            found.extend(
                keys.into_iter()
                    .filter(|(target, _)| target == "accounts")
                    .map(|(_, rule)| (table.clone(), rule)),
            );
        }
        found
    } else {
        sqlx::query_as(
            "SELECT kcu.table_name::TEXT, rc.delete_rule::TEXT \
             FROM information_schema.referential_constraints rc \
             JOIN information_schema.key_column_usage kcu \
               ON kcu.constraint_name = rc.constraint_name \
             JOIN information_schema.constraint_column_usage ccu \
               ON ccu.constraint_name = rc.unique_constraint_name \
             WHERE ccu.table_name = 'accounts'",
        )
        .fetch_all(pool)
        .await
        .unwrap()
    }
}

/// Deleting an account deletes its rows by foreign-key cascade (or keeps a row that
/// merely names it, with the name cleared): no foreign key to `accounts` may block
/// the deletion or leave a dangling id. Features' tables included.
#[rocket::async_test]
async fn every_foreign_key_to_accounts_cascades_or_sets_null() {
    let db = TestDatabase::new().await;
    let sqlite = db.url.starts_with("sqlite:");
    let app = spawn_app_on(db, |f| f).await;
    let references = references_to_accounts(&app.pool(), sqlite).await;
    let tables: Vec<&str> = references.iter().map(|(table, _)| table.as_str()).collect();
    for expected in [
        "sessions",
        "recovery_codes",
        "email_tokens",
        "notes",
        "accounts",
    ] {
        assert!(tables.contains(&expected), "{expected} in {references:?}");
    }
    for (table, rule) in &references {
        assert!(
            rule.eq_ignore_ascii_case("CASCADE") || rule.eq_ignore_ascii_case("SET NULL"),
            "{table}: ON DELETE {rule}"
        );
    }
}
