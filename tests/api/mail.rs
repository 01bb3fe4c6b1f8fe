//! Mail delivery: the transports (SMTP to a sink on loopback, `.eml` files, none),
//! `gatehouse mail test`, background sending with its throttle, failures audited, and
//! release refusing to start without an explicit transport.

use gatehouse::mail::{Letter, TestHtml, TestText};
use rocket::http::Status;

use crate::cli::{assert_fails, gatehouse, stderr, stdout};
use crate::smtp_sink::SmtpSink;
use crate::support::{spawn_app_with, test_figment};

#[rocket::async_test]
async fn mail_test_sends_a_plain_and_html_message_through_smtp() {
    let sink = SmtpSink::start().await;
    let app = crate::support::spawn_app().await;
    let output = gatehouse(&app.db, &["mail", "test", "ops@example.com"])
        .env("GATEHOUSE_MAIL_TRANSPORT", "smtp")
        .env("GATEHOUSE_SMTP_URL", sink.url())
        .env("GATEHOUSE_PUBLIC_URL", "https://app.example.com")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("through SMTP"));
    let message = &sink.messages()[0];
    assert!(message.contains("To: ops@example.com"), "{message}");
    assert!(message.contains("Subject: Test message from"), "{message}");
    assert!(message.contains("multipart/alternative"), "{message}");
    assert!(message.contains("text/plain") && message.contains("text/html"));
    assert!(message.contains("https://app.example.com"), "{message}");
}

#[rocket::async_test]
async fn mail_test_writes_an_eml_file_or_says_why_nothing_was_sent() {
    let app = crate::support::spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let output = gatehouse(&app.db, &["mail", "test", "ops@example.com"])
        .env("GATEHOUSE_MAIL_TRANSPORT", "file")
        .env("GATEHOUSE_MAIL_DIR", dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let written: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(written.len(), 1);
    assert!(stdout(&output).contains(".eml"));

    // The transport switched off, or the server down: a sentence and exit 1.
    let off = gatehouse(&app.db, &["mail", "test", "ops@example.com"])
        .output()
        .unwrap();
    assert_fails(&off, "nothing is sent");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let down = gatehouse(&app.db, &["mail", "test", "ops@example.com"])
        .env("GATEHOUSE_MAIL_TRANSPORT", "smtp")
        .env("GATEHOUSE_SMTP_URL", format!("smtp://127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert_fails(&down, "was not sent");
    let bad = gatehouse(&app.db, &["mail", "test", "not an address"])
        .output()
        .unwrap();
    assert_fails(&bad, "not an email address");
}

fn letter(to: &str) -> Letter {
    Letter::render(
        to.parse().unwrap(),
        "Hello".into(),
        "test",
        None,
        &TestText {
            app: "Gatehouse",
            public_url: "https://app.example.com",
        },
        &TestHtml {
            app: "Gatehouse",
            public_url: "https://app.example.com",
        },
    )
    .unwrap()
}

#[rocket::async_test]
async fn background_sends_are_throttled_per_recipient_and_failures_audited() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(|f| {
        f.merge(("gatehouse.mail_transport", "smtp"))
            .merge(("gatehouse.smtp_url", sink.url()))
    })
    .await;
    let state = app.client.rocket().state::<gatehouse::app::App>().unwrap();
    for _ in 0..3 {
        state.outbox.send_in_background(letter("ann@example.com"));
    }
    state.outbox.send_in_background(letter("bob@example.com"));
    let messages = sink.wait_for(2).await;
    rocket::tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(sink.messages().len(), 2, "one per recipient: {messages:?}");

    // A server that is gone: the send fails in the background and is audited.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let down = spawn_app_with(|f| {
        f.merge(("gatehouse.mail_transport", "smtp"))
            .merge(("gatehouse.smtp_url", format!("smtp://127.0.0.1:{port}")))
    })
    .await;
    let state = down.client.rocket().state::<gatehouse::app::App>().unwrap();
    state.outbox.send_in_background(letter("ann@example.com"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let failed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM auth_events WHERE kind = 'mail_failed'")
                .fetch_one(&down.pool())
                .await
                .unwrap();
        if failed == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no mail_failed event");
        rocket::tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        down.client
            .get("/api/health/live")
            .dispatch()
            .await
            .status(),
        Status::Ok
    );
}

#[test]
fn release_needs_an_explicit_transport_and_a_public_url() {
    let release = || {
        test_figment("sqlite::memory:")
            .select("release")
            .merge(("gatehouse.mail_transport", ""))
    };
    let refusal = |figment| match gatehouse::rocket(figment) {
        Ok(_) => panic!("release started"),
        Err(error) => error.to_string(),
    };
    assert!(refusal(release()).contains("mail_transport"));
    let file = release().merge(("gatehouse.mail_transport", "file"));
    assert!(refusal(file).contains("public_url"));
    let none = release().merge(("gatehouse.mail_transport", "none"));
    assert!(gatehouse::rocket(none).is_ok());
}

#[rocket::async_test]
async fn starttls_checks_the_certificate_against_the_trusted_authority() {
    use crate::smtp_sink::TestAuthority;
    let authority = TestAuthority::new();
    let sink = SmtpSink::start_tls(&authority).await;
    let app = crate::support::spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("test-ca.pem");
    std::fs::write(&ca_file, &authority.ca_pem).unwrap();
    let url = format!("smtp://localhost:{}?tls=required", sink.port);
    let send = |ca: Option<&std::path::Path>| {
        let mut command = gatehouse(&app.db, &["mail", "test", "ops@example.com"]);
        command
            .env("GATEHOUSE_MAIL_TRANSPORT", "smtp")
            .env("GATEHOUSE_SMTP_URL", &url)
            .env("GATEHOUSE_PUBLIC_URL", "https://app.example.com");
        if let Some(ca) = ca {
            command.env("GATEHOUSE_SMTP_CA_FILE", ca);
        }
        command.output().unwrap()
    };
    // Not trusted: the certificate is refused and nothing is sent.
    let refused = send(None);
    assert!(!refused.status.success(), "{}", stdout(&refused));
    assert!(sink.messages().is_empty());
    // Trusted through smtp_ca_file: the message goes over TLS.
    let output = send(Some(&ca_file));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(sink.secured(), vec![true]);
    assert!(sink.messages()[0].contains("To: ops@example.com"));
    // A file that holds no certificate stops the command with a sentence.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate").unwrap();
    assert_fails(&send(Some(&empty)), "smtp_ca_file");
}
