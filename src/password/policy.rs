//! What a new password must be, after NIST SP 800-63B rev. 4 and ASVS 5.0: long
//! enough, not common, not guessable from the account's own names, and (optionally)
//! not in a known breach. No composition rules: any character counts, spaces too.
//!
//! The blocklist is zxcvbn's (Dropbox's estimator, MIT licence, compiled in): 30,000
//! common passwords plus English words, names and film and TV words, with its patterns
//! (repeats, sequences, keyboard walks, l33t, dates). A password it would guess in
//! fewer than 10^8 tries (score below 3) is refused.

use unicode_normalization::UnicodeNormalization;

use crate::config::Passwords;

/// zxcvbn's slowest cases (long runs of l33t-substitutable symbols) grow with the cube
/// of the length: 24 characters cost at most about 20 ms, 100 cost half a second. A
/// longer password is judged by its start, which no common password outlasts.
const ESTIMATE_CHARS: usize = 24;

/// Names of the account a password must not contain, and that zxcvbn should expect.
pub struct Owner<'a> {
    pub username: &'a str,
    pub email: &'a str,
}

/// The form every password is hashed and checked in: NFKC, so the same password typed
/// with a composed or a decomposed `é` (or a full-width digit) is the same password.
pub fn normalize(password: &str) -> String {
    password.nfkc().collect()
}

/// Checks a new password; the error is the sentence for `fields.password`. Pure CPU
/// (at most about 20 ms); the breach check, when on, comes after it.
pub fn check(password: &str, owner: &Owner<'_>, settings: &Passwords) -> Result<(), String> {
    // Bytes before anything else: this bound caps all later work.
    if password.len() > settings.password_max_length {
        return Err(format!(
            "must be at most {} bytes",
            settings.password_max_length
        ));
    }
    let normalized = normalize(password);
    // Counted in NFC, which joins a letter and its accents but, unlike NFKC, never
    // expands one character (U+FDFA) into many: length is what was typed.
    if password.nfc().count() < settings.password_min_length {
        return Err(format!(
            "must be at least {} characters",
            settings.password_min_length
        ));
    }
    let folded = normalized.to_lowercase();
    let username = normalize(owner.username).to_lowercase();
    let local_part = normalize(owner.email.split('@').next().unwrap_or(""))
        .trim()
        .to_lowercase();
    // Names of one or two characters are inside too many passwords to forbid.
    if username.chars().count() >= 3 && folded.contains(&username) {
        return Err("must not contain your username".into());
    }
    if local_part.chars().count() >= 3 && folded.contains(&local_part) {
        return Err("must not contain your email address".into());
    }
    let start: String = normalized.chars().take(ESTIMATE_CHARS).collect();
    let app = crate::config::app_name();
    let estimate = zxcvbn::zxcvbn(&start, &[&username, &local_part, &app]);
    if u8::from(estimate.score()) < 3 {
        return Err(
            "is too easy to guess: it is a common password, or close to one; \
             a few unrelated words make a strong one"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::passwords::Raw;

    fn settings() -> Passwords {
        Passwords::from_raw(Raw::default()).unwrap()
    }

    fn verdict(password: &str) -> Result<(), String> {
        let owner = Owner {
            username: "Alice",
            email: "asmith.jr@example.com",
        };
        check(password, &owner, &settings())
    }

    #[test]
    fn common_short_and_personal_passwords_are_refused_with_a_reason() {
        assert!(verdict("password").unwrap_err().contains("at least 15"));
        assert!(verdict("12345678").is_err());
        assert!(verdict("passwordpassword").unwrap_err().contains("guess"));
        assert!(verdict("123456789012345").unwrap_err().contains("guess"));
        assert!(verdict("qwertyuiopasdfgh").unwrap_err().contains("guess"));
        assert!(verdict("my name is ALICE, hello")
            .unwrap_err()
            .contains("username"));
        assert!(verdict("xx ASmith.Jr rocks xx")
            .unwrap_err()
            .contains("email"));
    }

    #[test]
    fn long_unrelated_words_pass_whatever_characters_they_use() {
        assert_eq!(verdict("correct horse battery"), Ok(()));
        assert_eq!(verdict("a much better passphrase"), Ok(()));
        assert_eq!(verdict("grüne Äpfel im Frühlingsregen"), Ok(()));
        assert_eq!(
            verdict("ＦＵＬＬ　ｗｉｄｔｈ　ｐｌａｎｅｔｓ　ｓｉｎｇ"),
            Ok(())
        );
    }

    #[test]
    fn pathological_inputs_are_judged_quickly_and_without_panicking() {
        for password in [
            ("4@8({[<36!|1702$5+7%2".repeat(10)),
            "0o".repeat(50),
            "qwertyuiop".repeat(10),
        ] {
            let started = std::time::Instant::now();
            let _ = verdict(&password);
            // Debug builds are slower; the bound is about the shape, not the figure.
            assert!(
                started.elapsed() < std::time::Duration::from_secs(2),
                "{password}"
            );
        }
    }

    #[test]
    fn composed_and_decomposed_forms_are_one_password() {
        assert_eq!(normalize("caf\u{e9}"), normalize("cafe\u{301}"));
        assert_eq!(normalize("\u{ff21}"), "A");
    }

    #[test]
    fn length_counts_characters_after_normalising_and_bytes_before() {
        let long = "z".repeat(2000);
        assert!(verdict(&long).unwrap_err().contains("bytes"));
        // Fourteen characters, however many bytes they take.
        assert!(verdict("ééééééééééééé\u{e9}")
            .unwrap_err()
            .contains("at least"));
    }
}
