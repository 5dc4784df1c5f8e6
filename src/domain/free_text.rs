//! `FreeText`: what a family wrote in their own words: the message (CareHQ's
//! `care_requirements`) and the values of extra fields.

use std::fmt;

use serde::{Deserialize, Serialize};
use validator::ValidateLength;

/// Limit for the message itself.
pub const MAX_MESSAGE_CHARS: usize = 5000;
/// Limit for the value of one extra field.
pub const MAX_EXTRA_VALUE_CHARS: usize = 1000;

/// Non-empty text with LF line ends, no trailing spaces on any line, no
/// control characters except LF and TAB, trimmed at both ends.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FreeText(String);

impl FreeText {
    /// Parses a message (up to [`MAX_MESSAGE_CHARS`]).
    pub fn parse(value: &str) -> Result<Self, String> {
        Self::parse_with_limit(value, MAX_MESSAGE_CHARS)
    }

    pub fn parse_with_limit(value: &str, max_chars: usize) -> Result<Self, String> {
        // Line ends first: a lone CR is a control character and would otherwise
        // be dropped, gluing two lines together.
        let unified = value.replace("\r\n", "\n").replace('\r', "\n");
        let cleaned: String = unified
            .chars()
            .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
            .collect();
        let text = cleaned
            .split('\n')
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .to_owned();
        if text.is_empty() {
            // Only reachable with invisible characters: blank fields count as not given.
            return Err("Type your text again: what was sent had no visible characters".to_owned());
        }
        if !text.validate_length(None, Some(max_chars as u64), None) {
            let chars = text.chars().count();
            return Err(format!(
                "Shorten this to {max_chars} characters or fewer (it has {chars})"
            ));
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FreeText {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<FreeText> for String {
    fn from(text: FreeText) -> Self {
        text.0
    }
}

impl AsRef<str> for FreeText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FreeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The length helps when reading logs; the words are the family's.
impl fmt::Debug for FreeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FreeText(<redacted, {} chars>)", self.0.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_line_ends_spacing_and_control_characters() {
        let cases = [
            ("Hello", "Hello"),
            ("  Hello  ", "Hello"),
            ("Line one\r\nLine two", "Line one\nLine two"),
            ("Line one\rLine two", "Line one\nLine two"),
            ("Line one   \nLine two\t", "Line one\nLine two"),
            ("\n\nPara one\n\nPara two\n\n", "Para one\n\nPara two"),
            ("Col\tumn", "Col\tumn"),
            ("Bell\u{7}less", "Bellless"),
            ("Nul\u{0}l and \u{1b}[31mescape", "Null and [31mescape"),
            ("C1\u{85}gone", "C1gone"),
            ("Zoë’s room – ground floor ✓", "Zoë’s room – ground floor ✓"),
        ];
        for (input, want) in cases {
            assert_eq!(
                FreeText::parse(input).map(|t| t.as_str().to_owned()),
                Ok(want.to_owned()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn enforces_the_limit_after_normalising() {
        let at_limit = "é".repeat(MAX_MESSAGE_CHARS);
        assert!(FreeText::parse(&at_limit).is_ok());
        // Trailing spaces are removed before counting.
        assert!(FreeText::parse(&format!("{at_limit}     ")).is_ok());
        assert_eq!(
            FreeText::parse(&format!("{at_limit}x")),
            Err("Shorten this to 5000 characters or fewer (it has 5001)".to_owned())
        );
        assert!(FreeText::parse_with_limit(&"x".repeat(1000), MAX_EXTRA_VALUE_CHARS).is_ok());
        assert_eq!(
            FreeText::parse_with_limit(&"x".repeat(1001), MAX_EXTRA_VALUE_CHARS),
            Err("Shorten this to 1000 characters or fewer (it has 1001)".to_owned())
        );
    }

    #[test]
    fn refuses_text_with_nothing_visible() {
        for input in ["", "  \r\n\t ", "\u{0}\u{7}"] {
            assert!(FreeText::parse(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn stored_value_is_parsed_again() {
        let text: FreeText = serde_json::from_str("\"a  \\r\\nb\"").unwrap();
        assert_eq!(text.as_str(), "a\nb");
        let too_long = format!("\"{}\"", "x".repeat(MAX_MESSAGE_CHARS + 1));
        assert!(serde_json::from_str::<FreeText>(&too_long).is_err());
    }

    #[test]
    fn debug_hides_the_words() {
        let text = FreeText::parse("Mum has dementia").unwrap();
        assert_eq!(format!("{text:?}"), "FreeText(<redacted, 16 chars>)");
    }
}
