//! The notes feature through its public interface: the JSON API, the `/notes` page and
//! the `notes export` command, on SQLite and PostgreSQL like Gatehouse's own tests.

use rocket::futures::future::join_all;
use rocket::http::{ContentType, Status};
use serde_json::{json, Value};

use crate::cli::{assert_fails, gatehouse, run, stdout};
use crate::support::{
    assert_error, bearer, browser_login, csrf, location, page, spawn_app, spawn_app_with,
    spawn_browser, submit, test_figment, TestApp,
};

async fn create(app: &TestApp, token: &str, note: Value) -> (Status, Value) {
    let response = app.post_bearer("/api/notes", token, Some(note)).await;
    let status = response.status();
    (status, response.into_json().await.unwrap_or(Value::Null))
}

/// Posts `raw` (written by hand, escapes and all) as a new note.
async fn post_raw(app: &TestApp, token: &str, raw: String) -> (Status, Value) {
    let response = app
        .client
        .post("/api/notes")
        .header(bearer(token))
        .header(ContentType::JSON)
        .body(raw)
        .dispatch()
        .await;
    let status = response.status();
    (status, response.into_json().await.unwrap_or(Value::Null))
}

async fn json_of(response: rocket::local::asynchronous::LocalResponse<'_>) -> Value {
    assert_eq!(response.status(), Status::Ok);
    response.into_json().await.expect("a JSON body")
}

#[rocket::async_test]
async fn notes_are_created_read_changed_listed_and_deleted() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let (status, body) = create(
        &app,
        &alice.access,
        json!({"title": "Groceries", "body": "eggs\nmilk"}),
    )
    .await;
    assert_eq!(status, Status::Created);
    let note = &body["note"];
    let id = note["id"].as_i64().unwrap();
    assert_eq!(note["title"], "Groceries");
    assert_eq!(note["body"], "eggs\nmilk");
    assert!(note["created_at"].is_i64() && note["updated_at"].is_i64());
    let keys: Vec<_> = note.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["body", "created_at", "id", "title", "updated_at"]);

    let shown = json_of(
        app.get_bearer(&format!("/api/notes/{id}"), &alice.access)
            .await,
    )
    .await;
    assert_eq!(shown["note"], *note);

    app.clock.advance(60);
    let changed = json_of(
        app.patch_bearer(
            &format!("/api/notes/{id}"),
            &alice.access,
            json!({"title": "Shopping"}),
        )
        .await,
    )
    .await;
    assert_eq!(changed["note"]["title"], "Shopping");
    assert_eq!(changed["note"]["body"], "eggs\nmilk", "absent fields stay");
    assert_eq!(
        changed["note"]["updated_at"].as_i64().unwrap(),
        note["updated_at"].as_i64().unwrap() + 60
    );

    create(&app, &alice.access, json!({"title": "Second"})).await;
    let listed = json_of(app.get_bearer("/api/notes", &alice.access).await).await;
    assert_eq!(listed["total"], 2);
    assert_eq!(
        (listed["page"].as_i64(), listed["per_page"].as_i64()),
        (Some(1), Some(20))
    );
    let titles: Vec<_> = listed["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles, ["Second", "Shopping"], "newest first");

    let response = app
        .delete_bearer(&format!("/api/notes/{id}"), &alice.access)
        .await;
    assert_eq!(response.status(), Status::NoContent);
    let response = app
        .get_bearer(&format!("/api/notes/{id}"), &alice.access)
        .await;
    assert_error(response, Status::NotFound, "not_found").await;
    let response = app
        .delete_bearer(&format!("/api/notes/{id}"), &alice.access)
        .await;
    assert_error(response, Status::NotFound, "not_found").await;
}

#[rocket::async_test]
async fn another_accounts_note_is_not_found_and_stays_untouched() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let bob = app.signed_in("bob").await;
    let (_, body) = create(
        &app,
        &alice.access,
        json!({"title": "Mine", "body": "secret"}),
    )
    .await;
    let uri = format!("/api/notes/{}", body["note"]["id"]);

    assert_error(
        app.get_bearer(&uri, &bob.access).await,
        Status::NotFound,
        "not_found",
    )
    .await;
    assert_error(
        app.patch_bearer(&uri, &bob.access, json!({"title": "Yours now"}))
            .await,
        Status::NotFound,
        "not_found",
    )
    .await;
    assert_error(
        app.delete_bearer(&uri, &bob.access).await,
        Status::NotFound,
        "not_found",
    )
    .await;
    let listed = json_of(app.get_bearer("/api/notes", &bob.access).await).await;
    assert_eq!(listed["total"], 0);
    for id in ["abc", "1.5", "-1", "99999999999999999999", "%00"] {
        let response = app
            .get_bearer(&format!("/api/notes/{id}"), &alice.access)
            .await;
        assert_error(response, Status::NotFound, "not_found").await;
    }
    let shown = json_of(app.get_bearer(&uri, &alice.access).await).await;
    assert_eq!(shown["note"]["title"], "Mine");
    assert_eq!(shown["note"]["body"], "secret");
}

#[rocket::async_test]
async fn notes_need_a_signed_in_account() {
    let app = spawn_app().await;
    let response = app.client.get("/api/notes").dispatch().await;
    assert_error(response, Status::Unauthorized, "missing_token").await;
    let response = app
        .client
        .post("/api/notes")
        .header(ContentType::JSON)
        .body(json!({"title": "x"}).to_string())
        .dispatch()
        .await;
    assert_error(response, Status::Unauthorized, "missing_token").await;
    let response = app.get_bearer("/api/notes", "not-a-token").await;
    assert_error(response, Status::Unauthorized, "invalid_token").await;
}

#[rocket::async_test]
async fn the_list_pages_like_the_admin_list() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    for n in 1..=25 {
        let (status, _) = create(&app, &alice.access, json!({"title": format!("note {n}")})).await;
        assert_eq!(status, Status::Created);
    }
    let third = json_of(
        app.get_bearer("/api/notes?page=3&per_page=10", &alice.access)
            .await,
    )
    .await;
    assert_eq!(third["total"], 25);
    let titles: Vec<_> = third["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles, ["note 5", "note 4", "note 3", "note 2", "note 1"]);
    for bad in ["page=0", "per_page=101", "page=x", "per_page=0"] {
        let response = app
            .get_bearer(&format!("/api/notes?{bad}"), &alice.access)
            .await;
        assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    }
}

#[rocket::async_test]
async fn bad_notes_are_refused_with_their_fields_named() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    for (note, fields) in [
        (json!({"title": ""}), vec!["title"]),
        (json!({"title": "   "}), vec!["title"]),
        (json!({"title": "x".repeat(201)}), vec!["title"]),
        (json!({"title": "two\nlines"}), vec!["title"]),
        (json!({"title": "bell\u{7}"}), vec!["title"]),
        (json!({"title": "evil\u{202E}"}), vec!["title"]),
        (json!({"title": "ok", "body": "nul\u{0}"}), vec!["body"]),
        (
            json!({"title": "ok", "body": "x".repeat(10_001)}),
            vec!["body"],
        ),
        (
            json!({"title": "", "body": "esc\u{1b}[31m"}),
            vec!["body", "title"],
        ),
    ] {
        let (status, body) = create(&app, &alice.access, note.clone()).await;
        assert_eq!(status, Status::UnprocessableEntity, "{note}");
        assert_eq!(body["error"]["code"], "validation_failed");
        let named: Vec<_> = body["error"]["fields"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(named, fields, "{note}: {body}");
    }
    for shape in [
        json!({"body": "no title"}),
        json!({"title": 5}),
        json!({"title": "x", "pinned": true}),
    ] {
        let (status, body) = create(&app, &alice.access, shape.clone()).await;
        assert_eq!(status, Status::UnprocessableEntity, "{shape}: {body}");
    }
    let listed = json_of(app.get_bearer("/api/notes", &alice.access).await).await;
    assert_eq!(listed["total"], 0, "nothing was stored");

    // Stored NFC, whichever way it was typed; tabs and newlines kept in the body.
    let (status, body) = create(
        &app,
        &alice.access,
        json!({"title": " Cafe\u{301} ", "body": "\tindented\r\nline"}),
    )
    .await;
    assert_eq!(status, Status::Created);
    assert_eq!(body["note"]["title"], "Caf\u{e9}");
    assert_eq!(body["note"]["body"], "\tindented\r\nline");

    let uri = format!("/api/notes/{}", body["note"]["id"]);
    for change in [json!({}), json!({"title": ""}), json!({"owner": 2})] {
        let response = app.patch_bearer(&uri, &alice.access, change).await;
        assert_error(response, Status::UnprocessableEntity, "validation_failed").await;
    }
}

#[rocket::async_test]
async fn the_largest_valid_note_fits_and_a_larger_body_is_a_413() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    // Every character escaped as a surrogate pair, the longest way to write it.
    let smile = r"\ud83d\ude00";
    let raw = format!(
        r#"{{"title":"{}","body":"{}"}}"#,
        smile.repeat(200),
        smile.repeat(10_000)
    );
    assert!(raw.len() > 120_000);
    let (status, body) = post_raw(&app, &alice.access, raw).await;
    assert_eq!(status, Status::Created);
    assert_eq!(
        body["note"]["body"].as_str().unwrap().chars().count(),
        10_000
    );

    // Ten thousand characters typed decomposed (four code points each before NFC),
    // every code point escaped: still a valid note.
    let decomposed: String = unicode_normalization::UnicodeNormalization::nfd("\u{1F8F}").collect();
    let escaped: String = decomposed
        .chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect();
    let raw = format!(r#"{{"title":"nfd","body":"{}"}}"#, escaped.repeat(10_000));
    assert!(raw.len() > 240_000);
    let (status, body) = post_raw(&app, &alice.access, raw).await;
    assert_eq!(status, Status::Created);
    assert_eq!(
        body["note"]["body"].as_str().unwrap().chars().count(),
        10_000
    );

    let too_big = format!(r#"{{"title":"x","body":"{}"}}"#, "y".repeat(330 * 1024));
    let response = app
        .client
        .post("/api/notes")
        .header(bearer(&alice.access))
        .header(ContentType::JSON)
        .body(too_big)
        .dispatch()
        .await;
    assert_error(response, Status::PayloadTooLarge, "payload_too_large").await;
    // Other routes keep the configured limit.
    let response = app
        .post(
            "/api/auth/login",
            json!({"login": "alice", "password": "x".repeat(20_000)}),
        )
        .await;
    assert_error(response, Status::PayloadTooLarge, "payload_too_large").await;
}

#[rocket::async_test]
async fn the_per_account_limit_holds_under_a_burst() {
    let app = spawn_app_with(|f| f.merge(("notes.max_per_account", 3))).await;
    let alice = app.signed_in("alice").await;
    let bob = app.signed_in("bob").await;
    let burst = (0..12).map(|n| create(&app, &alice.access, json!({"title": format!("n{n}")})));
    let answers = join_all(burst).await;
    let created = answers
        .iter()
        .filter(|(s, _)| *s == Status::Created)
        .count();
    assert_eq!(created, 3, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != Status::Created) {
        assert_eq!(*status, Status::Conflict);
        assert_eq!(body["error"]["code"], "note_limit_reached", "{body}");
    }
    let listed = json_of(app.get_bearer("/api/notes", &alice.access).await).await;
    assert_eq!(listed["total"], 3);
    // Each account has its own limit, and a deletion frees a place.
    assert_eq!(
        create(&app, &bob.access, json!({"title": "b"})).await.0,
        Status::Created
    );
    let first = listed["notes"][0]["id"].as_i64().unwrap();
    app.delete_bearer(&format!("/api/notes/{first}"), &alice.access)
        .await;
    assert_eq!(
        create(&app, &alice.access, json!({"title": "again"}))
            .await
            .0,
        Status::Created
    );
    assert_eq!(
        create(&app, &alice.access, json!({"title": "over"}))
            .await
            .0,
        Status::Conflict
    );
}

#[rocket::async_test]
async fn the_notes_settings_are_checked_at_start_up() {
    let app = spawn_app().await;
    for (value, expected) in [
        (json!(0), "GATEHOUSE_NOTES__MAX_PER_ACCOUNT"),
        (
            json!("many"),
            "`notes.max_per_account` (GATEHOUSE_NOTES__MAX_PER_ACCOUNT):",
        ),
    ] {
        let figment = test_figment(&app.db.url).merge(("notes.max_per_account", value));
        let Err(error) = gatehouse::rocket(figment) else {
            panic!("a bad notes setting was accepted");
        };
        assert!(error.to_string().contains(expected), "{error}");
    }
    let figment = test_figment(&app.db.url).merge(("notes.max_per_acount", 5));
    let Err(error) = gatehouse::rocket(figment) else {
        panic!("a misspelt notes setting was accepted");
    };
    assert!(error.to_string().contains("max_per_acount"), "{error}");
}

#[rocket::async_test]
async fn the_notes_page_lists_adds_and_deletes() {
    let app = spawn_browser().await;
    let response = app.client.get("/notes").dispatch().await;
    assert_eq!(location(&response), "/login?next=%2Fnotes");

    browser_login(&app, "alice").await;
    let (status, html) = page(&app, "/notes").await;
    assert_eq!(status, Status::Ok);
    assert!(
        html.contains(r#"<a href="/notes">Notes</a>"#),
        "nav link: {html}"
    );
    assert!(html.contains("No notes yet."));

    let token = csrf(&app);
    let response = submit(
        &app,
        "/notes",
        &[
            ("title", "Plan"),
            ("body", "line one\nline <two>"),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_eq!(location(&response), "/notes");
    let (_, html) = page(&app, "/notes").await;
    assert!(html.contains("Note added."), "{html}");
    assert!(html.contains("<h3>Plan</h3>"), "{html}");
    assert!(
        html.contains("line &#60;two&#62;") || html.contains("line &lt;two&gt;"),
        "escaped: {html}"
    );

    let response = submit(
        &app,
        "/notes",
        &[("title", ""), ("body", "kept"), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(location(&response), "/notes");
    let (_, html) = page(&app, "/notes").await;
    assert!(html.contains("Title is required"), "{html}");
    assert!(
        html.contains(">kept</textarea>"),
        "the input is kept: {html}"
    );

    let response = submit(&app, "/notes", &[("title", "Forged")]).await;
    assert_eq!(response.status(), Status::Forbidden);

    // The longest valid note fits the page's form too (each character percent-encoded).
    let long = "\u{6F22}".repeat(10_000);
    let response = submit(
        &app,
        "/notes",
        &[("title", "Long"), ("body", &long), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(location(&response), "/notes");
    let (_, html) = page(&app, "/notes").await;
    assert!(html.contains("<h3>Long</h3>"), "{html}");
    // A refused long body is not put back: it would not fit the feedback cookie.
    let response = submit(
        &app,
        "/notes",
        &[("title", ""), ("body", &long), ("csrf_token", &token)],
    )
    .await;
    let set_cookie: Vec<_> = response.headers().get("Set-Cookie").collect();
    assert!(set_cookie.iter().all(|c| c.len() < 4096), "{set_cookie:?}");
    let (_, html) = page(&app, "/notes").await;
    assert!(html.contains("Title is required"), "{html}");

    let id: i64 = sqlx::query_scalar("SELECT id FROM notes WHERE title = 'Plan'")
        .fetch_one(&app.pool())
        .await
        .unwrap();
    let response = submit(&app, &format!("/notes/{id}/delete"), &[]).await;
    assert_eq!(
        response.status(),
        Status::Forbidden,
        "no CSRF token, no deletion"
    );
    let response = submit(
        &app,
        &format!("/notes/{id}/delete"),
        &[("csrf_token", &token)],
    )
    .await;
    assert_eq!(location(&response), "/notes");
    let (_, html) = page(&app, "/notes").await;
    assert!(
        html.contains("Note deleted.") && !html.contains("<h3>Plan</h3>"),
        "{html}"
    );
    let response = submit(
        &app,
        &format!("/notes/{id}/delete"),
        &[("csrf_token", &token)],
    )
    .await;
    assert_eq!(response.status(), Status::NotFound);
    let response = submit(&app, "/notes/abc/delete", &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), Status::NotFound);
    let titles: Vec<String> = sqlx::query_scalar("SELECT title FROM notes")
        .fetch_all(&app.pool())
        .await
        .unwrap();
    assert_eq!(titles, ["Long"]);
}

#[rocket::async_test]
async fn another_accounts_note_cannot_be_deleted_from_the_page() {
    let app = spawn_browser().await;
    let bob = app.signed_in("bob").await;
    let (_, body) = create(&app, &bob.access, json!({"title": "Bob's"})).await;
    browser_login(&app, "alice").await;
    let token = csrf(&app);
    let response = submit(
        &app,
        &format!("/notes/{}/delete", body["note"]["id"]),
        &[("csrf_token", &token)],
    )
    .await;
    assert_eq!(response.status(), Status::NotFound);
    let (_, html) = page(&app, "/notes").await;
    assert!(
        !html.contains("Bob&#39;s") && !html.contains("Bob's"),
        "{html}"
    );
    // (Bob's API login shared this cookie jar, so alice's page login ended it.)
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notes")
        .fetch_one(&app.pool())
        .await
        .unwrap();
    assert_eq!(left, 1);
}

#[rocket::async_test]
async fn notes_export_prints_an_accounts_notes_as_json_lines() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    create(
        &app,
        &alice.access,
        json!({"title": "first", "body": "a\nb"}),
    )
    .await;
    create(&app, &alice.access, json!({"title": "second"})).await;

    let output = run(
        gatehouse(&app.db, &["notes", "export", "ALICE@example.com"]),
        "",
    );
    assert!(output.status.success(), "{output:?}");
    let lines: Vec<Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["title"], "second");
    assert_eq!(lines[1]["body"], "a\nb");

    let output = run(gatehouse(&app.db, &["notes", "export", "nobody"]), "");
    assert_fails(&output, "username or email \"nobody\"");
    let output = run(gatehouse(&app.db, &["notes"]), "");
    assert_eq!(output.status.code(), Some(2), "a usage error");
}
