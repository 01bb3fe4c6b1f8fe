//! The example WebSocket (`/api/ws`) with a real WebSocket client over the loopback:
//! authenticating by the first message or by the cookie (from the app's own origin
//! only), refusing ended sessions, and being closed by the server, after a `closing`
//! event, within a second of a logout or password change, and when its token expires
//! unless a fresher one was sent.

use std::time::{Duration, Instant};

use rocket::futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::cli::{gatehouse, run};
use crate::support::{http, serve_with, ServedApp, PASSWORD};

pub type Socket = tokio_tungstenite::WebSocketStream<
    tokio_tungstenite::MaybeTlsStream<rocket::tokio::net::TcpStream>,
>;

/// The tokens of a login over HTTP: (access, refresh).
async fn sign_in(app: &ServedApp, username: &str) -> (String, String) {
    let body = app.signed_in(username).await;
    let token = |name: &str| body[name].as_str().unwrap().to_string();
    (token("access_token"), token("refresh_token"))
}

pub async fn connect(app: &ServedApp, headers: &[(&str, &str)]) -> Result<Socket, u16> {
    let mut request = format!("ws://127.0.0.1:{}/api/ws", app.port)
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        let name =
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap();
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(error) => panic!("connecting: {error}"),
    }
}

pub async fn say(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string()))
        .await
        .unwrap();
}

/// The next JSON event, within `within`.
pub async fn next_event(socket: &mut Socket, within: Duration) -> Value {
    loop {
        let message = rocket::tokio::time::timeout(within, socket.next())
            .await
            .expect("an event in time")
            .expect("the socket is open")
            .expect("a message");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(frame) => {
                return json!({"type": "closed", "frame": frame.map(|f| f.reason.to_string())})
            }
            _ => continue,
        }
    }
}

/// Expects the server to close the socket within `within`: a `closing` event with
/// `code`, then the close frame. Returns how long it took.
pub async fn expect_closed(socket: &mut Socket, code: &str, within: Duration) -> Duration {
    let started = Instant::now();
    let closing = next_event(socket, within).await;
    assert_eq!(closing["type"], "closing", "{closing}");
    assert_eq!(closing["code"], code, "{closing}");
    let closed = next_event(socket, within).await;
    assert_eq!(closed["type"], "closed", "{closed}");
    assert_eq!(closed["frame"], code);
    started.elapsed()
}

async fn authenticated(app: &ServedApp, token: &str) -> Socket {
    let mut socket = connect(app, &[]).await.expect("the upgrade");
    say(&mut socket, json!({"type": "authenticate", "token": token})).await;
    let ready = next_event(&mut socket, Duration::from_secs(2)).await;
    assert_eq!(ready["type"], "ready", "{ready}");
    socket
}

#[rocket::async_test]
async fn a_token_in_the_first_message_opens_the_socket_and_a_logout_closes_it_within_a_second() {
    let app = serve_with(|f| f).await;
    let (access, _) = sign_in(&app, "alice").await;
    let mut socket = authenticated(&app, &access).await;
    say(&mut socket, json!({"type": "ping"})).await;
    assert_eq!(
        next_event(&mut socket, Duration::from_secs(2)).await["type"],
        "pong"
    );

    let bearer = format!("Bearer {access}");
    let logout = http(
        app.port,
        "POST",
        "/api/auth/logout",
        &[("Authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(logout.status, 204);
    let took = expect_closed(&mut socket, "session_revoked", Duration::from_secs(1)).await;
    assert!(took < Duration::from_secs(1), "{took:?}");

    // The ended session cannot open another.
    let mut again = connect(&app, &[]).await.unwrap();
    say(&mut again, json!({"type": "authenticate", "token": access})).await;
    expect_closed(&mut again, "session_revoked", Duration::from_secs(1)).await;
}

#[rocket::async_test]
async fn a_password_change_elsewhere_and_a_block_close_the_socket() {
    let app = serve_with(|f| f).await;
    let (on_socket, _) = sign_in(&app, "alice").await;
    let (elsewhere, _) = sign_in(&app, "alice").await;
    let mut socket = authenticated(&app, &on_socket).await;
    let bearer = format!("Bearer {elsewhere}");
    let changed = http(
        app.port,
        "POST",
        "/api/auth/password",
        &[("Authorization", &bearer)],
        Some(&json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"})),
    )
    .await;
    assert_eq!(changed.status, 204, "{}", changed.body);
    let took = expect_closed(&mut socket, "session_revoked", Duration::from_secs(1)).await;
    assert!(took < Duration::from_secs(1), "{took:?}");

    // A block from the CLI (another process) reaches the server once its cached
    // session state is session_cache_ms (1 s) old, then the socket's next check.
    let (access, _) = sign_in(&app, "bob").await;
    let mut socket = authenticated(&app, &access).await;
    let blocked = run(
        gatehouse(&app.db, &["accounts", "block", "bob", "--reason", "test"]),
        "",
    );
    assert!(blocked.status.success());
    app.clock.advance(2);
    expect_closed(&mut socket, "account_blocked", Duration::from_secs(3)).await;
}

#[rocket::async_test]
async fn an_expiring_token_closes_the_socket_unless_a_fresher_one_was_sent() {
    let app = serve_with(|f| f).await;
    let (access, refresh) = sign_in(&app, "alice").await;
    let mut renewed = authenticated(&app, &access).await;
    let mut left_alone = authenticated(&app, &access).await;

    app.clock.advance(600);
    let refreshed = http(
        app.port,
        "POST",
        "/api/auth/refresh",
        &[],
        Some(&json!({"refresh_token": refresh})),
    )
    .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let fresh = refreshed.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    // A token of another session is refused, and the socket keeps its own.
    let (someone_else, _) = sign_in(&app, "bob").await;
    say(
        &mut renewed,
        json!({"type": "authenticate", "token": someone_else}),
    )
    .await;
    assert_eq!(
        next_event(&mut renewed, Duration::from_secs(2)).await["code"],
        "invalid_token"
    );
    say(
        &mut renewed,
        json!({"type": "authenticate", "token": fresh}),
    )
    .await;
    assert_eq!(
        next_event(&mut renewed, Duration::from_secs(2)).await["type"],
        "renewed"
    );

    // Past the first token's expiry (900 s and the 30 s leeway).
    app.clock.advance(331);
    expect_closed(&mut left_alone, "token_expired", Duration::from_secs(1)).await;
    rocket::tokio::time::sleep(Duration::from_millis(600)).await;
    say(&mut renewed, json!({"type": "ping"})).await;
    assert_eq!(
        next_event(&mut renewed, Duration::from_secs(2)).await["type"],
        "pong"
    );
    app.clock.advance(1000);
    expect_closed(&mut renewed, "token_expired", Duration::from_secs(1)).await;
}

#[rocket::async_test]
async fn the_cookie_opens_a_socket_only_from_the_apps_own_origin() {
    let app = serve_with(|f| f).await;
    let (access, _) = sign_in(&app, "alice").await;
    let cookie = format!("{}={access}", crate::support::cookie_name("access"));
    let own = format!("http://127.0.0.1:{}", app.port);

    let mut socket = connect(&app, &[("Cookie", &cookie), ("Origin", &own)])
        .await
        .expect("from our own page");
    let ready = next_event(&mut socket, Duration::from_secs(2)).await;
    assert_eq!(ready["type"], "ready", "{ready}");
    assert_eq!(ready["account"]["username"], "alice");

    let https_same_host = format!("https://127.0.0.1:{}", app.port);
    let other_scheme = format!("evil://127.0.0.1:{}", app.port);
    for origin in [
        "http://evil.example",
        "null",
        "",
        &https_same_host,
        &other_scheme,
    ] {
        let refused = connect(&app, &[("Cookie", &cookie), ("Origin", origin)]).await;
        assert_eq!(refused.err(), Some(403), "Origin {origin:?}");
    }
    let refused = connect(&app, &[("Cookie", &cookie)]).await;
    assert_eq!(refused.err(), Some(403), "no Origin");

    // A cookie of an ended session is refused before the upgrade.
    let bearer = format!("Bearer {access}");
    http(
        app.port,
        "POST",
        "/api/auth/logout",
        &[("Authorization", &bearer)],
        None,
    )
    .await;
    let refused = connect(&app, &[("Cookie", &cookie), ("Origin", &own)]).await;
    assert_eq!(refused.err(), Some(401));
}

#[rocket::async_test]
async fn a_socket_must_authenticate_before_anything_else() {
    let app = serve_with(|f| f).await;
    let mut socket = connect(&app, &[]).await.unwrap();
    say(&mut socket, json!({"type": "ping"})).await;
    expect_closed(&mut socket, "missing_token", Duration::from_secs(1)).await;
    let mut socket = connect(&app, &[]).await.unwrap();
    say(
        &mut socket,
        json!({"type": "authenticate", "token": "forged.token.here"}),
    )
    .await;
    expect_closed(&mut socket, "invalid_token", Duration::from_secs(1)).await;
    // A plain GET is no upgrade: a JSON error, never a 500.
    let plain = http(app.port, "GET", "/api/ws", &[], None).await;
    assert_eq!(plain.status, 400, "{}", plain.body);
}

#[rocket::async_test]
async fn a_session_waiting_for_its_second_factor_cannot_open_a_socket() {
    use gatehouse::clock::Clock;
    let app = serve_with(|f| f).await;
    let (access, _) = sign_in(&app, "alice").await;
    let setup = app
        .post(
            "/api/auth/2fa/setup",
            Some(&access),
            &json!({"password": PASSWORD}),
        )
        .await;
    let secret = setup.json()["secret"].as_str().unwrap().to_string();
    let step = (app.clock.now() / 30 + 1) * 30 + 10;
    app.clock.set(step);
    let code = crate::two_factor::code_at(&secret, step);
    let enabled = app
        .post(
            "/api/auth/2fa/enable",
            Some(&access),
            &json!({"code": code}),
        )
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.body);

    let login = app.login("alice").await;
    assert_eq!(login.json()["two_factor_required"], true);
    let pending = login.json()["access_token"].as_str().unwrap().to_string();
    let mut socket = connect(&app, &[]).await.unwrap();
    say(
        &mut socket,
        json!({"type": "authenticate", "token": pending}),
    )
    .await;
    expect_closed(&mut socket, "two_factor_required", Duration::from_secs(1)).await;
}
