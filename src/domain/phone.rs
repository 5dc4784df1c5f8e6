//! `PhoneNumber`: a number the home can ring back, as CareHQ's `phone`.
//!
//! Kept as the family typed it (only spacing tidied), because rewriting it
//! risks turning a valid number into a wrong one. Landlines, mobiles, `+44
//! (0)20 …` and foreign numbers are all accepted: the WordPress plugins
//! silently dropped everything but UK mobiles (docs/carehq-api.md, "The WordPress plugins").

use std::fmt;

use serde::{Deserialize, Serialize};
use validator::{ValidateLength, ValidateRange};

const MAX_CHARS: usize = 40;
const MIN_DIGITS: usize = 7;
const MAX_DIGITS: usize = 15;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

/// Digits only (how a number is matched and looked up, never how it is
/// stored), a UK `+44` / `0044` written as the national `0`, so
/// "+44 1632 960123" and "01632 960123" are one number.
pub fn national_digits(text: &str) -> String {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    match digits
        .strip_prefix("0044")
        .or_else(|| digits.strip_prefix("44"))
    {
        Some(rest) if text.trim_start().starts_with('+') || digits.starts_with("0044") => {
            format!("0{rest}")
        }
        _ => digits,
    }
}

impl PhoneNumber {
    pub fn parse(value: &str) -> Result<Self, String> {
        let number = value.split_whitespace().collect::<Vec<_>>().join(" ");
        if number.is_empty() {
            return Err("Enter a phone number, like 01632 960123".to_owned());
        }
        let allowed = number.char_indices().all(|(i, c)| {
            c.is_ascii_digit()
                || matches!(c, ' ' | '-' | '(' | ')' | '.' | '/')
                || (c == '+' && i == 0)
        });
        if !allowed {
            return Err(
                "Enter a phone number using only digits, spaces and + ( ) - . /".to_owned(),
            );
        }
        if !number.validate_length(None, Some(MAX_CHARS as u64), None) {
            return Err(format!(
                "Enter a phone number of {MAX_CHARS} characters or fewer"
            ));
        }
        let digits = number.chars().filter(char::is_ascii_digit).count();
        if !digits.validate_range(Some(MIN_DIGITS), Some(MAX_DIGITS), None, None) {
            return Err(format!(
                "Enter a phone number with {MIN_DIGITS} to {MAX_DIGITS} digits, like 01632 960123"
            ));
        }
        Ok(Self(number))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PhoneNumber> for String {
    fn from(phone: PhoneNumber) -> Self {
        phone.0
    }
}

impl AsRef<str> for PhoneNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhoneNumber(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_landlines_mobiles_and_international_numbers() {
        let cases = [
            ("01632 960123", "01632 960123"),
            ("  01632   960123 ", "01632 960123"),
            ("01632\t960123", "01632 960123"),
            ("01632\u{a0}960123", "01632 960123"),
            ("07700 900123", "07700 900123"),
            ("07700900123", "07700900123"),
            ("+44 (0)20 7946 0000", "+44 (0)20 7946 0000"),
            ("+44 7700 900123", "+44 7700 900123"),
            ("020-7946-0000", "020-7946-0000"),
            ("0161.496.0000", "0161.496.0000"),
            ("020/7946 0000", "020/7946 0000"),
            ("+353 1 234 5678", "+353 1 234 5678"),
            ("+1 (555) 010-0199", "+1 (555) 010-0199"),
            ("1234567", "1234567"),
            ("123456789012345", "123456789012345"),
        ];
        for (input, want) in cases {
            assert_eq!(
                PhoneNumber::parse(input).map(|p| p.as_str().to_owned()),
                Ok(want.to_owned()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn refuses_what_cannot_be_dialled() {
        let chars = "Enter a phone number using only digits, spaces and + ( ) - . /";
        let digits = "Enter a phone number with 7 to 15 digits, like 01632 960123";
        let cases = [
            ("", "Enter a phone number, like 01632 960123"),
            ("   ", "Enter a phone number, like 01632 960123"),
            ("0161 496 0000 ext 12", chars),
            ("44+ 7700 900123", chars),
            ("++44 7700 900123", chars),
            ("call me", chars),
            ("０１６３２ ９６０１２３", chars),
            ("123456", digits),
            ("1234567890123456", digits),
            (
                "1 - 2 - 3 - 4 - 5 - 6 - 7 - 8 - 9 - 0 - 1",
                "Enter a phone number of 40 characters or fewer",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(PhoneNumber::parse(input), Err(want.to_owned()), "{input:?}");
        }
    }

    #[test]
    fn stored_value_is_parsed_again() {
        let phone: PhoneNumber = serde_json::from_str("\"01632  960123\"").unwrap();
        assert_eq!(phone.to_string(), "01632 960123");
        assert!(serde_json::from_str::<PhoneNumber>("\"12\"").is_err());
    }

    #[test]
    fn debug_hides_the_number() {
        let phone = PhoneNumber::parse("01632 960123").unwrap();
        assert!(!format!("{phone:?}").contains("960123"));
    }
}
