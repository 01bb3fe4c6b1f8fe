//! What a new password must be, after NIST SP 800-63B rev. 4 and ASVS 5.0: long
//! enough, not common, not guessable from the account's own names, and (optionally)
//! not in a known breach. No composition rules: any character counts, spaces too.
//!
//! The blocklist is zxcvbn's (Dropbox's estimator, MIT licence, compiled in): 30,000
//! common passwords plus English words, names and film and TV words, with its patterns
//! (repeats, sequences, keyboard walks, l33t, dates). A password it would guess in
//! fewer than 10^min(8, length − 1) tries is refused: 10^8 (score 3) from nine
//! characters on, less below, so a random password of a shorter configured minimum
//! (8 is NIST's floor) passes while its common ones do not. It judges both the
//! password as typed and its NFKC form and keeps the weaker verdict: NFKC unmasks
//! full-width letters, and what was typed unmasks a repeat that NFKC expands into
//! words (U+FDFA).

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
use zxcvbn::matching::patterns::MatchPattern;

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
    if one_grapheme_repeated(password) {
        return Err("must not be one character repeated".into());
    }
    let app = crate::config::app_name();
    let inputs = [username.as_str(), local_part.as_str(), app.as_str()];
    let estimate = |text: &str| {
        let start: String = text.chars().take(ESTIMATE_CHARS).collect();
        zxcvbn::zxcvbn(&start, &inputs)
    };
    let typed: String = password.nfc().collect();
    let (as_typed, as_normalized) = (estimate(&typed), estimate(&normalized));
    let weaker = if as_typed.guesses_log10() < as_normalized.guesses_log10() {
        as_typed
    } else {
        as_normalized
    };
    let length = typed.chars().count().min(ESTIMATE_CHARS) as f64;
    if weaker.guesses_log10() < (length - 1.0).min(8.0) {
        return Err(too_easy(&weaker));
    }
    Ok(())
}

/// Whether `password` is one grapheme (a character with its combining marks) typed
/// again and again: nothing an estimate should have to rule on.
fn one_grapheme_repeated(password: &str) -> bool {
    let mut graphemes: Vec<String> = Vec::new();
    for c in password.nfc() {
        let mark = c.general_category_group() == GeneralCategoryGroup::Mark;
        match graphemes.last_mut() {
            Some(last) if mark => last.push(c),
            _ => graphemes.push(c.to_string()),
        }
    }
    graphemes.len() > 1 && graphemes.iter().all(|g| *g == graphemes[0])
}

/// The refusal, naming what the estimate found: never "common" for a password that
/// holds no common password.
fn too_easy(estimate: &zxcvbn::Entropy) -> String {
    let mut found: Vec<&str> = Vec::new();
    for part in estimate.sequence() {
        let kind = match &part.pattern {
            MatchPattern::Dictionary(word) => {
                match format!("{:?}", word.dictionary_name).as_str() {
                    "Passwords" => "a common password",
                    "UserInputs" => "your username, email or the app's name",
                    _ => "a common word or name",
                }
            }
            MatchPattern::Spatial(_) => "a keyboard pattern",
            MatchPattern::Repeat(_) => "a repeat",
            MatchPattern::Sequence(_) => "a sequence like abc or 123",
            MatchPattern::Date(_) | MatchPattern::Regex(_) => "a date or year",
            MatchPattern::BruteForce => continue,
        };
        if !found.contains(&kind) {
            found.push(kind);
        }
    }
    let advice = "a few unrelated words make a strong one";
    match found.split_last() {
        None => format!("is too easy to guess; {advice}"),
        Some((last, [])) => format!("is too easy to guess: it holds {last}; {advice}"),
        Some((last, rest)) => format!(
            "is too easy to guess: it holds {} and {last}; {advice}",
            rest.join(", ")
        ),
    }
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

    fn verdict_at_minimum(password: &str, minimum: usize) -> Result<(), String> {
        let settings = Passwords::from_raw(Raw {
            password_min_length: minimum,
            ..Raw::default()
        })
        .unwrap();
        let owner = Owner {
            username: "Alice",
            email: "asmith.jr@example.com",
        };
        check(password, &owner, &settings)
    }

    #[test]
    fn random_passwords_of_the_minimum_length_pass_and_common_ones_do_not() {
        // A fixed xorshift stream: the same thousand passwords every run.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut refused = Vec::new();
        for _ in 0..1000 {
            let password: String = (0..8)
                .map(|_| char::from(b' ' + (next() % 95) as u8))
                .collect();
            if let Err(reason) = verdict_at_minimum(&password, 8) {
                assert!(
                    !reason.contains("common password"),
                    "{password:?}: {reason}"
                );
                refused.push(password);
            }
        }
        assert!(
            refused.len() <= 10,
            "{} refused: {refused:?}",
            refused.len()
        );
        for common in [
            "password", "12345678", "qwertyui", "iloveyou", "p@ssw0rd", "abcdefgh",
        ] {
            assert!(verdict_at_minimum(common, 8).is_err(), "{common}");
        }
        assert!(verdict_at_minimum("password", 8)
            .unwrap_err()
            .contains("a common password"));
        for (password, found) in [
            ("zxcvbnm,", "a keyboard pattern"),
            ("abababab", "a repeat"),
            ("abcdefgh", "a sequence"),
        ] {
            assert!(
                verdict_at_minimum(password, 8).unwrap_err().contains(found),
                "{password}"
            );
        }
    }

    #[test]
    fn the_weaker_of_the_typed_and_normalised_forms_decides() {
        // U+FDFA expands into a phrase under NFKC; typed, it is one sign repeated.
        assert!(verdict(&"\u{fdfa}".repeat(15)).is_err());
        assert!(verdict(&"\u{fdfa}\u{fdfb}".repeat(8)).is_err());
        // Full-width letters are a common password once normalised.
        assert!(verdict("ｐａｓｓｗｏｒｄｐａｓｓｗｏｒｄ").is_err());
        assert_eq!(
            verdict(&"é".repeat(15)).unwrap_err(),
            "must not be one character repeated"
        );
        assert_eq!(
            verdict(&"e\u{301}".repeat(15)).unwrap_err(),
            "must not be one character repeated"
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
