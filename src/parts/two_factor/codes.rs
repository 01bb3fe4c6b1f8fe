//! The codes themselves: TOTP (RFC 6238 as authenticator apps expect it: SHA-1, six
//! digits, 30-second steps, one step of drift either way) through totp-rs, and the
//! single-use recovery codes.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use totp_rs::{Algorithm, TOTP};

/// Bytes of a new TOTP secret: 160 bits, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;
/// Seconds per TOTP step.
pub const STEP_SECONDS: i64 = 30;
/// Recovery codes per set.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code (base32, so 5 bits each: 60 bits).
const RECOVERY_CODE_CHARS: usize = 12;
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The TOTP of `secret`, labelled for authenticator apps.
pub fn totp(secret: Vec<u8>, issuer: &str, account_name: &str) -> Result<TOTP, String> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECONDS as u64,
        secret,
        Some(issuer.to_string()),
        account_name.to_string(),
    )
    .map_err(|e| format!("TOTP parameters: {e}"))
}

/// The step `code` belongs to if it is the code of the step of `now` or of one step
/// either side. All three are computed and compared in constant time, so the answer's
/// timing says nothing about which (if any) matched.
pub fn matching_step(totp: &TOTP, code: &str, now: i64) -> Option<i64> {
    let current = now.div_euclid(STEP_SECONDS);
    let mut found = None;
    for step in [current - 1, current, current + 1] {
        let Ok(time) = u64::try_from(step * STEP_SECONDS) else {
            continue;
        };
        let expected = totp.generate(time);
        if verify_slices_are_equal(expected.as_bytes(), code.as_bytes()).is_ok() {
            found = Some(step);
        }
    }
    found
}

/// What the user typed as a second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// Six digits.
    Totp(String),
    /// A recovery code, normalised (no dashes or spaces, lower case).
    Recovery(String),
    /// Neither: counted as a wrong code.
    Malformed,
}

impl Presented {
    pub fn parse(input: &str) -> Presented {
        let compact: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if compact.len() == 6 && compact.bytes().all(|b| b.is_ascii_digit()) {
            return Presented::Totp(compact);
        }
        let lower = compact.to_ascii_lowercase();
        if lower.len() == RECOVERY_CODE_CHARS && lower.bytes().all(|b| BASE32.contains(&b)) {
            return Presented::Recovery(lower);
        }
        Presented::Malformed
    }
}

/// A fresh set of recovery codes, as shown to the user (`abcd-efgh-ijkl`).
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            // 256 is a multiple of 32, so masking keeps every character equally likely.
            let chars: Vec<char> = crate::random::bytes(RECOVERY_CODE_CHARS)
                .iter()
                .map(|b| char::from(BASE32[usize::from(b & 31)]))
                .collect();
            chars
                .chunks(4)
                .map(|chunk| chunk.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// The form a recovery code is hashed in (as `Presented::Recovery` holds it).
pub fn normalise_recovery_code(code: &str) -> String {
    code.replace('-', "").to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_was_typed_is_told_apart() {
        assert_eq!(
            Presented::parse(" 123 456 "),
            Presented::Totp("123456".into())
        );
        assert_eq!(
            Presented::parse("ABCD-efgh-2345"),
            Presented::Recovery("abcdefgh2345".into())
        );
        for junk in [
            "",
            "12345",
            "1234567",
            "abcd-efgh-234",
            "abcd-efgh-0000",
            "１２３４５６",
        ] {
            assert_eq!(Presented::parse(junk), Presented::Malformed, "{junk:?}");
        }
    }

    #[test]
    fn recovery_codes_are_ten_distinct_codes_that_parse_back() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        for code in &codes {
            assert_eq!(code.len(), RECOVERY_CODE_CHARS + 2, "{code}");
            assert_eq!(
                Presented::parse(code),
                Presented::Recovery(normalise_recovery_code(code))
            );
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
    }

    #[test]
    fn a_code_matches_within_one_step_of_drift() {
        let secret = b"12345678901234567890".to_vec();
        let totp = totp(secret, "Gatehouse", "alice").unwrap();
        let now = 1_700_000_000;
        let code = totp.generate(now as u64);
        let step = now / STEP_SECONDS;
        assert_eq!(matching_step(&totp, &code, now), Some(step));
        assert_eq!(matching_step(&totp, &code, now + STEP_SECONDS), Some(step));
        assert_eq!(matching_step(&totp, &code, now + 2 * STEP_SECONDS), None);
        assert_eq!(
            matching_step(&totp, "000000", now).filter(|_| code != "000000"),
            None
        );
    }
}
