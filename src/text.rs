//! Free text typed by people (display names, a feature's titles and bodies): stored
//! NFC-normalised, so the same words typed on two keyboards are the same bytes, and
//! without control characters or the bidirectional overrides that make text display
//! as something other than what it is.

use unicode_normalization::UnicodeNormalization;

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
        let normalised: String = input.nfc().collect();
        let text = if self.multiline {
            normalised
        } else {
            normalised.trim().to_string()
        };
        if let Some(bad) = text.chars().find(|c| !self.allows(*c)) {
            return Err(if bad == '\n' || bad == '\t' || bad == '\r' {
                "must be a single line".to_string()
            } else {
                format!("must not contain control characters (U+{:04X})", bad as u32)
            });
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
        !c.is_control() && !is_bidi_control(c)
    }
}

/// The explicit embedding, override and isolate controls: invisible, and able to
/// reorder how the text around them displays.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
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
        assert_eq!(TITLE.clean("a\nb").unwrap_err(), "must be a single line");
        assert!(BODY.clean("a\u{7}b").is_err());
    }
}
