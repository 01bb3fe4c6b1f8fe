//! `/api/auth`: register, login, refresh, logout, me and password change.

use rocket::http::{CookieJar, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::Json;
use rocket::State;
use serde::{Deserialize, Serialize};

use super::body::{JsonBody, OptionalJson};
use crate::accounts::Account;
use crate::app::App;
use crate::auth::{self, IssuedTokens, Registration};
use crate::config::TokenLocation;
pub use crate::cookies::{clear_auth_cookies, set_auth_cookies};
use crate::error::AppError;
use crate::guards::{bearer, check_csrf_header, AuthAccount};
use crate::sessions::ClientInfo;
use crate::tokens::TokenKind;

type ApiResult<T> = Result<T, AppError>;

/// A new account: a username, an email address and a password; a display name if wanted.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "username": "alice",
    "email": "alice@example.com",
    "password": "correct horse battery staple",
    "display_name": "Alice Liddell"
})))]
pub struct RegisterRequest {
    /// The name to sign in with: 3 to 32 letters, digits, `_`, `-` or `.`, in one
    /// script; unique, look-alikes included.
    #[schema(min_length = 3, max_length = 32, pattern = r"^[A-Za-z0-9_.-]{3,32}$")]
    username: String,
    /// An email address, at most 254 bytes; unique.
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// 15 to 1024 characters (the minimum is the `password_min_length` setting, 15 by
    /// default; the maximum counts bytes); not common, nor made of the username or
    /// email.
    #[schema(format = Password, min_length = 15, max_length = 1024)]
    password: String,
    /// How the person likes to be called: one line of at most 100 characters;
    /// optional.
    #[serde(default)]
    #[schema(max_length = 100)]
    display_name: Option<String>,
    /// An SPA's target for the verification link, among `link_allowlist`.
    #[serde(default)]
    redirect_to: Option<String>,
}

/// An answer naming one account.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "account": {
        "id": 42,
        "username": "alice",
        "email": "alice@example.com",
        "display_name": "Alice Liddell",
        "is_active": true,
        "is_staff": false,
        "is_superuser": false,
        "created_at": 1767225600,
        "email_verified": false,
        "email_verified_at": null
    }
})))]
pub struct AccountAnswer {
    pub account: Account,
}

/// Opens an account.
///
/// Only while `registration_open` is on. With mail on, a verification link goes to the
/// address.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, body = AccountAnswer),
        (status = 409, description = "`conflict`: the username or email is taken (see `fields`)", body = super::error::ErrorBody),
        (status = 403, description = "`registration_closed`", body = super::error::ErrorBody),
        (status = 429, description = "`rate_limited`", body = super::error::ErrorBody),
        (status = 503, description = "`server_busy`: the hashing queue is full", body = super::error::ErrorBody),
    ),
)]
#[post("/register", data = "<body>")]
pub async fn register(
    app: &State<App>,
    client: ClientInfo,
    body: JsonBody<RegisterRequest>,
) -> ApiResult<(Status, Json<AccountAnswer>)> {
    let input = Registration {
        username: &body.0.username,
        email: &body.0.email,
        password: &body.0.password,
        display_name: body.0.display_name.as_deref(),
        redirect_to: body.0.redirect_to.as_deref(),
    };
    let account = auth::register(app, &input, &client).await?;
    Ok((Status::Created, Json(AccountAnswer { account })))
}

/// A sign-in: who, the password, and whether to remember the device.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "login": "alice",
    "password": "correct horse battery staple",
    "remember": false
})))]
pub struct LoginRequest {
    /// A username or an email, at most 1024 bytes (the field may also be named
    /// `username` or `email`).
    #[serde(alias = "username", alias = "email")]
    #[schema(min_length = 1, max_length = 1024)]
    login: String,
    /// The account's password, at most 1024 bytes.
    #[schema(format = Password, max_length = 1024)]
    password: String,
    /// "Remember me": the session lasts `remember_ttl` (30 days by default) instead of
    /// `refresh_ttl` (a day), and its cookies outlive the browser. False by default.
    #[serde(default)]
    remember: bool,
}

/// The body of a successful login or refresh.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "access_token": "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJnYXRlaG91c2UiLCJhdWQiOiJnYXRlaG91c2UiLCJzdWIiOiI0MiIsInNpZCI6InE4V3YyblQwYllrTDV4UjNtWnM5QXciLCJ0eXAiOiJhY2Nlc3MiLCJpYXQiOjE3NjcyMjU2MDAsImV4cCI6MTc2NzIyNjUwMH0.H0D8ktokFpR1CXnubPWC8tXX0o4YM13gWrxU0FYOD1MChgxlK_CNVgJSql50IQVG82n7u86MEs_HlXsmUv6adQ",
    "refresh_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJnYXRlaG91c2UiLCJhdWQiOiJnYXRlaG91c2UiLCJzdWIiOiI0MiIsInNpZCI6InE4V3YyblQwYllrTDV4UjNtWnM5QXciLCJ0eXAiOiJyZWZyZXNoIiwiaWF0IjoxNzY3MjI1NjAwLCJleHAiOjE3NjczMTIwMDAsImdlbiI6MX0.qILwrISLC2tMp7Qr-h0mav0N3rqSBK5XqYSmk3bVmBa",
    "token_type": "Bearer",
    "expires_in": 900,
    "two_factor_required": false,
    "csrf_token": "jusSjtL0EzzQo8NCEhs35UwKSpgiP3IcCcsa-mkVAtw"
})))]
pub struct TokenPair {
    /// The access token (a JWT), sent as `Authorization: Bearer …`.
    access_token: String,
    /// The refresh token (a JWT), for `/api/auth/refresh`; absent while the login waits
    /// for its second factor.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: i64,
    /// True when the login waits for its second factor: the access token then only
    /// serves `/api/auth/2fa/verify`.
    two_factor_required: bool,
    /// While `two_factor_required`: the second factors that may complete the login,
    /// such as `totp` (a code at `/api/auth/2fa/verify`). Absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>, example = json!(["totp"]))]
    methods: Vec<&'static str>,
    /// The session's CSRF token, when the answer also set the sign-in cookies: an app
    /// on another host cannot read the CSRF cookie, and sends this as `X-CSRF-Token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
}

impl From<&IssuedTokens> for TokenPair {
    fn from(tokens: &IssuedTokens) -> TokenPair {
        TokenPair {
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone(),
            token_type: "Bearer",
            expires_in: tokens.expires_in,
            two_factor_required: tokens.two_factor_required,
            methods: tokens.methods.clone(),
            csrf_token: None,
        }
    }
}

impl TokenPair {
    /// The pair, with the session's CSRF token when cookies carry the session.
    pub fn with_cookies(tokens: &IssuedTokens, settings: &crate::config::Settings) -> TokenPair {
        TokenPair {
            csrf_token: settings
                .accepts(TokenLocation::Cookie)
                .then(|| crate::cookies::session_csrf_token(settings, &tokens.session_id)),
            ..TokenPair::from(tokens)
        }
    }

    /// A sign-in's answer: the session's cookies set (where cookies carry sessions)
    /// and the pair, with its CSRF token.
    pub fn signed_in(
        cookies: &rocket::http::CookieJar<'_>,
        settings: &crate::config::Settings,
        tokens: &IssuedTokens,
    ) -> Json<TokenPair> {
        crate::cookies::start_session_cookies(cookies, settings, tokens);
        Json(TokenPair::with_cookies(tokens, settings))
    }
}

/// The CSRF token a cookie-authenticated request must send as `X-CSRF-Token`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(examples(json!({ "csrf_token": "jusSjtL0EzzQo8NCEhs35UwKSpgiP3IcCcsa-mkVAtw" })))]
pub struct CsrfAnswer {
    /// The value for the `X-CSRF-Token` header.
    csrf_token: String,
}

/// Gives the CSRF token to send as `X-CSRF-Token`.
///
/// The signed-in session's when the sign-in cookie is sent, else this browser's. For
/// apps on another host, which cannot read the CSRF cookie.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "auth",
    responses((status = 200, body = CsrfAnswer)),
)]
#[get("/csrf")]
pub async fn csrf(app: &State<App>, request: CsrfRequest<'_>) -> Json<CsrfAnswer> {
    let settings = &app.settings;
    let session = match crate::cookies::read(request.0, &settings.cookies.access_cookie) {
        Some(token) => auth::authenticate(app, &token).await.ok(),
        None => None,
    };
    let csrf_token = match session {
        Some(found) => {
            crate::cookies::session_csrf_cookie(request.0.cookies(), settings, &found.session_id)
        }
        None => crate::cookies::csrf_token(request.0, settings),
    };
    Json(CsrfAnswer { csrf_token })
}

/// The request itself, for the CSRF route's cookie reads.
pub struct CsrfRequest<'r>(&'r Request<'r>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CsrfRequest<'r> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ()> {
        Outcome::Success(CsrfRequest(request))
    }
}

/// Signs in with a username or email and the password.
///
/// With 2FA on, the answer's `two_factor_required` is true and its access token only
/// serves `/2fa/verify`.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 401, description = "`invalid_credentials`", body = super::error::ErrorBody),
        (status = 403, description = "`account_blocked`, `account_inactive`, `email_unverified`", body = super::error::ErrorBody),
        (status = 423, description = "`account_locked` (with `retry_after` unless only an admin can unlock)", body = super::error::ErrorBody),
        (status = 429, description = "`rate_limited`", body = super::error::ErrorBody),
        (status = 503, description = "`server_busy`: the hashing queue is full", body = super::error::ErrorBody),
    ),
)]
#[post("/login", data = "<body>")]
pub async fn login(
    app: &State<App>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
    body: JsonBody<LoginRequest>,
) -> ApiResult<Json<TokenPair>> {
    let request = body.0;
    let tokens = auth::login(
        app,
        &request.login,
        &request.password,
        request.remember,
        &client,
    )
    .await?;
    Ok(TokenPair::signed_in(cookies, &app.settings, &tokens))
}

/// The refresh token, when neither the `Authorization` header nor the refresh cookie
/// carries it.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(examples(json!({ "refresh_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJnYXRlaG91c2UiLCJhdWQiOiJnYXRlaG91c2UiLCJzdWIiOiI0MiIsInNpZCI6InE4V3YyblQwYllrTDV4UjNtWnM5QXciLCJ0eXAiOiJyZWZyZXNoIiwiaWF0IjoxNzY3MjI1NjAwLCJleHAiOjE3NjczMTIwMDAsImdlbiI6MX0.qILwrISLC2tMp7Qr-h0mav0N3rqSBK5XqYSmk3bVmBa" })))]
pub struct RefreshRequest {
    /// The session's refresh token (a JWT), from the last login or refresh.
    refresh_token: String,
}

/// The refresh token, from the `Authorization` header, then the refresh cookie, then
/// the body.
/// A refresh token from the cookie needs the CSRF header, like any cookie-borne token.
pub struct PresentedRefreshToken(Result<Option<String>, AppError>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for PresentedRefreshToken {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ()> {
        let header = request
            .headers()
            .get_one("Authorization")
            .map(|v| bearer(v).map(str::to_owned));
        let cookie = match request.rocket().state::<App>() {
            Some(app) if app.settings.accepts(TokenLocation::Cookie) => {
                crate::cookies::read(request, &app.settings.cookies.refresh_cookie).map(|token| {
                    let checked = check_csrf_header(request, app, &token, TokenKind::Refresh);
                    (token, checked)
                })
            }
            _ => None,
        };
        // A malformed Authorization header is presented as an empty (invalid) token
        // rather than silently skipped.
        let token = match (header, cookie) {
            (Some(value), _) => Ok(Some(value.unwrap_or_default())),
            (None, Some((token, Ok(())))) => Ok(Some(token)),
            (None, Some((_, Err(error)))) => Err(error),
            (None, None) => Ok(None),
        };
        Outcome::Success(PresentedRefreshToken(token))
    }
}

/// Exchanges a refresh token for a new pair of tokens.
///
/// The refresh token comes from the `Authorization` header, the refresh cookie (with
/// X-CSRF-Token), or the body; the session moves to its next generation, and the old
/// refresh token stops working.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "auth",
    request_body(
        content = Option<RefreshRequest>,
        description = "Only when the token is in neither the header nor the cookie.",
        example = json!({ "refresh_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJnYXRlaG91c2UiLCJhdWQiOiJnYXRlaG91c2UiLCJzdWIiOiI0MiIsInNpZCI6InE4V3YyblQwYllrTDV4UjNtWnM5QXciLCJ0eXAiOiJyZWZyZXNoIiwiaWF0IjoxNzY3MjI1NjAwLCJleHAiOjE3NjczMTIwMDAsImdlbiI6MX0.qILwrISLC2tMp7Qr-h0mav0N3rqSBK5XqYSmk3bVmBa" })
    ),
    responses(
        (status = 200, body = TokenPair),
        (status = 401, description = "`missing_token`, `invalid_token`, `token_expired`, `session_revoked`, `token_reused`", body = super::error::ErrorBody),
        (status = 403, description = "`account_blocked`, `account_inactive`, `csrf_failed`", body = super::error::ErrorBody),
        (status = 429, description = "`rate_limited`", body = super::error::ErrorBody),
    ),
)]
#[post("/refresh", data = "<body>")]
pub async fn refresh(
    app: &State<App>,
    client: ClientInfo,
    presented: PresentedRefreshToken,
    cookies: &CookieJar<'_>,
    body: OptionalJson<RefreshRequest>,
) -> ApiResult<Json<TokenPair>> {
    let token = presented
        .0?
        .or(body.0.map(|b| b.refresh_token))
        .ok_or(AppError::MissingToken)?;
    let outcome = auth::refresh(app, &token, &client).await;
    match &outcome {
        Ok(tokens) => set_auth_cookies(cookies, &app.settings, tokens),
        Err(AppError::TokenReused | AppError::SessionRevoked | AppError::AccountBlocked) => {
            clear_auth_cookies(cookies, &app.settings)
        }
        Err(_) => {}
    }
    Ok(Json(TokenPair::with_cookies(&outcome?, &app.settings)))
}

/// A token naming the session to end, for logout: the `Authorization` header's
/// (access or refresh), else the access cookie's, else the refresh cookie's (either
/// cookie with the CSRF header, like any cookie-borne token).
pub struct LogoutToken(Result<Option<String>, AppError>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for LogoutToken {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ()> {
        if let Some(value) = request.headers().get_one("Authorization") {
            let token = bearer(value)
                .map(str::to_owned)
                .ok_or(AppError::InvalidToken);
            return Outcome::Success(LogoutToken(token.map(Some)));
        }
        let Some(app) = request.rocket().state::<App>() else {
            return Outcome::Success(LogoutToken(Ok(None)));
        };
        if !app.settings.accepts(TokenLocation::Cookie) {
            return Outcome::Success(LogoutToken(Ok(None)));
        }
        let settings = &app.settings.cookies;
        let from_cookies = [
            (&settings.access_cookie, TokenKind::Access),
            (&settings.refresh_cookie, TokenKind::Refresh),
        ];
        for (name, kind) in from_cookies {
            let Some(cookie) = request
                .cookies()
                .get(name)
                .filter(|c| !c.value().is_empty())
            else {
                continue;
            };
            let token = cookie.value().to_owned();
            let checked = check_csrf_header(request, app, &token, kind).map(|()| Some(token));
            return Outcome::Success(LogoutToken(checked));
        }
        Outcome::Success(LogoutToken(Ok(None)))
    }
}

/// The token naming the session to end, when neither the header nor a cookie carries
/// one.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(examples(json!({ "refresh_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJnYXRlaG91c2UiLCJhdWQiOiJnYXRlaG91c2UiLCJzdWIiOiI0MiIsInNpZCI6InE4V3YyblQwYllrTDV4UjNtWnM5QXciLCJ0eXAiOiJyZWZyZXNoIiwiaWF0IjoxNzY3MjI1NjAwLCJleHAiOjE3NjczMTIwMDAsImdlbiI6MX0.qILwrISLC2tMp7Qr-h0mav0N3rqSBK5XqYSmk3bVmBa" })))]
pub struct LogoutRequest {
    /// The session's refresh token (its access token works too), even an expired one.
    refresh_token: Option<String>,
}

/// Ends the session of the token presented and clears the auth cookies.
///
/// The access or refresh token comes from the header, a cookie or
/// `{refresh_token}`, and may have expired; the cookies are cleared whatever state the
/// session was in. Only a token that verifies (and, from a cookie, comes with the CSRF
/// header) clears them: a cross-site form cannot sign a browser out.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "auth",
    request_body(
        content = Option<LogoutRequest>,
        description = "Only when no token is in the header or a cookie.",
        example = json!({ "refresh_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJnYXRlaG91c2UiLCJhdWQiOiJnYXRlaG91c2UiLCJzdWIiOiI0MiIsInNpZCI6InE4V3YyblQwYllrTDV4UjNtWnM5QXciLCJ0eXAiOiJyZWZyZXNoIiwiaWF0IjoxNzY3MjI1NjAwLCJleHAiOjE3NjczMTIwMDAsImdlbiI6MX0.qILwrISLC2tMp7Qr-h0mav0N3rqSBK5XqYSmk3bVmBa" })
    ),
    responses(
        (status = 204, description = "The session ended (also when it had ended already)."),
        (status = 401, description = "`missing_token`, `invalid_token`", body = super::error::ErrorBody),
        (status = 403, description = "`csrf_failed`", body = super::error::ErrorBody),
    ),
)]
#[post("/logout", data = "<body>")]
pub async fn logout(
    app: &State<App>,
    presented: LogoutToken,
    body: Option<OptionalJson<LogoutRequest>>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
) -> ApiResult<Status> {
    let from_body = body.and_then(|b| b.0).and_then(|b| b.refresh_token);
    let token = match presented.0? {
        Some(token) => token,
        None => from_body.ok_or(AppError::MissingToken)?,
    };
    auth::logout(app, &token, &client).await?;
    crate::cookies::end_session_cookies(cookies, &app.settings);
    Ok(Status::NoContent)
}

/// A proof of the user: the password, a code (with 2FA on), or a passkey's answer to
/// a ceremony (`challenge_id` with `credential`); exactly one of them.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(
    json!({ "password": "correct horse battery staple" }),
    json!({ "code": "123456" })
))]
pub struct Reauthentication {
    /// The account's password, at most 1024 bytes; give this or `code`.
    #[serde(default)]
    #[schema(format = Password, max_length = 1024)]
    password: Option<String>,
    /// A TOTP code (6 digits) or an unused recovery code (`abcd-efgh-2345`), for an
    /// account with 2FA on; give this or `password`.
    #[serde(default)]
    #[schema(pattern = r"^([0-9]{6}|[A-Za-z2-7]{4}-?[A-Za-z2-7]{4}-?[A-Za-z2-7]{4})$")]
    code: Option<String>,
    /// A ceremony this session started for re-authentication
    /// (`/reauthenticate/passkey/start`); give it with `credential`.
    #[serde(default)]
    #[schema(max_length = 64)]
    challenge_id: Option<String>,
    /// The browser's answer to that ceremony (`navigator.credentials.get()`, as JSON).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    credential: Option<serde_json::Value>,
}

/// Proves the user again, for the routes behind `Fresh`.
///
/// Takes `{password}`, `{code}` (TOTP or recovery code) or a passkey's
/// `{challenge_id, credential}` (from `/reauthenticate/passkey/start`); answers when
/// the proof was made and how long `Fresh` routes accept it.
#[utoipa::path(
    context_path = "/api/auth",
    tag = "auth",
    request_body = Reauthentication,
    security(("bearer" = []), ("cookie" = [], "csrf" = [])),
    responses(
        (status = 200, body = Reauthenticated),
        (status = 401, description = "`invalid_credentials` (a wrong password), `invalid_otp` (a wrong code), `passkey_refused`, or a token error", body = super::error::ErrorBody),
        (status = 409, description = "`conflict`: a code, but 2FA is off", body = super::error::ErrorBody),
        (status = 423, description = "`account_locked`", body = super::error::ErrorBody),
        (status = 429, description = "`rate_limited`", body = super::error::ErrorBody),
        (status = 503, description = "`server_busy`: the hashing queue is full", body = super::error::ErrorBody),
    ),
)]
#[post("/reauthenticate", data = "<body>")]
pub async fn reauthenticate(
    app: &State<App>,
    caller: AuthAccount,
    client: ClientInfo,
    body: JsonBody<Reauthentication>,
) -> ApiResult<Json<Reauthenticated>> {
    use crate::reauthentication::Proof;
    let body = &body.0;
    let ceremony = (&body.challenge_id, &body.credential);
    let proof = match (&body.password, &body.code, ceremony) {
        (Some(password), None, (None, None)) => Proof::Password(password),
        (None, Some(code), (None, None)) => Proof::Code(code),
        (None, None, (Some(challenge_id), Some(response))) => Proof::Ceremony {
            challenge_id,
            response,
        },
        _ => {
            return Err(AppError::field(
                "password",
                "give the password, a code, or a challenge_id with its credential",
            ))
        }
    };
    let proved_at = crate::reauthentication::reauthenticate(
        app,
        caller.account.id,
        &caller.session_id,
        proof,
        &client,
    )
    .await?;
    Ok(Json(Reauthenticated {
        proved_at,
        max_age: app.settings.bounds.reauthentication_max_age,
    }))
}

/// When the session's user proved themselves, and how long `Fresh` routes accept it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(examples(json!({ "proved_at": 1767225600, "max_age": 600 })))]
pub struct Reauthenticated {
    /// When, in unix seconds.
    proved_at: i64,
    /// Seconds the proof counts for (`reauthentication_max_age`).
    max_age: i64,
}
