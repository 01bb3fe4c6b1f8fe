//! The API's contract: an OpenAPI 3.1 document generated from the routes' own
//! annotations (utoipa), Gatehouse's and every feature's, served at
//! `GET /api/openapi.json`, and Swagger UI for it at `/api/docs` from assets compiled
//! into the binary. Both exist only while `api_docs` is on (debug: on; release: off).
//!
//! A route's annotation names its success answers and the errors particular to it;
//! [`CommonAnswers`] adds those every route of a kind shares (a JSON body's 400, 413,
//! 415 and 422, a signed-in route's 401 and 403, a path naming a resource's 404,
//! every route's 500), all with the one
//! error shape, [`ErrorBody`] (in `api/error.rs`, beside the answers it describes).

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr};
use utoipa::{Modify, OpenApi as _};

use super::error::{error_answer, ErrorBody, ErrorDetail};
use crate::feature::Feature;
use crate::feature::Setup;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Gatehouse API",
        description = "Accounts and authentication. Errors share one shape (ErrorBody); \
                       their codes are listed per answer."
    ),
    paths(
        super::health::live,
        super::health::ready,
        super::auth::register,
        super::auth::login,
        super::auth::refresh,
        super::auth::csrf,
        super::auth::logout,
        super::account::me,
        super::account::export,
        super::account::update_me,
        super::account::change_password,
        super::auth::reauthenticate,
        super::introspection::introspect,
        super::sessions::list,
        super::sessions::revoke_one,
        super::sessions::revoke_others,
        super::ws::socket,
        super::jwks::jwks,
    ),
    components(schemas(ErrorBody, ErrorDetail))
)]
struct CoreApi;

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    super::email::verify_email,
    super::email::resend_verification,
    super::email::forgot_password,
    super::email::reset_password,
    super::email::change_email,
    super::email::confirm_email,
))]
struct EmailApi;

/// The document of the routes mounted with these settings: the email routes only when
/// mail is on, and each part's and feature's own (which each leaves out when off).
pub fn document(setup: &Setup<'_>, features: &[&'static dyn Feature]) -> OpenApi {
    let settings = setup.settings;
    let mut document = CoreApi::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").into();
    document.info.title = format!("{} API", crate::config::brand());
    if settings.mail.enabled() {
        document.merge(EmailApi::openapi());
    }
    for feature in features {
        if let Some(part) = feature.openapi(setup) {
            document.merge(part);
        }
    }
    SecuritySchemes {
        access_cookie: settings.cookies.access_cookie.clone(),
    }
    .modify(&mut document);
    CommonAnswers.modify(&mut document);
    Headings.modify(&mut document);
    NewPasswordBounds {
        min: settings.passwords.password_min_length,
        max: settings.passwords.password_max_length,
    }
    .modify(&mut document);
    document
}

/// A new password's bounds are settings: the annotations write the defaults, and the
/// document states the values this deployment enforces. A new password is a field of
/// format `password` with a minimum length (a current one has none).
struct NewPasswordBounds {
    min: usize,
    max: usize,
}

impl Modify for NewPasswordBounds {
    fn modify(&self, document: &mut OpenApi) {
        use utoipa::openapi::schema::{KnownFormat, Schema, SchemaFormat};
        let Some(components) = document.components.as_mut() else {
            return;
        };
        for schema in components.schemas.values_mut() {
            let RefOr::T(Schema::Object(object)) = schema else {
                continue;
            };
            for property in object.properties.values_mut() {
                let RefOr::T(Schema::Object(field)) = property else {
                    continue;
                };
                let password = matches!(
                    field.format,
                    Some(SchemaFormat::KnownFormat(KnownFormat::Password))
                );
                if password && field.min_length.is_some() {
                    field.min_length = Some(self.min);
                    field.max_length = Some(self.max);
                }
            }
        }
    }
}

/// The operations of one path, whatever their methods.
fn operations_of(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.patch,
        &mut item.delete,
    ]
    .into_iter()
    .flatten()
}

/// Gatehouse's tags in the order a reader needs them; the features' follow in the
/// order of their list.
const TAGS: &[(&str, &str)] = &[
    (
        "auth",
        "Register, sign in and out, refresh, CSRF, re-authentication.",
    ),
    (
        "account",
        "The signed-in account: its profile and password.",
    ),
    ("sessions", "The account's sessions, listed and ended."),
    (
        "two-factor",
        "TOTP as a second factor, with recovery codes.",
    ),
    (
        "passkeys",
        "Passkeys (WebAuthn): sign in without a password, complete a login, re-authenticate.",
    ),
    (
        "email",
        "Address verification, password reset and address change.",
    ),
    (
        "admin",
        "For staff: accounts, blocks, roles and the audit trail.",
    ),
    (
        "services",
        "For other services: the public keys and token introspection.",
    ),
    ("health", "Liveness and readiness for load balancers."),
    ("websocket", "An authenticated WebSocket."),
];

/// The names and headings every operation gets in one place: its id is
/// `<tag>_<function>` (unique across features, unchanged when a file moves), its
/// summary one sentence (the rest of the doc comment goes to the description), and
/// the tags are listed in [`TAGS`]' order, the features' after.
struct Headings;

impl Modify for Headings {
    fn modify(&self, document: &mut OpenApi) {
        let mut used = Vec::new();
        for item in document.paths.paths.values_mut() {
            for operation in operations_of(item) {
                let tag = operation
                    .tags
                    .as_ref()
                    .and_then(|tags| tags.first())
                    .cloned()
                    .unwrap_or_else(|| "api".into());
                if let Some(function) = &operation.operation_id {
                    let prefix = format!("{}_", tag.replace('-', "_"));
                    if !function.starts_with(&prefix) {
                        operation.operation_id = Some(format!("{prefix}{function}"));
                    }
                }
                split_summary(operation);
                if !used.contains(&tag) {
                    used.push(tag);
                }
            }
        }
        let described = document.tags.take().unwrap_or_default();
        let mut tags: Vec<utoipa::openapi::tag::Tag> = TAGS
            .iter()
            .filter(|(name, _)| used.iter().any(|tag| tag == name))
            .map(|(name, description)| {
                utoipa::openapi::tag::TagBuilder::new()
                    .name(*name)
                    .description(Some(*description))
                    .build()
            })
            .collect();
        for tag in used {
            if tags.iter().any(|known| known.name == tag) {
                continue;
            }
            let tag = described
                .iter()
                .find(|given| given.name == tag)
                .cloned()
                .unwrap_or_else(|| utoipa::openapi::tag::TagBuilder::new().name(tag).build());
            tags.push(tag);
        }
        document.tags = Some(tags);
    }
}

/// The summary is the doc comment's first sentence on one line; what followed it
/// opens the description.
fn split_summary(operation: &mut Operation) {
    let Some(summary) = operation.summary.take() else {
        return;
    };
    let flat = summary.split_whitespace().collect::<Vec<_>>().join(" ");
    let end = flat
        .match_indices(". ")
        .map(|(at, _)| at + 1)
        .next()
        .unwrap_or(flat.len());
    let (first, rest) = flat.split_at(end);
    let rest = rest.trim();
    if !rest.is_empty() {
        operation.description = Some(match operation.description.take() {
            Some(description) if !description.trim().is_empty() => {
                format!("{rest}\n\n{description}")
            }
            _ => rest.to_string(),
        });
    }
    operation.summary = Some(first.trim_end_matches('.').to_string());
}

/// `bearer` (the access token in `Authorization`) and `cookie` (the access cookie,
/// with `csrf`, the `X-CSRF-Token` header, on unsafe methods).
struct SecuritySchemes {
    access_cookie: String,
}

impl Modify for SecuritySchemes {
    fn modify(&self, document: &mut OpenApi) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The access token of a login, refresh or second factor.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "introspection",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A service's introspection_secret."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                self.access_cookie.clone(),
                "The access cookie a login sets (with token_locations including \"cookie\")."
                    .into(),
            ))),
        );
        components.add_security_scheme(
            "csrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token".to_string(),
                "With the cookie, on unsafe methods: the session's CSRF token, the `csrf_token` of \
                 the login answer or of GET /api/auth/csrf (on the same host, also the csrf \
                 cookie's value).".to_string(),
            ))),
        );
    }
}

/// Adds the answers routes share by kind, unless a route documents its own.
struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, document: &mut OpenApi) {
        // Rocket serves a feature's `/` route at its base without the slash.
        let paths = std::mem::take(&mut document.paths.paths);
        for (path, item) in paths {
            let path = match path.strip_suffix('/') {
                Some(trimmed) if !trimmed.is_empty() => trimmed.to_string(),
                _ => path,
            };
            document.paths.paths.insert(path, item);
        }
        for (path, item) in document.paths.paths.iter_mut() {
            for operation in operations_of(item) {
                add_common_answers(operation, path.contains('{'));
            }
        }
    }
}

/// `names_a_resource`: the path has a parameter (`/accounts/{id}`), which may name
/// nothing (or nothing of the caller's): 404.
fn add_common_answers(operation: &mut Operation, names_a_resource: bool) {
    let has_body = operation.request_body.is_some();
    let has_parameters = operation
        .parameters
        .as_ref()
        .is_some_and(|parameters| !parameters.is_empty());
    let signed_in = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let mut add = |status: &str, description: &str| {
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(error_answer(description)));
    };
    if has_body {
        add("400", "`invalid_json`: the body is not JSON");
        add("413", "`payload_too_large`: the body is over the limit");
        add(
            "415",
            "`unsupported_media_type`: the body is not declared application/json",
        );
    }
    if has_body || has_parameters {
        add(
            "422",
            "`validation_failed`: a field is missing or invalid (see `fields`)",
        );
    }
    if signed_in {
        add(
            "401",
            "`missing_token`, `invalid_token`, `token_expired`, `session_revoked`, \
             `two_factor_required`",
        );
        add(
            "403",
            "`account_blocked`, `account_inactive`; `csrf_failed` (cookie without X-CSRF-Token)",
        );
    }
    if names_a_resource {
        add("404", "`not_found`: no such resource, or not yours");
    }
    add("500", "`internal_error`: a failure of ours, logged");
    for (status, answer) in operation.responses.responses.iter_mut() {
        if let RefOr::T(answer) = answer {
            if answer.description.is_empty() {
                answer.description = match status.as_str() {
                    "201" => "Created".into(),
                    "202" => "Accepted".into(),
                    _ => "Success".into(),
                };
            }
        }
    }
}

/// Where the document is served, and Swagger UI beside it.
pub const DOCUMENT_PATH: &str = "/api/openapi.json";
pub const VIEWER_PATH: &str = "/api/docs";

/// `GET /api/openapi.json` and Swagger UI under `/api/docs`, its assets from the
/// binary, under their own Content-Security-Policy; no validator badge (it would call
/// swagger.io), nothing leaves the machine. Our own initializer replaces the generated
/// one, so "try it out" after a cookie login sends the CSRF header.
pub fn routes(document: OpenApi) -> Vec<rocket::Route> {
    let viewer: Vec<rocket::Route> =
        utoipa_swagger_ui::SwaggerUi::new(format!("{VIEWER_PATH}/<_..>"))
            .url(DOCUMENT_PATH, document)
            .into();
    let mut routes = crate::web::headers::with_policy(crate::web::headers::DOCS_POLICY, viewer);
    routes.extend(crate::web::headers::with_policy(
        crate::web::headers::DOCS_POLICY,
        rocket::routes![initializer],
    ));
    routes
}

/// Mounted at `/`; the static path outranks the viewer's `<_..>`.
#[rocket::get("/api/docs/swagger-initializer.js")]
fn initializer() -> (rocket::http::ContentType, &'static str) {
    (
        rocket::http::ContentType::JavaScript,
        include_str!("../../static/swagger-initializer.js"),
    )
}
