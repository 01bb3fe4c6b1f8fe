//! `POST /api/auth/introspect`: RFC 7662 introspection, for other services holding
//! `introspection_secret`.

use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::Json;
use rocket::State;
use serde_json::{json, Value};

use crate::app::App;
use crate::auth;
use crate::error::AppError;
use crate::guards::bearer;

type ApiResult<T> = Result<T, AppError>;

/// RFC 7662's request: the token to look at, as a form.
#[derive(FromForm, utoipa::ToSchema)]
#[schema(examples(json!({
    "token": "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJnYXRlaG91c2UiLCJhdWQiOiJnYXRlaG91c2UiLCJzdWIiOiI0MiIsInNpZCI6InE4V3YyblQwYllrTDV4UjNtWnM5QXciLCJ0eXAiOiJhY2Nlc3MiLCJpYXQiOjE3NjcyMjU2MDAsImV4cCI6MTc2NzIyNjUwMH0.H0D8ktokFpR1CXnubPWC8tXX0o4YM13gWrxU0FYOD1MChgxlK_CNVgJSql50IQVG82n7u86MEs_HlXsmUv6adQ",
    "token_type_hint": "access_token"
})))]
pub struct IntrospectionRequest<'r> {
    /// The access token (a JWT) to look at.
    token: &'r str,
    /// RFC 7662's hint, optional; only access tokens are introspected. Other
    /// parameters (RFC 7662 §2.1's extensions) are ignored.
    #[allow(dead_code)]
    token_type_hint: Option<&'r str>,
}

/// Tells another service whether an access token is active (RFC 7662 introspection).
///
/// For services holding `introspection_secret` (as a bearer credential): `{"active":
/// true, sub, sid, username, exp, …}` from the session's state now, or `{"active":
/// false}`. 404 while no secret is configured.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "services",
    request_body(content = IntrospectionRequest, content_type = "application/x-www-form-urlencoded"),
    security(("introspection" = [])),
    responses(
        (
            status = 200,
            description = "`{\"active\": true, sub, sid, username, iss, aud, iat, exp, token_type, …the app's claims}`, or `{\"active\": false}`",
            body = Object,
            example = json!({
                "active": true,
                "token_type": "access_token",
                "sub": "42",
                "sid": "q8Wv2nT0bYkL5xR3mZs9Aw",
                "username": "alice",
                "iss": "gatehouse",
                "aud": "gatehouse",
                "iat": 1767225600,
                "exp": 1767226500
            })
        ),
        (status = 401, description = "`invalid_token`: no or a wrong service credential", body = super::error::ErrorBody),
        (status = 404, description = "`not_found`: no `introspection_secret` is configured", body = super::error::ErrorBody),
    ),
)]
#[post("/introspect", data = "<form>")]
pub async fn introspect(
    app: &State<App>,
    request: ServiceCredential,
    form: Option<rocket::form::Form<IntrospectionRequest<'_>>>,
) -> ApiResult<Json<Value>> {
    // The credential first: without it, nothing about the request is looked at.
    request.0?;
    let form = form.ok_or_else(|| AppError::field("token", "is required (a form field)"))?;
    let answer = auth::introspect(app, form.token).await?;
    Ok(Json(answer.unwrap_or_else(|| json!({ "active": false }))))
}

/// Whether the request carries the introspection credential: `Err` (404 when none is
/// configured, else 401) otherwise. Compared in constant time.
pub struct ServiceCredential(Result<(), AppError>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ServiceCredential {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(app) = request.rocket().state::<App>() else {
            return Outcome::Success(ServiceCredential(Err(AppError::NotFound)));
        };
        let Some(expected) = &app.settings.tokens.introspection_secret else {
            return Outcome::Success(ServiceCredential(Err(AppError::NotFound)));
        };
        let presented = request
            .headers()
            .get_one("Authorization")
            .and_then(bearer)
            .unwrap_or("");
        // Digests of equal length, so the comparison's time tells nothing, not even
        // the credential's length.
        let digest = |bytes: &[u8]| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
        let matches = aws_lc_rs::constant_time::verify_slices_are_equal(
            digest(expected).as_ref(),
            digest(presented.as_bytes()).as_ref(),
        )
        .is_ok();
        let outcome = if matches {
            Ok(())
        } else {
            Err(AppError::InvalidToken)
        };
        Outcome::Success(ServiceCredential(outcome))
    }
}
