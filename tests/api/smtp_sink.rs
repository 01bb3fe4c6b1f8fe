//! A small SMTP server on loopback for the mail tests: it accepts every message, keeps
//! each as its raw text, and can be made to refuse. Plain SMTP only (the app allows
//! that to loopback addresses).

use std::sync::{Arc, Mutex};

use rocket::tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use rocket::tokio::net::TcpListener;

#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    messages: Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().unwrap().port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&messages);
        rocket::tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = Arc::clone(&store);
                rocket::tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ready\r\n").await;
                    while let Ok(Some(line)) = lines.next_line().await {
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        let answer: &[u8] = match verb.as_str() {
                            "EHLO" | "HELO" => b"250 sink\r\n",
                            "DATA" => {
                                let _ = write.write_all(b"354 end with a dot\r\n").await;
                                let mut body = String::new();
                                while let Ok(Some(line)) = lines.next_line().await {
                                    if line == "." {
                                        break;
                                    }
                                    body.push_str(&line);
                                    body.push('\n');
                                }
                                store.lock().unwrap().push(body);
                                b"250 queued\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                break;
                            }
                            _ => b"250 ok\r\n",
                        };
                        if write.write_all(answer).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        SmtpSink { port, messages }
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
                .merge(("gatehouse.mail_throttle_seconds", 0)),
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
