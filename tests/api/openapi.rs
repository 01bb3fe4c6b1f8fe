//! The API's contract: the OpenAPI document names exactly the `/api` routes that are
//! mounted (features included, with mail and 2FA on or off), validates against the
//! OpenAPI 3.1 meta-schema kept in `tests/api/schemas/` (the OpenAPI Initiative's
//! schema of 2022-10-07), and it and Swagger UI are served, with their own
//! Content-Security-Policy, only while `api_docs` is on.

use std::collections::BTreeSet;

use rocket::http::Status;
use serde_json::Value;

use crate::support::{spawn_app_with, TestApp};

const META_SCHEMA: &str = include_str!("schemas/openapi-3.1.json");

async fn document(app: &TestApp) -> Value {
    let response = app.client.get("/api/openapi.json").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    response.into_json().await.unwrap()
}

/// `METHOD /path/{param}` of every mounted route under `/api/` (and the JWKS), but the
/// document's own and CORS preflights.
fn mounted(app: &TestApp) -> BTreeSet<String> {
    app.client
        .rocket()
        .routes()
        .filter_map(|route| {
            let path = route.uri.path().to_string();
            let documentation = path == "/api/openapi.json" || path.starts_with("/api/docs");
            let api = path.starts_with("/api/") || path.starts_with("/.well-known/");
            // CORS preflights (OPTIONS, mounted with cors_allowed_origins) are not operations.
            let preflight = route.method == rocket::http::Method::Options;
            (api && !documentation && !preflight).then(|| {
                let path = path
                    .split('/')
                    .map(|segment| match segment.strip_prefix('<') {
                        Some(name) => format!("{{{}}}", name.trim_end_matches('>')),
                        None => segment.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                format!("{} {path}", route.method)
            })
        })
        .collect()
}

fn documented(document: &Value) -> BTreeSet<String> {
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    operations
}

async fn with_mail(two_factor: bool) -> (TestApp, tempfile::TempDir) {
    let mail = tempfile::tempdir().unwrap();
    let dir = mail.path().display().to_string();
    let app = spawn_app_with(|f| {
        f.merge(("gatehouse.mail_transport", "file"))
            .merge(("gatehouse.mail_dir", dir))
            .merge(("gatehouse.two_factor_enabled", two_factor))
    })
    .await;
    (app, mail)
}

#[rocket::async_test]
async fn every_mounted_api_route_is_documented_and_every_documented_route_is_mounted() {
    let (everything, _mail) = with_mail(true).await;
    let without = spawn_app_with(|f| {
        f.merge(("gatehouse.two_factor_enabled", false))
            .merge(("gatehouse.passkeys_enabled", false))
    })
    .await;
    for (name, app) in [("mail and 2FA on", &everything), ("both off", &without)] {
        let document = document(app).await;
        let mounted = mounted(app);
        let documented = documented(&document);
        let undocumented: Vec<_> = mounted.difference(&documented).collect();
        let unmounted: Vec<_> = documented.difference(&mounted).collect();
        assert!(
            undocumented.is_empty(),
            "{name}: mounted, not documented: {undocumented:?}"
        );
        assert!(
            unmounted.is_empty(),
            "{name}: documented, not mounted: {unmounted:?}"
        );
    }
    // Operation ids are unique across the whole document (validators require it; a
    // feature's `list` once clashed with the sessions' `list`).
    let whole = document(&everything).await;
    let mut ids: Vec<&str> = whole["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|operation| operation.get("operationId")?.as_str())
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "duplicate operationIds: {ids:?}");
    // The feature's routes take part, and the switches show.
    let all = documented(&document(&everything).await);
    assert!(all.contains("DELETE /api/notes/{id}"));
    assert!(all.contains("POST /api/auth/password/forgot"));
    assert!(all.contains("POST /api/auth/2fa/verify"));
    let fewer = documented(&document(&without).await);
    assert!(!fewer
        .iter()
        .any(|op| op.contains("/2fa") || op.contains("/email") || op.contains("passkey")));
}

#[rocket::async_test]
async fn the_document_is_openapi_3_1_and_validates_against_the_meta_schema() {
    let (app, _mail) = with_mail(true).await;
    let document = document(&app).await;
    assert_eq!(document["openapi"], "3.1.0");
    let meta_schema: Value = serde_json::from_str(META_SCHEMA).unwrap();
    let validator = jsonschema::draft202012::new(&meta_schema).expect("the meta-schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&document)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");

    // Errors share one schema; the security schemes are there.
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["cookie"]["in"], "cookie");
    assert_eq!(schemes["csrf"]["name"], "X-CSRF-Token");
    assert!(document["components"]["schemas"]["ErrorBody"].is_object());
    // A signed-in route lists its token errors, a JSON body its body errors.
    let me = &document["paths"]["/api/auth/me"]["get"];
    assert!(me["responses"]["401"]["description"]
        .as_str()
        .unwrap()
        .contains("session_revoked"));
    assert!(me["security"].as_array().is_some_and(|s| !s.is_empty()));
    let login = &document["paths"]["/api/auth/login"]["post"];
    for status in ["400", "413", "415", "422", "423", "429"] {
        let answer = &login["responses"][status];
        assert_eq!(
            answer["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody",
            "{status}"
        );
    }
}

#[rocket::async_test]
async fn swagger_ui_is_served_from_the_binary_under_its_own_policy() {
    let app = spawn_app_with(|f| f).await;
    let page = app.client.get("/api/docs/").dispatch().await;
    assert_eq!(page.status(), Status::Ok);
    let policy = page
        .headers()
        .get_one("Content-Security-Policy")
        .unwrap()
        .to_string();
    assert!(policy.contains("script-src 'self'") && policy.contains("connect-src 'self'"));
    assert!(!policy.contains("http"), "nothing from elsewhere: {policy}");
    let html = page.into_string().await.unwrap();
    assert!(!html.contains("://"), "no asset from another host: {html}");
    for asset in [
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "swagger-initializer.js",
    ] {
        let response = app
            .client
            .get(format!("/api/docs/{asset}"))
            .dispatch()
            .await;
        assert_eq!(response.status(), Status::Ok, "{asset}");
    }
    let initializer = app
        .client
        .get("/api/docs/swagger-initializer.js")
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap();
    assert!(initializer.contains("url: \"/api/openapi.json\""));
    assert!(
        initializer.contains("validatorUrl: \"none\""),
        "{initializer}"
    );
    // "Try it out" after a cookie login sends the session's CSRF token.
    assert!(initializer.contains("requestInterceptor: addCsrfHeader"));
    assert!(initializer.contains("/api/auth/csrf") && initializer.contains("X-CSRF-Token"));
    // Every other answer keeps the strict policy, a missing viewer file included.
    for path in ["/api/health/live", "/api/docs/no-such-file.js"] {
        let other = app.client.get(path).dispatch().await;
        let strict = other.headers().get_one("Content-Security-Policy").unwrap();
        assert!(
            strict.starts_with("default-src 'none'") && !strict.contains("script-src"),
            "{path}: {strict}"
        );
    }
}

#[rocket::async_test]
async fn the_docs_setting_turns_off_the_document_and_the_viewer() {
    let app = spawn_app_with(|f| f.merge(("gatehouse.api_docs", false))).await;
    for path in [
        "/api/openapi.json",
        "/api/docs/",
        "/api/docs/swagger-ui-bundle.js",
    ] {
        let response = app.client.get(path).dispatch().await;
        assert_eq!(response.status(), Status::NotFound, "{path}");
    }
}

/// The schema `value` names, through one `$ref` of `#/components/schemas/…`.
fn resolved<'d>(document: &'d Value, value: &'d Value) -> &'d Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &document["components"]["schemas"][name]
        }
        None => value,
    }
}

fn has_example(document: &Value, media: &Value) -> bool {
    let schema = resolved(document, &media["schema"]);
    !media["example"].is_null()
        || !media["examples"].is_null()
        || !schema["examples"].is_null()
        || !schema["example"].is_null()
}

/// Every operation of the document: `(METHOD /path, operation)`.
fn operations(document: &Value) -> Vec<(String, &Value)> {
    let mut all = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            all.push((format!("{} {path}", method.to_uppercase()), operation));
        }
    }
    all
}

#[rocket::async_test]
async fn every_operation_has_a_summary_every_request_field_a_description_and_bodies_examples() {
    let (app, _mail) = with_mail(true).await;
    let document = document(&app).await;
    let mut missing = Vec::new();
    for (name, operation) in operations(&document) {
        match operation["summary"].as_str() {
            Some(summary)
                if !summary.is_empty() && summary.len() <= 100 && !summary.contains('\n') => {}
            other => missing.push(format!("{name}: summary {other:?} (one short sentence)")),
        }
        if let Some(media) = operation["requestBody"]["content"]
            .as_object()
            .and_then(|content| content.values().next())
        {
            if !has_example(&document, media) {
                missing.push(format!("{name}: no example of the request body"));
            }
            let schema = resolved(&document, &media["schema"]);
            for (field, property) in schema["properties"].as_object().into_iter().flatten() {
                let property = if property["description"].is_null() {
                    resolved(&document, property)
                } else {
                    property
                };
                if property["description"].as_str().is_none_or(str::is_empty) {
                    missing.push(format!(
                        "{name}: request field `{field}` has no description"
                    ));
                }
            }
        }
        for (status, answer) in operation["responses"].as_object().unwrap() {
            let Some(media) = answer["content"]["application/json"].as_object() else {
                continue;
            };
            let media = Value::Object(media.clone());
            if status.starts_with('2') && !has_example(&document, &media) {
                missing.push(format!("{name}: no example of the {status} answer"));
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

#[rocket::async_test]
async fn operation_ids_are_tag_and_function_and_tags_come_in_the_readers_order() {
    let (app, _mail) = with_mail(true).await;
    let document = document(&app).await;
    let features: Vec<String> = gatehouse::features::all()
        .iter()
        .map(|feature| format!("/api/{}", feature.name()))
        .collect();
    let mut ids = Vec::new();
    for (name, operation) in operations(&document) {
        let tag = operation["tags"][0].as_str().unwrap().replace('-', "_");
        let id = operation["operationId"].as_str().unwrap();
        assert!(id.starts_with(&format!("{tag}_")), "{name}: {id}");
        let path = name.split(' ').nth(1).unwrap();
        if !features
            .iter()
            .any(|prefix| path.starts_with(prefix.as_str()))
        {
            ids.push(format!("{id} {name}"));
        }
    }
    ids.sort();
    // Gatehouse's own ids are part of the contract (clients generate code from them):
    // a change here is a breaking change, made on purpose.
    let snapshot = include_str!("snapshots/operation_ids.txt");
    assert_eq!(
        ids.join("\n"),
        snapshot.trim_end(),
        "tests/api/snapshots/operation_ids.txt"
    );

    let tags: Vec<&str> = document["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| tag["name"].as_str().unwrap())
        .collect();
    let core = [
        "auth",
        "account",
        "sessions",
        "two-factor",
        "passkeys",
        "email",
        "admin",
        "services",
        "health",
        "websocket",
    ];
    assert_eq!(&tags[..core.len()], &core, "{tags:?}");
    // Then the features' own (a feature without API routes has none).
    let names: Vec<&str> = gatehouse::features::all()
        .iter()
        .map(|f| f.name())
        .collect();
    assert!(
        tags[core.len()..].iter().all(|tag| names.contains(tag)),
        "{tags:?}"
    );
    assert!(tags.contains(&"notes"), "{tags:?}");
    assert!(document["tags"]
        .as_array()
        .unwrap()
        .iter()
        .all(|tag| tag["description"].is_string()));
}

#[rocket::async_test]
async fn the_document_states_the_constraints_the_api_enforces_with_these_settings() {
    let app = spawn_app_with(|f| f.merge(("gatehouse.password_min_length", 20))).await;
    let document = document(&app).await;
    let schemas = &document["components"]["schemas"];
    let register = &schemas["RegisterRequest"]["properties"];
    assert_eq!(register["password"]["minLength"], 20);
    assert_eq!(register["password"]["maxLength"], 1024);
    assert_eq!(register["username"]["minLength"], 3);
    assert_eq!(register["username"]["maxLength"], 32);
    assert_eq!(register["email"]["format"], "email");
    // A current password is any text the account may have: no minimum.
    let login = &schemas["LoginRequest"]["properties"];
    assert!(login["password"]["minLength"].is_null(), "{login}");
}

/// The book's reference names every `/api` route Gatehouse mounts (mail and 2FA on),
/// as `METHOD /path` in backticks (a query may follow), so a new route cannot go
/// undocumented.
#[rocket::async_test]
async fn the_book_names_every_api_route() {
    let (app, _mail) = with_mail(true).await;
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/src");
    let book: String = std::fs::read_dir(folder)
        .unwrap()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "md").then(|| std::fs::read_to_string(path).unwrap())
        })
        .collect();
    let features: Vec<String> = gatehouse::features::all()
        .iter()
        .map(|feature| format!(" /api/{}", feature.name()))
        .collect();
    let missing: Vec<String> = mounted(&app)
        .into_iter()
        .filter(|route| {
            !features
                .iter()
                .any(|prefix| route.contains(prefix.as_str()))
        })
        .filter(|route| {
            !book.contains(&format!("`{route}`")) && !book.contains(&format!("`{route}?"))
        })
        .collect();
    assert!(missing.is_empty(), "docs/src names none of {missing:#?}");
}
