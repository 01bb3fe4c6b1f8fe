//! Free text typed by people (display names, a feature's titles and bodies): stored
//! NFC-normalised, so the same words typed on two keyboards are the same bytes, and
//! without the characters that make text display as something other than what it is:
//! controls, invisible format characters (bidirectional marks and overrides,
//! zero-width spaces), line separators, private-use characters and noncharacters.
//! Text that is not empty must show at least one visible letter, digit, symbol or
//! punctuation mark (a Braille blank or a Hangul filler alone shows nothing; fillers
//! are refused anywhere), and no character may carry more than [`MAX_MARKS`]
//! combining marks (text that spills over the lines around it).

/// Combining marks one base character may carry: enough for any script's stacked
/// vowel signs and tones, not for text that smears over its neighbours.
pub const MAX_MARKS: usize = 4;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

/// How a piece of free text may look.
#[derive(Debug, Clone, Copy)]
pub struct TextRule {
    /// Most characters accepted (after normalisation).
    pub max_chars: usize,
    /// Fewest characters accepted; 0 lets it be empty.
    pub min_chars: usize,
    /// Line breaks and tabs allowed (a body), or not (a title, a name).
    pub multiline: bool,
}

impl TextRule {
    /// The text as stored (NFC, trimmed for single lines), or what is wrong with it.
    pub fn clean(&self, input: &str) -> Result<String, String> {
        // Refused by its bytes before any normalisation: composing can shrink text,
        // never by more than four code points of four bytes into one character.
        if input.len() > self.max_chars.saturating_mul(16) {
            return Err(format!("must be at most {} characters", self.max_chars));
        }
        let normalised: String = input.nfc().collect();
        let text = if self.multiline {
            normalised
        } else {
            normalised.trim().to_string()
        };
        if let Some(bad) = text.chars().find(|c| !self.allows(*c)) {
            return Err(
                if matches!(bad, '\n' | '\t' | '\r' | '\u{2028}' | '\u{2029}') {
                    "must be a single line".to_string()
                } else {
                    format!(
                        "must not contain control or invisible characters (U+{:04X})",
                        bad as u32
                    )
                },
            );
        }
        if !text.is_empty() && !text.chars().any(is_visible) {
            return Err("must contain a visible letter, digit or symbol".to_string());
        }
        if most_marks_on_one_character(&text) > MAX_MARKS {
            return Err(format!(
                "must not stack more than {MAX_MARKS} accents or marks on one character"
            ));
        }
        let length = text.chars().count();
        if length < self.min_chars {
            return Err(if self.min_chars == 1 {
                "is required".to_string()
            } else {
                format!("must be at least {} characters", self.min_chars)
            });
        }
        if length > self.max_chars {
            return Err(format!("must be at most {} characters", self.max_chars));
        }
        Ok(text)
    }

    fn allows(&self, c: char) -> bool {
        if self.multiline && matches!(c, '\n' | '\t' | '\r') {
            return true;
        }
        !is_hidden(c)
    }
}

/// `input` without control or invisible characters, cut to `max_chars`: a value from
/// a request (a user agent) safe to show in a message.
pub fn printable(input: &str, max_chars: usize) -> String {
    input
        .chars()
        .filter(|&c| !c.is_control() && !is_hidden(c))
        .take(max_chars)
        .collect()
}

/// A character that is not text to show: a control, an invisible format character
/// (bidirectional marks and overrides, zero-width spaces), a line or paragraph
/// separator, a private-use, unassigned or surrogate code point, or a noncharacter.
pub fn is_hidden(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
            | GeneralCategory::Unassigned
    ) || is_noncharacter(c)
        || is_filler(c)
}

/// The longest run of combining marks in `text`.
fn most_marks_on_one_character(text: &str) -> usize {
    let mut run = 0;
    let mut most = 0;
    for c in text.chars() {
        if c.general_category_group() == GeneralCategoryGroup::Mark {
            run += 1;
            most = most.max(run);
        } else {
            run = 0;
        }
    }
    most
}

/// The Hangul fillers: letters by category that show nothing, used to pass a blank
/// off as a name.
fn is_filler(c: char) -> bool {
    matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}')
}

/// U+FDD0..U+FDEF and the last two code points of every plane: never meant for text.
fn is_noncharacter(c: char) -> bool {
    let code = c as u32;
    (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE
}

/// A character that shows something: a letter, digit, symbol or punctuation mark,
/// but not one of those that render as nothing (the Braille blank, Hangul fillers,
/// variation selectors, the combining grapheme joiner, Mongolian free variation
/// selectors, the Khmer inherent vowels).
fn is_visible(c: char) -> bool {
    matches!(
        c.general_category_group(),
        GeneralCategoryGroup::Letter
            | GeneralCategoryGroup::Number
            | GeneralCategoryGroup::Symbol
            | GeneralCategoryGroup::Punctuation
    ) && !is_filler(c)
        && !matches!(
            c,
            '\u{2800}'
                | '\u{034F}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{E0100}'..='\u{E01EF}'
        )
}

/// User-supplied text as the terminal should see it: control, format and other
/// invisible characters escaped (`\n`, `\u{202e}`), so a stored value (from before
/// the rules that refuse them, or written straight into the database) cannot forge a
/// row of a listing, move the cursor or reorder what follows.
pub fn shown(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || is_hidden(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TITLE: TextRule = TextRule {
        max_chars: 5,
        min_chars: 1,
        multiline: false,
    };
    const BODY: TextRule = TextRule {
        max_chars: 10,
        min_chars: 0,
        multiline: true,
    };

    #[test]
    fn text_is_stored_nfc_and_trimmed_when_single_line() {
        assert_eq!(TITLE.clean("  e\u{301}t\u{e9} ").unwrap(), "\u{e9}t\u{e9}");
        assert_eq!(BODY.clean(" a\n\tb ").unwrap(), " a\n\tb ");
    }

    #[test]
    fn lengths_count_characters_after_normalisation() {
        // Five decomposed letters are ten code points but five characters once NFC.
        assert!(TITLE.clean(&"e\u{301}".repeat(5)).is_ok());
        assert_eq!(
            TITLE.clean("abcdef").unwrap_err(),
            "must be at most 5 characters"
        );
        assert_eq!(TITLE.clean("   ").unwrap_err(), "is required");
        assert_eq!(BODY.clean("").unwrap(), "");
    }

    #[test]
    fn control_and_bidi_characters_are_refused() {
        assert!(TITLE.clean("a\u{0}b").unwrap_err().contains("U+0000"));
        assert!(TITLE.clean("a\u{202E}b").unwrap_err().contains("U+202E"));
        for invisible in [
            "\u{200B}",
            "\u{2060}",
            "\u{AD}x",
            "\u{200E}x",
            "\u{61C}x",
            "\u{FEFF}x",
            "\u{E0041}x",
            "\u{FFFE}",
            "\u{10FFFF}",
            "\u{E000}",
            "a\u{2028}b",
        ] {
            assert!(TITLE.clean(invisible).is_err(), "{invisible:?}");
        }
        for blank in [
            "\u{3164}",
            "\u{115F}\u{1160}",
            "\u{180E}",
            "\u{2800}",
            "\u{2800}\u{2800}",
        ] {
            assert!(TITLE.clean(blank).is_err(), "{blank:?}");
        }
        // Fillers are refused anywhere, not only alone.
        assert!(TITLE.clean("ab\u{3164}c").unwrap_err().contains("U+3164"));
        assert!(
            TITLE.clean("a\u{2800}b").is_ok(),
            "a Braille blank beside letters"
        );
        // Marks are capped per base character.
        assert!(TITLE
            .clean(&format!("a{}", "\u{301}\u{302}".repeat(2)))
            .is_ok());
        assert!(TITLE
            .clean(&format!("a{}", "\u{301}\u{302}\u{303}".repeat(2)))
            .unwrap_err()
            .contains("marks"));
        assert!(TITLE.clean("!?").is_ok(), "punctuation shows");
        assert!(
            TITLE.clean("\u{D55C}\u{AE00}").is_ok(),
            "Hangul syllables are letters"
        );
        assert_eq!(TITLE.clean("a\nb").unwrap_err(), "must be a single line");
        assert!(BODY.clean("a\u{7}b").is_err());
    }
}
