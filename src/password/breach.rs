//! The optional breach check: is a new password among those leaked in known breaches?
//! Asked of a Have I Been Pwned style range API with k-anonymity: only the first five
//! hex digits of the password's SHA-1 leave the machine, the answer lists every
//! suffix under that prefix (padded with decoys), and the match is made here. A slow
//! or failing service never blocks a registration: the check fails open and says so in
//! the log.

use std::time::Duration;

use aws_lc_rs::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY};

use crate::config::Passwords;

pub struct BreachCheck {
    client: reqwest::Client,
    /// Ends with the path the five-digit prefix is appended to.
    api: String,
}

impl BreachCheck {
    /// The check, when `password_breach_check` turns it on.
    pub fn from_settings(settings: &Passwords) -> Result<Option<BreachCheck>, String> {
        if !settings.password_breach_check {
            return Ok(None);
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.password_breach_timeout_ms))
            .user_agent(concat!(
                env!("CARGO_PKG_NAME"),
                "/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| format!("cannot build the HTTP client of the breach check: {e}"))?;
        Ok(Some(BreachCheck {
            client,
            api: settings.password_breach_api.clone(),
        }))
    }

    /// How many times the (normalised) password appears in known breaches; 0 when the
    /// service could not be asked (logged).
    pub async fn times_breached(&self, normalized_password: &str) -> u64 {
        let hash =
            hex_upper(digest(&SHA1_FOR_LEGACY_USE_ONLY, normalized_password.as_bytes()).as_ref());
        let (prefix, suffix) = hash.split_at(5);
        let answer = self
            .client
            .get(format!("{}{prefix}", self.api))
            .header("Add-Padding", "true")
            .send()
            .await
            .and_then(reqwest::Response::error_for_status);
        let body = match answer {
            Ok(response) => response.text().await,
            Err(error) => Err(error),
        };
        match body {
            Ok(body) => count_of(&body, suffix),
            Err(error) => {
                log::warn!("the password breach check failed open: {error}");
                0
            }
        }
    }
}

/// The count listed for `suffix` in a range answer (`SUFFIX:COUNT` lines; decoys count 0).
fn count_of(body: &str, suffix: &str) -> u64 {
    body.lines()
        .filter_map(|line| line.trim().split_once(':'))
        .find(|(listed, _)| listed.eq_ignore_ascii_case(suffix))
        .and_then(|(_, count)| count.trim().parse().ok())
        .unwrap_or(0)
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_answer_is_matched_on_the_suffix_and_decoys_count_nothing() {
        let body = "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n\
                    1E4C9B93F3F0682250B6CF8331B7EE68FD8:3861493\r\n\
                    00D4F6E8FA6EECAD2A3AA415EEC418D38EC:0\r\n";
        assert_eq!(
            count_of(body, "1e4c9b93f3f0682250b6cf8331b7ee68fd8"),
            3861493
        );
        assert_eq!(count_of(body, "00D4F6E8FA6EECAD2A3AA415EEC418D38EC"), 0);
        assert_eq!(count_of(body, "FFFFF"), 0);
        // SHA-1("password") = 5BAA6 1E4C9B93F3F0682250B6CF8331B7EE68FD8
        let hash = hex_upper(digest(&SHA1_FOR_LEGACY_USE_ONLY, b"password").as_ref());
        assert_eq!(hash, "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8");
    }
}
