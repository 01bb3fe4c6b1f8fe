//! The client address behind a real reverse proxy: Debian's nginx on loopback writes
//! `X-Forwarded-For`, the binary trusts only nginx's address, and clients connect from
//! other loopback addresses (127.0.0.2, 127.0.0.3), so the address each session records
//! shows whose word was taken. Without nginx the test says it was skipped, except under
//! CI=true, where `.ci/run` installs it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use rocket::tokio::io::{AsyncReadExt, AsyncWriteExt};
use rocket::tokio::net::TcpSocket;
use serde_json::{json, Value};

use crate::{binary, free_port, wait_for, Running, PASSWORD};

fn nginx() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// One HTTP/1.0 request from the local address `from` to `to`; the status and the
/// JSON body.
async fn request(
    from: [u8; 4],
    to: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("a loopback address to bind");
    let mut stream = socket
        .connect(SocketAddr::from(([127, 0, 0, 1], to)))
        .await
        .expect("the server accepts");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut text = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        text.push_str("Content-Type: application/json\r\n");
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(text.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer[9..12].parse().expect("an HTTP status");
    let json = answer
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

#[rocket::async_test]
async fn the_client_address_is_taken_from_a_trusted_proxy_only() {
    let Some(nginx) = nginx() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but no nginx: .ci/run installs Debian's nginx");
        }
        crate::say_skipped("proxy test skipped: install Debian's nginx (apt-get install nginx)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app_port = free_port();
    let _server = Running(
        Command::new(binary())
            .env("ROCKET_PORT", app_port.to_string())
            .env("ROCKET_ADDRESS", "127.0.0.1")
            .env("ROCKET_LOG_LEVEL", "off")
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.path().join("proxy.db").display()),
            )
            .env("GATEHOUSE_ARGON2_MEMORY_KIB", "512")
            .env("GATEHOUSE_ARGON2_ITERATIONS", "1")
            .env("GATEHOUSE_RATE_LIMIT_ENABLED", "false")
            .env("GATEHOUSE_MAIL_TRANSPORT", "none")
            .env("GATEHOUSE_CLIENT_IP_HEADER", "X-Forwarded-For")
            .env("GATEHOUSE_TRUSTED_PROXIES", r#"["127.0.0.1"]"#)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the gatehouse binary starts"),
    );
    wait_for(app_port, "/api/health/live");

    let proxy_port = free_port();
    let prefix = dir.path().display();
    let config = format!(
        "daemon off;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\n\
         events {{}}\n\
         http {{\n  access_log off;\n\
           client_body_temp_path {prefix}/body;\n  proxy_temp_path {prefix}/proxy;\n\
           fastcgi_temp_path {prefix}/fastcgi;\n  uwsgi_temp_path {prefix}/uwsgi;\n\
           scgi_temp_path {prefix}/scgi;\n\
           server {{\n    listen 127.0.0.1:{proxy_port};\n\
             location / {{\n      proxy_pass http://127.0.0.1:{app_port};\n\
               proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n    }}\n  }}\n}}\n"
    );
    let config_path = dir.path().join("nginx.conf");
    std::fs::write(&config_path, config).unwrap();
    let _proxy = Running(
        Command::new(nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts"),
    );
    wait_for(proxy_port, "/api/health/live");

    let account = json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD});
    let (status, _) = request(
        [127, 0, 0, 1],
        app_port,
        "POST",
        "/api/auth/register",
        &[],
        Some(account),
    )
    .await;
    assert_eq!(status, 201);
    let login = json!({"login": "alice", "password": PASSWORD});
    let forged = [("X-Forwarded-For", "203.0.113.66")];
    // Through nginx from 127.0.0.3, with a forged header nginx appends to.
    let (status, through_proxy) = request(
        [127, 0, 0, 3],
        proxy_port,
        "POST",
        "/api/auth/login",
        &forged,
        Some(login.clone()),
    )
    .await;
    assert_eq!(status, 200, "{through_proxy}");
    // Straight to the app from 127.0.0.2, which is no trusted proxy.
    let (status, _) = request(
        [127, 0, 0, 2],
        app_port,
        "POST",
        "/api/auth/login",
        &forged,
        Some(login),
    )
    .await;
    assert_eq!(status, 200);

    let bearer = format!("Bearer {}", through_proxy["access_token"].as_str().unwrap());
    let (status, sessions) = request(
        [127, 0, 0, 1],
        app_port,
        "GET",
        "/api/auth/sessions",
        &[("Authorization", bearer.as_str())],
        None,
    )
    .await;
    assert_eq!(status, 200, "{sessions}");
    let mut addresses: Vec<&str> = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["ip"].as_str().unwrap_or("none"))
        .collect();
    addresses.sort();
    assert_eq!(addresses, ["127.0.0.2", "127.0.0.3"], "{sessions}");
}
