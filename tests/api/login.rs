use rocket::http::Status;
use serde_json::{json, Value};

use crate::support::{assert_error, launch, spawn_app, spawn_app_with, test_figment, PASSWORD};

#[rocket::async_test]
async fn login_answers_a_bearer_token_pair() {
    let app = spawn_app().await;
    app.register("alice", "alice@example.com").await;
    let response = app.login("alice", PASSWORD).await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = response.into_json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["two_factor_required"], false);
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
    assert!(body["refresh_token"].as_str().unwrap().split('.').count() == 3);
    assert_ne!(body["access_token"], body["refresh_token"]);
}

#[rocket::async_test]
async fn login_accepts_username_or_email_in_any_case() {
    let app = spawn_app().await;
    app.register("alice", "alice@example.com").await;
    for login in ["ALICE", "Alice@Example.COM", " alice ", "ａｌｉｃｅ"] {
        assert_eq!(
            app.login(login, PASSWORD).await.status(),
            Status::Ok,
            "{login}"
        );
    }
}

#[rocket::async_test]
async fn wrong_password_and_unknown_login_are_indistinguishable() {
    let app = spawn_app().await;
    app.register("alice", "alice@example.com").await;
    let wrong = assert_error(
        app.login("alice", "wrong password").await,
        Status::Unauthorized,
        "invalid_credentials",
    )
    .await;
    let unknown = assert_error(
        app.login("nobody", PASSWORD).await,
        Status::Unauthorized,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong, unknown);
    let long = "x".repeat(5000);
    assert_error(
        app.login("alice", &long).await,
        Status::Unauthorized,
        "invalid_credentials",
    )
    .await;
}

#[rocket::async_test]
async fn an_inactive_account_is_refused_only_after_the_right_password() {
    let app = spawn_app().await;
    app.register("alice", "alice@example.com").await;
    sqlx::query("UPDATE accounts SET is_active = 0")
        .execute(&app.pool())
        .await
        .unwrap();
    assert_error(
        app.login("alice", "wrong password").await,
        Status::Unauthorized,
        "invalid_credentials",
    )
    .await;
    assert_error(
        app.login("alice", PASSWORD).await,
        Status::Forbidden,
        "account_inactive",
    )
    .await;
}

#[rocket::async_test]
async fn a_hash_with_old_parameters_is_upgraded_at_the_next_login() {
    let app = spawn_app().await;
    app.register("alice", "alice@example.com").await;
    let hash_of = || async {
        sqlx::query_scalar::<_, String>("SELECT password_hash FROM accounts")
            .fetch_one(&app.pool())
            .await
            .unwrap()
    };
    let before = hash_of().await;
    assert!(before.contains("m=512,t=1,p=1"), "{before}");

    // The same database, now served with stronger parameters.
    let stronger = launch(
        test_figment(&app.db.url)
            .merge(("gatehouse.argon2_memory_kib", 1024))
            .merge(("gatehouse.argon2_iterations", 2)),
        &app.clock,
    )
    .await;
    let response = stronger
        .post("/api/auth/login")
        .header(rocket::http::ContentType::JSON)
        .body(json!({"login": "alice", "password": PASSWORD}).to_string())
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    let after = hash_of().await;
    assert!(after.contains("m=1024,t=2,p=1"), "{after}");
    // And the upgraded hash still verifies.
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn login_without_a_body_is_a_clear_error() {
    let app = spawn_app().await;
    let response = app.client.post("/api/auth/login").dispatch().await;
    assert_error(response, Status::BadRequest, "invalid_json").await;
    let response = app.post("/api/auth/login", json!({"login": "alice"})).await;
    let body = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    assert_eq!(body["error"]["fields"]["password"], "is required");
}

#[rocket::async_test]
async fn past_the_hashing_queue_bound_a_login_is_answered_busy_at_once_and_costs_no_attempt() {
    let app = spawn_app_with(|f| {
        f.merge(("gatehouse.argon2_memory_kib", 8192))
            .merge(("gatehouse.argon2_iterations", 3))
            .merge(("gatehouse.hash_concurrency", 1))
            .merge(("gatehouse.hash_queue_max", 2))
    })
    .await;
    app.register("alice", "alice@example.com").await;
    let logins = (0..12).map(|_| async {
        let response = app.login("alice", "not the password").await;
        let status = response.status();
        let retry = response.headers().get_one("Retry-After").map(str::to_owned);
        let body: Value = response.into_json().await.unwrap();
        (status, retry, body)
    });
    let answers = rocket::futures::future::join_all(logins).await;
    let busy: Vec<_> = answers
        .iter()
        .filter(|a| a.0 == Status::ServiceUnavailable)
        .collect();
    assert!(busy.len() >= 8, "{answers:?}");
    for (_, retry, body) in &busy {
        assert_eq!(retry.as_deref(), Some("1"));
        assert_eq!(body["error"]["code"], "server_busy");
    }
    let checked = (answers.len() - busy.len()) as i64;
    assert_eq!(
        app.failed_logins("alice").await,
        checked,
        "a busy answer spends no attempt"
    );
}

#[rocket::async_test]
async fn an_account_deleted_while_it_logs_in_is_a_conflict_not_a_500() {
    let app = spawn_app().await;
    let state = app
        .client
        .rocket()
        .state::<gatehouse::app::App>()
        .expect("the app state");
    // What a login reaches after its password check if the account was deleted
    // meanwhile: the session's foreign key finds no account.
    app.register("alice", "alice@example.com").await;
    let id = app.account_id("alice").await;
    let mut gone = gatehouse::accounts::find_by_id(&app.pool(), id)
        .await
        .unwrap()
        .unwrap();
    gone.id = 987_654;
    let error = gatehouse::auth::open_session(
        state,
        &gone,
        false,
        gatehouse::auth::Proved::Password,
        &gatehouse::sessions::ClientInfo::default(),
    )
    .await
    .expect_err("no account to open a session for");
    assert_eq!(error.describe().status, Status::Conflict);
    assert!(!error.is_internal());
}
