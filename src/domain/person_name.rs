//! `PersonName`: one name of the person enquiring (first or last), as CareHQ's
//! `first_name` / `last_name` take it.

use std::fmt;

use serde::{Deserialize, Serialize};
use validator::{ValidateLength, ValidateNonControlCharacter};

pub const MAX_NAME_CHARS: usize = 100;

/// A name: trimmed, inner whitespace collapsed to single spaces, 1 to 100
/// characters, at least one letter, no control characters. Anything else a
/// real name may hold (apostrophes, hyphens, accents, any script) is kept.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(value: &str) -> Result<Self, String> {
        // Tabs and newlines are whitespace here, so they collapse rather than
        // fail: a name pasted from elsewhere should not be refused for that.
        let name = value.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            return Err("Enter a name".to_owned());
        }
        if !name.validate_non_control_character() {
            return Err("Remove the unusual characters from the name".to_owned());
        }
        if !name.validate_length(None, Some(MAX_NAME_CHARS as u64), None) {
            return Err(format!(
                "Shorten the name to {MAX_NAME_CHARS} characters or fewer"
            ));
        }
        if !name.chars().any(char::is_alphabetic) {
            return Err("Enter a name using letters".to_owned());
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PersonName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PersonName> for String {
    fn from(name: PersonName) -> Self {
        name.0
    }
}

impl AsRef<str> for PersonName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonName(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises_real_names() {
        let long = "a".repeat(MAX_NAME_CHARS);
        let cases = [
            ("Ann", "Ann"),
            ("  Ann  ", "Ann"),
            ("Mary   Ann", "Mary Ann"),
            ("Mary\tAnn\n", "Mary Ann"),
            ("O'Brien", "O'Brien"),
            ("Smith-Jones", "Smith-Jones"),
            ("Zoë", "Zoë"),
            ("José María", "José María"),
            ("Nguyễn", "Nguyễn"),
            ("王", "王"),
            ("J.", "J."),
            (long.as_str(), long.as_str()),
        ];
        for (input, want) in cases {
            assert_eq!(
                PersonName::parse(input).map(|n| n.as_str().to_owned()),
                Ok(want.to_owned()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn refuses_what_cannot_be_a_name() {
        let too_long = "a".repeat(MAX_NAME_CHARS + 1);
        let cases = [
            ("", "Enter a name"),
            ("   ", "Enter a name"),
            ("123", "Enter a name using letters"),
            ("--", "Enter a name using letters"),
            ("Ann\u{0}", "Remove the unusual characters from the name"),
            (
                "Ann\u{7f}Lee",
                "Remove the unusual characters from the name",
            ),
            (
                too_long.as_str(),
                "Shorten the name to 100 characters or fewer",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(PersonName::parse(input), Err(want.to_owned()), "{input:?}");
        }
    }

    #[test]
    fn stored_value_is_parsed_again() {
        let name: PersonName = serde_json::from_str("\" Mary  Ann \"").unwrap();
        assert_eq!(name.to_string(), "Mary Ann");
        assert!(serde_json::from_str::<PersonName>("\"42\"").is_err());
    }

    #[test]
    fn debug_hides_the_name() {
        let name = PersonName::parse("Ann").unwrap();
        assert!(!format!("{name:?}").contains("Ann"));
    }
}
