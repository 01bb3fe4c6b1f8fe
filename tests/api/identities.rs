//! Identities that cannot impersonate: usernames keep to one script (UTS #39 highly
//! restrictive) and a look-alike of an existing username (same confusable skeleton)
//! is taken, also when both are registered at the same moment.

use rocket::futures::future::join_all;
use rocket::http::Status;
use serde_json::json;

use crate::support::{assert_error, launch, spawn_app, test_figment, PASSWORD};

async fn register(app: &crate::support::TestApp, username: &str, email: &str) -> Status {
    app.post(
        "/api/auth/register",
        json!({"username": username, "email": email, "password": PASSWORD}),
    )
    .await
    .status()
}

#[rocket::async_test]
async fn mixed_scripts_are_refused_and_look_alikes_are_taken() {
    let app = spawn_app().await;
    app.register("root", "root@example.com").await;
    let response = app
        .post(
            "/api/auth/register",
            json!({"username": "r\u{043e}ot", "email": "mallory@example.com", "password": PASSWORD}),
        )
        .await;
    let body = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    assert!(body["error"]["fields"]["username"]
        .as_str()
        .unwrap()
        .contains("scripts"));

    app.register("coco", "coco@example.com").await;
    // All Cyrillic: one script, but it reads "coco".
    let response = app
        .post(
            "/api/auth/register",
            json!({"username": "\u{0441}\u{043e}\u{0441}\u{043e}", "email": "c2@example.com", "password": PASSWORD}),
        )
        .await;
    assert_error(response, Status::Conflict, "conflict").await;
    // A capital I passing for a small l.
    app.register("paypal", "paypal@example.com").await;
    assert_eq!(
        register(&app, "paypaI", "p2@example.com").await,
        Status::Conflict
    );
    // Names in other scripts that look like nothing registered are welcome.
    assert_eq!(
        register(
            &app,
            "\u{0430}\u{043b}\u{0438}\u{0441}\u{0430}",
            "alisa@example.com"
        )
        .await,
        Status::Created
    );
}

#[rocket::async_test]
async fn of_look_alikes_registered_at_once_exactly_one_gets_the_name() {
    let app = spawn_app().await;
    // Latin and Cyrillic spellings of one shape, each a single script, in two cases.
    let names = [
        "coco",
        "\u{0441}\u{043e}\u{0441}\u{043e}",
        "COCO",
        "\u{0421}\u{041e}\u{0421}\u{041e}",
    ];
    let attempts = (0..12).map(|i| {
        let name = names[i % names.len()];
        let app = &app;
        async move { register(app, name, &format!("user{i}@example.com")).await }
    });
    let statuses = join_all(attempts).await;
    let created = statuses.iter().filter(|s| **s == Status::Created).count();
    let taken = statuses.iter().filter(|s| **s == Status::Conflict).count();
    assert_eq!((created, taken), (1, 11), "{statuses:?}");
}

#[rocket::async_test]
async fn accounts_from_before_skeletons_get_one_and_a_colliding_later_one_keeps_working() {
    let app = spawn_app().await;
    app.register("coco", "coco@example.com").await;
    app.register("bob", "bob@example.com").await;
    // As an older version left them: no skeletons, and a look-alike that slipped in.
    sqlx::query("UPDATE accounts SET username_skeleton = NULL")
        .execute(&app.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE accounts SET username = $1, username_key = $1 WHERE username_key = 'bob'")
        .bind("\u{0441}\u{043e}\u{0441}\u{043e}")
        .execute(&app.pool())
        .await
        .unwrap();
    // The next start fills them in, oldest first.
    let restarted = launch(test_figment(&app.db.url), &app.clock).await;
    let skeletons: Vec<Option<String>> =
        sqlx::query_scalar("SELECT username_skeleton FROM accounts ORDER BY id")
            .fetch_all(&app.pool())
            .await
            .unwrap();
    assert_eq!(skeletons, [Some("coco".to_string()), None]);
    let login = restarted
        .post("/api/auth/login")
        .header(rocket::http::ContentType::JSON)
        .body(
            json!({"login": "\u{0441}\u{043e}\u{0441}\u{043e}", "password": PASSWORD}).to_string(),
        )
        .dispatch()
        .await;
    assert_eq!(login.status(), Status::Ok, "the later account still works");
}
