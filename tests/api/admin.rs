//! The admin API under /api/admin: who may use it, listing and paging, role changes,
//! deletion and the audit trail.

use rocket::http::{Header, Status};
use serde_json::{json, Value};

use crate::support::{assert_error, spawn_app, PASSWORD};

#[rocket::async_test]
async fn only_staff_reach_the_admin_api() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let id = app.account_id("alice").await;
    let response = app.client.get("/api/admin/accounts").dispatch().await;
    assert_error(response, Status::Unauthorized, "missing_token").await;

    let gets = [
        "/api/admin/accounts".to_string(),
        format!("/api/admin/accounts/{id}"),
        format!("/api/admin/accounts/{id}/events"),
    ];
    for uri in &gets {
        assert_error(
            app.get_bearer(uri, &alice.access).await,
            Status::Forbidden,
            "forbidden",
        )
        .await;
    }
    for action in ["block", "unblock", "unlock"] {
        let uri = format!("/api/admin/accounts/{id}/{action}");
        let body = Some(json!({"reason": "x"}));
        assert_error(
            app.post_bearer(&uri, &alice.access, body).await,
            Status::Forbidden,
            "forbidden",
        )
        .await;
    }
    let uri = format!("/api/admin/accounts/{id}");
    assert_error(
        app.patch_bearer(&uri, &alice.access, json!({"is_staff": true}))
            .await,
        Status::Forbidden,
        "forbidden",
    )
    .await;
    assert_error(
        app.delete_bearer(&uri, &alice.access).await,
        Status::Forbidden,
        "forbidden",
    )
    .await;
}

#[rocket::async_test]
async fn accounts_are_listed_by_page_and_search() {
    let app = spawn_app().await;
    let admin = app.signed_in_admin("boss", false).await;
    for n in 0..24 {
        app.register(&format!("user{n:02}"), &format!("u{n:02}@example.org"))
            .await;
    }
    let response = app
        .get_bearer("/api/admin/accounts?page=3&per_page=10", &admin.access)
        .await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = response.into_json().await.unwrap();
    assert_eq!(body["total"], 25);
    assert_eq!(body["page"], 3);
    assert_eq!(body["per_page"], 10);
    let names: Vec<&str> = body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["user19", "user20", "user21", "user22", "user23"]);
    let first = &body["accounts"][0];
    for field in ["failed_logins", "locked", "blocked", "is_staff", "email"] {
        assert!(first.get(field).is_some(), "{field} missing from {first}");
    }
    assert!(first.get("password_hash").is_none());
    // Past the last page the total still counts every account.
    let body: Value = app
        .get_bearer("/api/admin/accounts?page=4&per_page=10", &admin.access)
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(body["accounts"].as_array().unwrap().len(), 0);
    assert_eq!(body["total"], 25);

    // The search matches usernames and emails, case-insensitively; `_` is literal.
    let body: Value = app
        .get_bearer("/api/admin/accounts?q=USER1", &admin.access)
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(body["total"], 10);
    let body: Value = app
        .get_bearer("/api/admin/accounts?q=u07%40", &admin.access)
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(body["accounts"][0]["username"], "user07");
    assert_eq!(body["total"], 1);
    for nothing in ["user_", "%00ab"] {
        let body: Value = app
            .get_bearer(&format!("/api/admin/accounts?q={nothing}"), &admin.access)
            .await
            .into_json()
            .await
            .unwrap();
        assert_eq!(body["total"], 0, "q={nothing}");
    }

    // A search longer than any email is refused before it becomes a LIKE pattern
    // (60,000 characters, or U+FDFA that NFKC expands eighteen-fold, used to be a 500).
    let huge = format!("q={}", "a".repeat(60_000));
    let expanding = format!("q={}", "%EF%B7%BA".repeat(1_600));
    for query in [huge.as_str(), expanding.as_str()] {
        let response = app
            .get_bearer(&format!("/api/admin/accounts?{query}"), &admin.access)
            .await;
        let error = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
        assert!(error["error"]["fields"]["q"].is_string(), "{error}");
    }

    for query in ["per_page=0", "per_page=101", "page=0", "page=abc"] {
        let response = app
            .get_bearer(&format!("/api/admin/accounts?{query}"), &admin.access)
            .await;
        let error = assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
        let field = query.split('=').next().unwrap();
        assert!(error["error"]["fields"][field].is_string(), "{error}");
    }
}

#[rocket::async_test]
async fn one_account_shows_its_lock_and_block_state() {
    let app = spawn_app().await;
    let admin = app.signed_in_admin("boss", false).await;
    app.register("alice", "alice@example.com").await;
    app.login("alice", "wrong password").await;
    app.login("alice", "wrong password").await;
    let id = app.account_id("alice").await;
    let body: Value = app
        .get_bearer(&format!("/api/admin/accounts/{id}"), &admin.access)
        .await
        .into_json()
        .await
        .unwrap();
    let account = &body["account"];
    assert_eq!(account["id"], id);
    assert_eq!(account["failed_logins"], 2);
    assert_eq!(account["locked"], false);
    assert_eq!(account["locked_until"], Value::Null);
    assert_eq!(account["blocked"], false);
    assert_eq!(account["blocked_at"], Value::Null);
    assert_eq!(account["blocked_by"], Value::Null);

    for missing in ["999999", "abc"] {
        assert_error(
            app.get_bearer(&format!("/api/admin/accounts/{missing}"), &admin.access)
                .await,
            Status::NotFound,
            "not_found",
        )
        .await;
        assert_error(
            app.post_bearer(
                &format!("/api/admin/accounts/{missing}/unlock"),
                &admin.access,
                None,
            )
            .await,
            Status::NotFound,
            "not_found",
        )
        .await;
    }
}

#[rocket::async_test]
async fn roles_change_by_superusers_only_and_take_effect_at_once() {
    let app = spawn_app().await;
    let staff = app.signed_in_admin("helper", false).await;
    let root = app.signed_in_admin("root", true).await;
    let alice = app.signed_in("alice").await;
    let uri = format!("/api/admin/accounts/{}", app.account_id("alice").await);
    // alice is refused (and that refusal is now in the guard's cache).
    assert_error(
        app.get_bearer("/api/admin/accounts", &alice.access).await,
        Status::Forbidden,
        "forbidden",
    )
    .await;

    assert_error(
        app.patch_bearer(&uri, &staff.access, json!({"is_staff": true}))
            .await,
        Status::Forbidden,
        "forbidden",
    )
    .await;
    let response = app
        .patch_bearer(&uri, &root.access, json!({"is_staff": true}))
        .await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = response.into_json().await.unwrap();
    assert_eq!(body["account"]["is_staff"], true);
    assert_eq!(body["account"]["is_superuser"], false);
    assert_eq!(
        app.get_bearer("/api/admin/accounts", &alice.access)
            .await
            .status(),
        Status::Ok
    );

    // Bad bodies change nothing.
    for body in [
        json!({}),
        json!({"is_admin": true}),
        json!({"is_staff": "yes"}),
    ] {
        assert_error(
            app.patch_bearer(&uri, &root.access, body).await,
            Status::UnprocessableEntity,
            "validation_failed",
        )
        .await;
    }
    // Staff may not touch a superuser; nobody demotes or deactivates themselves.
    let root_uri = format!("/api/admin/accounts/{}", app.account_id("root").await);
    assert_error(
        app.patch_bearer(&root_uri, &staff.access, json!({"is_active": false}))
            .await,
        Status::Forbidden,
        "forbidden",
    )
    .await;
    for change in [json!({"is_superuser": false}), json!({"is_active": false})] {
        assert_error(
            app.patch_bearer(&root_uri, &root.access, change).await,
            Status::Forbidden,
            "forbidden",
        )
        .await;
    }
    let body: Value = app
        .get_bearer(&root_uri, &root.access)
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(body["account"]["is_superuser"], true);
    assert_eq!(body["account"]["is_active"], true);
}

#[rocket::async_test]
async fn an_admin_demoted_elsewhere_loses_admin_actions_at_once() {
    let app = spawn_app().await;
    let staff = app.signed_in_admin("helper", false).await;
    app.register("alice", "alice@example.com").await;
    let id = app.account_id("alice").await;
    assert_eq!(
        app.get_bearer("/api/admin/accounts", &staff.access)
            .await
            .status(),
        Status::Ok
    );
    // Another instance demotes the helper; this one's guard cache still says staff.
    sqlx::query("UPDATE accounts SET is_staff = 0 WHERE username_key = 'helper'")
        .execute(&app.pool())
        .await
        .unwrap();
    assert_error(
        app.post_bearer(
            &format!("/api/admin/accounts/{id}/block"),
            &staff.access,
            Some(json!({"reason": "too late"})),
        )
        .await,
        Status::Forbidden,
        "forbidden",
    )
    .await;
}

#[rocket::async_test]
async fn deactivation_ends_the_sessions_and_refuses_login() {
    let app = spawn_app().await;
    let staff = app.signed_in_admin("helper", false).await;
    let alice = app.signed_in("alice").await;
    let uri = format!("/api/admin/accounts/{}", app.account_id("alice").await);
    let response = app
        .patch_bearer(&uri, &staff.access, json!({"is_active": false}))
        .await;
    assert_eq!(response.status(), Status::Ok);
    assert_error(
        app.get_bearer("/api/auth/me", &alice.access).await,
        Status::Unauthorized,
        "session_revoked",
    )
    .await;
    assert_error(
        app.login("alice", PASSWORD).await,
        Status::Forbidden,
        "account_inactive",
    )
    .await;
    let response = app
        .patch_bearer(&uri, &staff.access, json!({"is_active": true}))
        .await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(app.login("alice", PASSWORD).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn superusers_delete_accounts_and_their_sessions() {
    let app = spawn_app().await;
    let staff = app.signed_in_admin("helper", false).await;
    let root = app.signed_in_admin("root", true).await;
    let alice = app.signed_in("alice").await;
    let id = app.account_id("alice").await;
    let uri = format!("/api/admin/accounts/{id}");

    assert_error(
        app.delete_bearer(&uri, &staff.access).await,
        Status::Forbidden,
        "forbidden",
    )
    .await;
    let own = format!("/api/admin/accounts/{}", app.account_id("root").await);
    assert_error(
        app.delete_bearer(&own, &root.access).await,
        Status::Forbidden,
        "forbidden",
    )
    .await;

    assert_eq!(
        app.delete_bearer(&uri, &root.access).await.status(),
        Status::NoContent
    );
    assert_error(
        app.get_bearer("/api/auth/me", &alice.access).await,
        Status::Unauthorized,
        "session_revoked",
    )
    .await;
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE account_id = $1")
        .bind(id)
        .fetch_one(&app.pool())
        .await
        .unwrap();
    assert_eq!(sessions, 0);
    assert_error(
        app.get_bearer(&uri, &root.access).await,
        Status::NotFound,
        "not_found",
    )
    .await;
    assert_error(
        app.delete_bearer(&uri, &root.access).await,
        Status::NotFound,
        "not_found",
    )
    .await;
    // The audit trail outlives the account.
    let body: Value = app
        .get_bearer(&format!("{uri}/events"), &root.access)
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(body["events"][0]["kind"], "account_deleted");
    assert_eq!(body["events"][0]["detail"], "alice <alice@example.com>");
}

#[rocket::async_test]
async fn the_audit_trail_lists_an_accounts_events_newest_first() {
    let app = spawn_app().await;
    let root = app.signed_in_admin("root", true).await;
    let root_id = app.account_id("root").await;
    app.register("alice", "alice@example.com").await;
    let id = app.account_id("alice").await;
    let agent = Header::new("User-Agent", "audit-test/1.0");
    app.client
        .post("/api/auth/login")
        .header(rocket::http::ContentType::JSON)
        .header(agent)
        .body(json!({"login": "alice", "password": "wrong password"}).to_string())
        .dispatch()
        .await;
    app.signed_in("alice").await;
    for _ in 0..5 {
        app.login("alice", "wrong password").await;
    }
    let admin = |action: &str| format!("/api/admin/accounts/{id}/{action}");
    app.post_bearer(&admin("unlock"), &root.access, None).await;
    app.post_bearer(
        &admin("block"),
        &root.access,
        Some(json!({"reason": "spam"})),
    )
    .await;
    app.post_bearer(&admin("unblock"), &root.access, None).await;
    app.patch_bearer(
        &format!("/api/admin/accounts/{id}"),
        &root.access,
        json!({"is_staff": true}),
    )
    .await;
    // The block ended alice's first session; she signs in again.
    let alice = app.signed_in("alice").await.access;
    app.post_bearer(
        "/api/auth/password",
        &alice,
        Some(json!({"current_password": PASSWORD, "new_password": "a brand new password"})),
    )
    .await;
    app.post_bearer("/api/auth/logout", &alice, None).await;

    let response = app
        .get_bearer(&admin("events?per_page=100"), &root.access)
        .await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = response.into_json().await.unwrap();
    let events = body["events"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "session_revoked",
            "password_changed",
            "login_succeeded",
            "roles_changed",
            "account_unblocked",
            "sessions_revoked",
            "account_blocked",
            "account_unlocked",
            "account_locked",
            "login_failed",
            "login_failed",
            "login_failed",
            "login_failed",
            "login_failed",
            "login_succeeded",
            "login_failed",
            "account_created",
        ]
    );
    assert_eq!(body["total"], kinds.len());
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let by_kind = |kind: &str| events.iter().find(|e| e["kind"] == kind).unwrap();
    assert_eq!(by_kind("account_blocked")["detail"], "spam");
    assert_eq!(by_kind("account_blocked")["actor_id"], root_id);
    assert_eq!(by_kind("roles_changed")["actor_id"], root_id);
    assert_eq!(by_kind("session_revoked")["detail"], "logout");
    assert_eq!(by_kind("session_revoked")["actor_id"], id);
    let first_failure = events.last().map(|_| &events[events.len() - 2]).unwrap();
    assert_eq!(first_failure["kind"], "login_failed");
    assert_eq!(first_failure["user_agent"], "audit-test/1.0");
    assert!(first_failure["detail"]
        .as_str()
        .unwrap()
        .starts_with("wrong_password"));
    assert!(events.iter().all(|e| e["account_id"] == id));

    let page: Value = app
        .get_bearer(&admin("events?per_page=2&page=2"), &root.access)
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(page["events"][0]["kind"], "login_succeeded");
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
}

#[rocket::async_test]
async fn searches_take_three_characters_and_match_anywhere() {
    let app = spawn_app().await;
    let admin = app.signed_in_admin("boss", false).await;
    app.register("xavier", "xavier@example.org").await;
    app.register("avery", "ave@example.org").await;
    let search = |q: &'static str| {
        let app = &app;
        let access = admin.access.clone();
        async move {
            let response = app
                .get_bearer(&format!("/api/admin/accounts?{q}"), &access)
                .await;
            let status = response.status();
            let body: Value = response.into_json().await.unwrap();
            let names: Vec<String> = body["accounts"]
                .as_array()
                .map(|accounts| {
                    accounts
                        .iter()
                        .map(|a| a["username"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            (status, names, body)
        }
    };
    // Shorter than three characters: no index could serve it.
    let (status, _, body) = search("q=av").await;
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(body["error"]["fields"]["q"].is_string(), "{body}");
    assert_eq!(search("q=avi").await.1, ["xavier"]);
    assert_eq!(search("q=AVI").await.1, ["xavier"]);
    assert_eq!(search("q=ple.org").await.1, ["xavier", "avery"]);
    // Quotes, wildcards and search syntax are matched as themselves.
    for literal in [
        "q=%22av",
        "q=a*v",
        "q=a%3Fv",
        "q=%5Bav",
        "q=av%22%20OR%20%22x",
        "q=%40%40%40",
    ] {
        let (status, names, _) = search(literal).await;
        assert_eq!((status, names.len()), (Status::Ok, 0), "{literal}");
    }
    // A field given twice is refused, not dropped (which would list everyone).
    // So is one spelled as another name of the same field to Rocket's form parser.
    for twice in [
        "q=avi&q=avi",
        "q=avi&q%5B%5D=zzz",
        "q=avi&q.x=zzz",
        "q%5B0%5D=avi&q%5B1%5D=zzz",
    ] {
        let (status, _, body) = search(twice).await;
        assert_eq!(status, Status::UnprocessableEntity, "{twice}");
        assert!(body["error"]["fields"]["q"].is_string(), "{twice}: {body}");
    }
    // A changed address is found by its new form only; a deleted account is gone.
    let avery = app.account_id("avery").await;
    sqlx::query("UPDATE accounts SET email = 'zed@example.net', email_key = 'zed@example.net' WHERE id = $1")
        .bind(avery)
        .execute(&app.pool())
        .await
        .unwrap();
    assert_eq!(search("q=zed%40").await.1, ["avery"]);
    assert!(search("q=ave%40").await.1.is_empty());
    sqlx::query("DELETE FROM accounts WHERE id = $1")
        .bind(avery)
        .execute(&app.pool())
        .await
        .unwrap();
    assert!(search("q=zed%40").await.1.is_empty());
}

#[rocket::async_test]
async fn deep_listings_page_by_keyset_and_count_up_to_a_bound() {
    let app = spawn_app().await;
    let admin = app.signed_in_admin("boss", false).await;
    crate::support::seed(&app.pool(), 10_005, 0, 0, app.state().now()).await;
    let list = |query: String| {
        let app = &app;
        let access = admin.access.clone();
        async move {
            let response = app
                .get_bearer(&format!("/api/admin/accounts?{query}"), &access)
                .await;
            let status = response.status();
            (status, response.into_json::<Value>().await.unwrap())
        }
    };
    let (status, body) = list("per_page=100".into()).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(body["total"], 10_000);
    assert_eq!(body["total_exact"], false);
    // Numbered pages reach the first 10000; beyond, `after` goes on.
    let (status, body) = list("page=100&per_page=100".into()).await;
    assert_eq!(status, Status::Ok);
    let last_numbered = body["next_after"].as_i64().expect("more after page 100");
    let (status, body) = list("page=101&per_page=100".into()).await;
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(body["error"]["fields"]["page"].is_string(), "{body}");
    let (status, body) = list(format!("after={last_numbered}&per_page=100")).await;
    assert_eq!(status, Status::Ok);
    let names: Vec<&str> = body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    // boss is first; seed9999 closes page 100.
    assert_eq!(names.first(), Some(&"seed10000"));
    assert_eq!(names.len(), 6);
    assert!(body["next_after"].is_null(), "{body}");
    // A selective search counts exactly; a short one is capped too.
    let (_, body) = list("q=seed1234".into()).await;
    assert_eq!(body["total"], 1);
    assert_eq!(body["total_exact"], true);
    let (_, body) = list("q=see".into()).await;
    assert_eq!(body["total_exact"], false);
    for bad in ["after=-1", "after=x", "after=5&page=2"] {
        let (status, _) = list(bad.into()).await;
        assert_eq!(status, Status::UnprocessableEntity, "{bad}");
    }
}
