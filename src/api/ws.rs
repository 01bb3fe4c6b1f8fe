//! `GET /api/ws`: an example WebSocket that speaks for a signed-in session, the model
//! for an app's own sockets. A client authenticates with its access token in the first
//! message, or with the sign-in cookie when the page is the app's own (the Origin is
//! checked: a browser sends cookies on sockets any site opens). The server closes the
//! socket, after a `closing` event saying why, within a second of its session ending
//! on this instance (logout, block, password change) or its token expiring, unless
//! the client sent a fresher token.
//!
//! Messages are JSON. Client → server: `{"type": "authenticate", "token": …}` (first,
//! or later to renew), `{"type": "ping"}`. Server → client: `ready`, `renewed`,
//! `pong`, `error` (the socket stays open) and `closing` (it closes with 1008).

use rocket::futures::{SinkExt, StreamExt};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::State;
use rocket_ws::frame::{CloseCode, CloseFrame};
use rocket_ws::stream::DuplexStream;
use rocket_ws::{Channel, Message, WebSocket};
use serde_json::{json, Value};

use crate::app::App;
use crate::config::TokenLocation;
use crate::error::AppError;
use crate::sockets::{SocketSession, AUTHENTICATE_WITHIN, CHECK_EVERY};

/// The largest message a client may send: a token and a little more.
const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// What the opening request brings: the sign-in cookie's token, and whether the page
/// that opened the socket is one of the app's own.
pub struct Handshake {
    cookie_token: Option<String>,
    same_origin: bool,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Handshake {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(app) = request.rocket().state::<App>() else {
            return Outcome::Forward(rocket::http::Status::InternalServerError);
        };
        let cookie_token = if app.settings.accepts(TokenLocation::Cookie) {
            crate::cookies::read(request, &app.settings.cookies.access_cookie)
        } else {
            None
        };
        let same_origin = request
            .headers()
            .get_one("Origin")
            .is_some_and(|origin| is_own_origin(app, request.headers().get_one("Host"), origin));
        Outcome::Success(Handshake {
            cookie_token,
            same_origin,
        })
    }
}

/// The app's own origin: exactly `public_url`'s, or the scheme the app is served
/// over (https when its cookies are Secure) with the host the request was sent to. A
/// browser sets Host and Origin itself; a page elsewhere cannot make them agree, nor
/// pass a plain-http page of the same host for an https app.
fn is_own_origin(app: &App, host: Option<&str>, origin: &str) -> bool {
    let origin = origin.to_ascii_lowercase();
    let public = app.settings.mail.public_url.trim_end_matches('/');
    let public = public.to_ascii_lowercase();
    let public_origin = match public.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split('/').next().unwrap_or("")),
        None => String::new(),
    };
    let scheme = if app.settings.cookies.cookie_secure {
        "https"
    } else {
        "http"
    };
    let served = host
        .filter(|host| !host.is_empty())
        .map(|host| format!("{scheme}://{}", host.to_ascii_lowercase()));
    (!public_origin.is_empty() && origin == public_origin)
        || served.is_some_and(|own| origin == own)
}

/// Opens a WebSocket that speaks for a signed-in session.
///
/// The client authenticates with `{"type": "authenticate", "token": …}` as its first
/// message, or with the sign-in cookie from a page of the app's own origin. The socket
/// closes, after a `closing` event, soon after its session ends or its token expires.
#[utoipa::path(
    context_path = "/api",
    tag = "websocket",
    responses(
        (status = 101, description = "Switching Protocols: the socket is open"),
        (status = 400, description = "Not a WebSocket upgrade request", body = super::error::ErrorBody),
        (status = 401, description = "The cookie's session has ended (a token error code)", body = super::error::ErrorBody),
        (status = 403, description = "`origin_refused`: the cookie from a page of another origin; `account_blocked`", body = super::error::ErrorBody),
    ),
)]
#[get("/ws")]
pub async fn socket<'r>(
    ws: WebSocket,
    app: &'r State<App>,
    handshake: Handshake,
) -> Result<Channel<'r>, AppError> {
    let session = match handshake.cookie_token {
        Some(_) if !handshake.same_origin => return Err(AppError::OriginRefused),
        Some(token) => Some(SocketSession::open(app, &token).await?),
        None => None,
    };
    let ws = ws.config(rocket_ws::Config {
        max_message_size: Some(MAX_MESSAGE_BYTES),
        max_frame_size: Some(MAX_MESSAGE_BYTES),
        ..Default::default()
    });
    Ok(ws.channel(move |stream| {
        Box::pin(async move {
            serve(app, stream, session).await;
            Ok(())
        })
    }))
}

/// The socket's life: answer messages, and check the session every [`CHECK_EVERY`].
async fn serve(app: &App, mut stream: DuplexStream, mut session: Option<SocketSession>) {
    if let Some(session) = &session {
        let _ = send(&mut stream, ready(app, session)).await;
    }
    let opened = std::time::Instant::now();
    let mut checks = rocket::tokio::time::interval(CHECK_EVERY);
    loop {
        rocket::tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if let Err(error) = answer(app, &mut stream, &mut session, &text).await {
                        return close(&mut stream, &error).await;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            _ = checks.tick() => match &session {
                Some(open) => {
                    if let Err(error) = open.check(app).await {
                        return close(&mut stream, &error).await;
                    }
                }
                None if opened.elapsed() >= AUTHENTICATE_WITHIN => {
                    return close(&mut stream, &AppError::MissingToken).await;
                }
                None => {}
            },
        }
    }
}

/// Answers one client message; an error closes the socket.
async fn answer(
    app: &App,
    stream: &mut DuplexStream,
    session: &mut Option<SocketSession>,
    text: &str,
) -> Result<(), AppError> {
    let message: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let token = message["token"].as_str();
    match (message["type"].as_str(), session.as_mut(), token) {
        (Some("authenticate"), None, Some(token)) => {
            let opened = SocketSession::open(app, token).await?;
            let _ = send(stream, ready(app, &opened)).await;
            *session = Some(opened);
        }
        (Some("authenticate"), Some(open), Some(token)) => match open.renew(app, token).await {
            Ok(()) => {
                let renewed = json!({"type": "renewed", "expires_at": open.expires_at(app)});
                let _ = send(stream, renewed).await;
            }
            // The socket goes on with the token it has.
            Err(error) if !error.is_internal() => {
                let _ = send(stream, event("error", &error)).await;
            }
            Err(error) => return Err(error),
        },
        (_, None, _) => return Err(AppError::MissingToken),
        (Some("ping"), Some(_), _) => {
            let _ = send(stream, json!({"type": "pong", "at": app.now()})).await;
        }
        _ => {
            let unknown = json!({
                "type": "error",
                "code": "unknown_message",
                "message": "Send {\"type\": \"ping\"} or {\"type\": \"authenticate\", \"token\": …}.",
            });
            let _ = send(stream, unknown).await;
        }
    }
    Ok(())
}

fn ready(app: &App, session: &SocketSession) -> Value {
    json!({
        "type": "ready",
        "account": {"id": session.account_id, "username": session.username},
        "expires_at": session.expires_at(app),
    })
}

/// `{"type": kind, "code": …, "message": …}` of an error.
fn event(kind: &str, error: &AppError) -> Value {
    let description = error.describe();
    json!({"type": kind, "code": description.code, "message": description.sentence})
}

async fn send(stream: &mut DuplexStream, value: Value) -> Result<(), rocket_ws::result::Error> {
    stream.send(Message::Text(value.to_string())).await
}

/// Tells the client why, then closes with 1008 (policy violation) and the error code.
async fn close(stream: &mut DuplexStream, error: &AppError) {
    if error.is_internal() {
        log::error!("a WebSocket closes on an internal error: {error}");
    }
    let _ = send(stream, event("closing", error)).await;
    let frame = CloseFrame {
        code: CloseCode::Policy,
        reason: error.describe().code.into(),
    };
    let _ = stream.close(Some(frame)).await;
}
