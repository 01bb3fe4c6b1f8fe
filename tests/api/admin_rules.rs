//! Admin rules that hold under concurrency: staff act on regular accounts only, and
//! the last active superuser cannot be demoted, deactivated, blocked or deleted, even
//! by two superusers acting on each other at the same moment, nor from the CLI.

use rocket::http::Status;
use serde_json::json;

use crate::cli::{assert_fails, gatehouse, run};
use crate::support::{assert_error, spawn_app};

#[rocket::async_test]
async fn staff_act_on_regular_accounts_only() {
    let app = spawn_app().await;
    let staff = app.signed_in_admin("stella", false).await;
    let root = app.signed_in_admin("root", true).await;
    app.signed_in_admin("colleague", false).await;
    let colleague = app.account_id("colleague").await;
    let block = json!({"reason": "testing"});
    let attempts = [
        app.post_bearer(
            &format!("/api/admin/accounts/{colleague}/block"),
            &staff.access,
            Some(block.clone()),
        )
        .await,
        app.post_bearer(
            &format!("/api/admin/accounts/{colleague}/unlock"),
            &staff.access,
            None,
        )
        .await,
        app.patch_bearer(
            &format!("/api/admin/accounts/{colleague}"),
            &staff.access,
            json!({"is_active": false}),
        )
        .await,
    ];
    for response in attempts {
        assert_error(response, Status::Forbidden, "forbidden").await;
    }
    // A regular account is theirs to act on; staff are the superuser's.
    app.register("user", "user@example.com").await;
    let user = app.account_id("user").await;
    let response = app
        .post_bearer(
            &format!("/api/admin/accounts/{user}/unlock"),
            &staff.access,
            None,
        )
        .await;
    assert_eq!(response.status(), Status::Ok);
    let response = app
        .post_bearer(
            &format!("/api/admin/accounts/{colleague}/block"),
            &root.access,
            Some(block),
        )
        .await;
    assert_eq!(response.status(), Status::Ok);
}

async fn active_superusers(app: &crate::support::TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM accounts WHERE is_superuser = 1 AND is_active = 1 AND blocked_at IS NULL",
    )
    .fetch_one(&app.pool())
    .await
    .unwrap()
}

#[rocket::async_test]
async fn two_superusers_removing_each_other_at_once_leave_one() {
    let app = spawn_app().await;
    // Each round: two superusers, each demoting, deactivating, blocking or deleting the
    // other at the same moment.
    for round in 0..8 {
        let (a, b) = (format!("alpha{round}"), format!("bravo{round}"));
        let alpha = app.signed_in_admin(&a, true).await;
        let bravo = app.signed_in_admin(&b, true).await;
        sqlx::query("UPDATE accounts SET is_superuser = 0 WHERE username_key NOT IN ($1, $2)")
            .bind(&a)
            .bind(&b)
            .execute(&app.pool())
            .await
            .unwrap();
        let (ida, idb) = (app.account_id(&a).await, app.account_id(&b).await);
        let act = |token: String, target: i64| {
            let app = &app;
            async move {
                let uri = format!("/api/admin/accounts/{target}");
                match round % 4 {
                    0 => app
                        .patch_bearer(&uri, &token, json!({"is_superuser": false}))
                        .await
                        .status(),
                    1 => app
                        .patch_bearer(&uri, &token, json!({"is_active": false}))
                        .await
                        .status(),
                    2 => app
                        .post_bearer(
                            &format!("{uri}/block"),
                            &token,
                            Some(json!({"reason": "coup"})),
                        )
                        .await
                        .status(),
                    _ => app.delete_bearer(&uri, &token).await.status(),
                }
            }
        };
        let (first, second) = rocket::tokio::join!(
            act(alpha.access.clone(), idb),
            act(bravo.access.clone(), ida)
        );
        assert_eq!(
            active_superusers(&app).await,
            1,
            "round {round}: {first} / {second}"
        );
        let succeeded = [first, second].iter().filter(|s| s.code < 300).count();
        assert_eq!(succeeded, 1, "round {round}: {first} / {second}");
        // The other was refused: 409 (last superuser, or changed meanwhile), or its
        // actor was already blocked, deleted or demoted (401/403).
        assert!([first, second]
            .iter()
            .all(|s| s.code < 300 || (400..500).contains(&s.code)));
    }
}

#[rocket::async_test]
async fn the_cli_cannot_remove_the_last_superuser_either() {
    let app = spawn_app().await;
    app.signed_in_admin("root", true).await;
    let blocked = run(
        gatehouse(&app.db, &["accounts", "block", "root", "--reason", "oops"]),
        "",
    );
    assert_fails(&blocked, "last active superuser");
    let deleted = run(
        gatehouse(&app.db, &["accounts", "delete", "root", "--yes"]),
        "",
    );
    assert_fails(&deleted, "last active superuser");
    assert_eq!(active_superusers(&app).await, 1);
}
