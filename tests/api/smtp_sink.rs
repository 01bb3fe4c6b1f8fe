//! A small SMTP server on loopback for the mail tests: it accepts every message and
//! keeps each as its raw text. Plain SMTP (the app allows that to loopback addresses),
//! or with STARTTLS under a certificate the test made ([`TestAuthority`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use rocket::tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use rocket::tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

/// A connection, plain or TLS.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send> Stream for S {}

#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    messages: Arc<Mutex<Vec<String>>>,
    /// Whether each message came over TLS, in the order of `messages`.
    secured: Arc<Mutex<Vec<bool>>>,
}

/// A certificate authority made for one test, and a server certificate it signed for
/// `localhost` and 127.0.0.1.
pub struct TestAuthority {
    pub ca_pem: String,
    server_cert: rustls::pki_types::CertificateDer<'static>,
    server_key: rustls::pki_types::PrivateKeyDer<'static>,
}

impl TestAuthority {
    pub fn new() -> TestAuthority {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Gatehouse test CA");
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let server_params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server = server_params.signed_by(&server_key, &issuer).unwrap();
        TestAuthority {
            ca_pem: ca.pem(),
            server_cert: server.der().clone(),
            server_key: rustls::pki_types::PrivateKeyDer::try_from(server_key.serialize_der())
                .unwrap(),
        }
    }

    fn acceptor(&self) -> TlsAcceptor {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![self.server_cert.clone()], self.server_key.clone_key())
            .unwrap();
        TlsAcceptor::from(Arc::new(config))
    }
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        SmtpSink::listen(None).await
    }

    /// A sink that offers STARTTLS under `authority`'s server certificate.
    pub async fn start_tls(authority: &TestAuthority) -> SmtpSink {
        SmtpSink::listen(Some(authority.acceptor())).await
    }

    async fn listen(tls: Option<TlsAcceptor>) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().unwrap().port();
        let sink = SmtpSink {
            port,
            messages: Arc::new(Mutex::new(Vec::new())),
            secured: Arc::new(Mutex::new(Vec::new())),
        };
        let server = sink.clone();
        rocket::tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (server, tls) = (server.clone(), tls.clone());
                rocket::tokio::spawn(async move {
                    let mut stream = stream;
                    let _ = stream.write_all(b"220 sink ready\r\n").await;
                    server.converse(Box::new(stream), tls, false).await;
                });
            }
        });
        sink
    }

    /// One SMTP dialogue; after STARTTLS it goes on over TLS (`tls` then `None`,
    /// `secure` true).
    fn converse(
        self,
        stream: Box<dyn Stream>,
        tls: Option<TlsAcceptor>,
        secure: bool,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            let mut stream = BufReader::new(stream);
            loop {
                let mut line = String::new();
                if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end_matches(['\r', '\n']);
                let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                let answer: &[u8] = match verb.as_str() {
                    "EHLO" | "HELO" if tls.is_some() => b"250-sink\r\n250 STARTTLS\r\n",
                    "EHLO" | "HELO" => b"250 sink\r\n",
                    "STAR" if tls.is_some() => {
                        let _ = stream.write_all(b"220 go ahead\r\n").await;
                        let acceptor = tls.clone().unwrap();
                        let Ok(secured) = acceptor.accept(stream.into_inner()).await else {
                            return;
                        };
                        return self.converse(Box::new(secured), None, true).await;
                    }
                    "DATA" => {
                        let _ = stream.write_all(b"354 end with a dot\r\n").await;
                        let mut body = String::new();
                        loop {
                            let mut line = String::new();
                            if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            let line = line.trim_end_matches(['\r', '\n']);
                            if line == "." {
                                break;
                            }
                            body.push_str(line);
                            body.push('\n');
                        }
                        self.messages.lock().unwrap().push(body);
                        self.secured.lock().unwrap().push(secure);
                        b"250 queued\r\n"
                    }
                    "QUIT" => {
                        let _ = stream.write_all(b"221 bye\r\n").await;
                        return;
                    }
                    _ => b"250 ok\r\n",
                };
                if stream.write_all(answer).await.is_err() {
                    return;
                }
            }
        })
    }

    /// Whether each message so far came over TLS.
    pub fn secured(&self) -> Vec<bool> {
        self.secured.lock().unwrap().clone()
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits until `count` messages arrived (background sends), or panics after 10 s.
    pub async fn wait_for(&self, count: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "only {} of {count} messages arrived",
                messages.len()
            );
            rocket::tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// The token of the last link to `page` (`/verify-email`, …) in a message, with the
/// quoted-printable soft breaks undone.
pub fn link_token(message: &str, page: &str) -> String {
    let text = message.replace("=\n", "").replace("=3D", "=");
    let marker = format!("{page}?token=");
    let start = text
        .rfind(&marker)
        .unwrap_or_else(|| panic!("a link to {page} in {text}"))
        + marker.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// A message's text with its quoted-printable soft breaks undone, to search.
pub fn readable(message: &str) -> String {
    message.replace("=\n", "").replace("=3D", "=")
}

/// An app that mails through `sink` (links under https://app.example.com, no
/// throttle), with further settings from `customize`.
pub async fn mailing_app_with(
    sink: &SmtpSink,
    customize: impl FnOnce(figment::Figment) -> figment::Figment,
) -> crate::support::TestApp {
    let url = sink.url();
    crate::support::spawn_app_with(move |f| {
        customize(
            f.merge(("gatehouse.mail_transport", "smtp"))
                .merge(("gatehouse.smtp_url", url))
                .merge(("gatehouse.public_url", "https://app.example.com"))
                .merge(("gatehouse.mail_throttle_seconds", 0))
                .merge(("gatehouse.mail_recipient_limit", "1000/hour"))
                .merge(("gatehouse.mail_notice_limit", "1000/hour")),
        )
    })
    .await
}

impl SmtpSink {
    /// The messages that went to `address` so far.
    pub fn to(&self, address: &str) -> Vec<String> {
        let header = format!("To: {address}");
        self.messages()
            .into_iter()
            .filter(|m| m.lines().any(|line| line == header))
            .collect()
    }

    /// Waits for a message to `address` whose text contains `words`, or panics after 10 s.
    pub async fn wait_for_one(&self, address: &str, words: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(found) = self
                .to(address)
                .into_iter()
                .find(|m| readable(m).contains(words))
            {
                return found;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no message to {address} saying {words:?}: {:#?}",
                self.messages()
            );
            rocket::tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// Follows the verification link the sink got for `address` (registration sends
/// one): security notices go only to a verified address.
pub async fn verify_address(app: &crate::support::TestApp, sink: &SmtpSink, address: &str) {
    let message = sink.wait_for_one(address, "/verify-email?token=").await;
    let token = link_token(&message, "/verify-email");
    let response = app
        .post(
            "/api/auth/email/verify",
            serde_json::json!({ "token": token }),
        )
        .await;
    assert_eq!(
        response.status(),
        rocket::http::Status::Ok,
        "verifying {address}"
    );
}

/// A message's body (both parts), without its headers: what its reader sees.
pub fn body_of(message: &str) -> String {
    let text = readable(message).replace("\r\n", "\n");
    text.split_once("\n\n")
        .map_or(text.clone(), |(_, body)| body.to_string())
}
