//! `EmailAddress`: the address the home replies to, as CareHQ's `email`.
//!
//! Deliberately a shape check, not RFC 5322: it refuses what is surely a typo
//! (no `@`, no dot in the domain, spaces) and accepts what people really use,
//! including internationalised domains. Whether the mailbox exists is not
//! knowable here.
//!
//! validator's `validate_email` (the HTML5 rule) is not the rule here: it
//! refuses a non-ASCII local part (`zoë@bücher.de`, `用户@例子.广告`, which
//! families use and this type accepts) and accepts a one-label domain or an IP
//! literal (`ann@example`, `ann@[192.168.0.1]`, surely typos in a care enquiry).
//! validator checks the lengths and control characters; the shape rules are
//! ours (see the test `validators_html5_email_rule_would_change_who_is_accepted`).

use std::fmt;

use serde::{Deserialize, Serialize};
use validator::{ValidateLength, ValidateNonControlCharacter};

const MAX_CHARS: usize = 254;
const MAX_LOCAL_CHARS: usize = 64;
const MAX_LABEL_CHARS: usize = 63;
const LIKE: &str = "Enter an email address like name@example.com";

/// Trimmed; exactly one `@`; the local part kept as typed (some mail servers
/// treat it case-sensitively); the domain lower-cased.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if value.is_empty() {
            return Err(LIKE.to_owned());
        }
        if !value.validate_length(None, Some(MAX_CHARS as u64), None) {
            return Err(format!(
                "Enter an email address of {MAX_CHARS} characters or fewer"
            ));
        }
        let mut parts = value.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(LIKE.to_owned());
        };
        if !local.validate_length(Some(1), Some(MAX_LOCAL_CHARS as u64), None)
            || !local.validate_non_control_character()
            || local.contains(char::is_whitespace)
        {
            return Err(LIKE.to_owned());
        }
        let domain = domain.to_lowercase();
        if !is_domain(&domain) {
            return Err(LIKE.to_owned());
        }
        Ok(Self(format!("{local}@{domain}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Two or more dot-separated labels of letters (any script), digits and
/// inner hyphens; the last label must hold a letter, so `1.2.3.4` is refused.
fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let well_formed = labels.len() >= 2
        && labels.iter().all(|label| {
            label.validate_length(Some(1), Some(MAX_LABEL_CHARS as u64), None)
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    well_formed
        && labels
            .last()
            .is_some_and(|tld| tld.chars().any(char::is_alphabetic))
}

impl TryFrom<String> for EmailAddress {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(email: EmailAddress) -> Self {
        email.0
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailAddress(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_addresses_and_lower_cases_the_domain() {
        let local_64 = format!("{}@example.com", "a".repeat(64));
        let cases = [
            ("ann@example.com", "ann@example.com"),
            ("  Ann.Lee@Example.CO.UK ", "Ann.Lee@example.co.uk"),
            ("ann+care@mail.example.org", "ann+care@mail.example.org"),
            ("o'brien@example.ie", "o'brien@example.ie"),
            ("ann@my-care-home.co.uk", "ann@my-care-home.co.uk"),
            ("ann@123.example.com", "ann@123.example.com"),
            ("zoë@bücher.de", "zoë@bücher.de"),
            ("ann@BÜCHER.DE", "ann@bücher.de"),
            ("用户@例子.广告", "用户@例子.广告"),
            (local_64.as_str(), local_64.as_str()),
        ];
        for (input, want) in cases {
            assert_eq!(
                EmailAddress::parse(input).map(|e| e.as_str().to_owned()),
                Ok(want.to_owned()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn refuses_typos_and_non_addresses() {
        let local_65 = format!("{}@example.com", "a".repeat(65));
        let label_64 = format!("ann@{}.com", "a".repeat(64));
        let cases = [
            "",
            "   ",
            "ann",
            "ann.example.com",
            "@example.com",
            "ann@",
            "ann@example",
            "ann@@example.com",
            "ann@home@example.com",
            "ann lee@example.com",
            "ann@exam ple.com",
            "ann@example..com",
            "ann@.example.com",
            "ann@example.com.",
            "ann@-example.com",
            "ann@example-.com",
            "ann@exa_mple.com",
            "ann@1.2.3.4",
            "ann@[192.168.0.1]",
            "ann,lee@example.com, bob@example.com",
            "ann\u{0}@example.com",
            local_65.as_str(),
            label_64.as_str(),
        ];
        for input in cases {
            assert_eq!(
                EmailAddress::parse(input),
                Err(LIKE.to_owned()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn refuses_overlong_addresses_with_a_length_message() {
        // Labels of 63 keep every other rule satisfied, so only the total length fails.
        let label = "a".repeat(63);
        let input = format!("ann@{label}.{label}.{label}.{label}.com");
        assert!(input.chars().count() > MAX_CHARS);
        assert_eq!(
            EmailAddress::parse(&input),
            Err("Enter an email address of 254 characters or fewer".to_owned())
        );
    }

    #[test]
    fn validators_html5_email_rule_would_change_who_is_accepted() {
        use validator::ValidateEmail;
        for accepted_here in ["zoë@bücher.de", "用户@例子.广告"] {
            assert!(
                EmailAddress::parse(accepted_here).is_ok(),
                "{accepted_here:?}"
            );
            assert!(!accepted_here.validate_email(), "{accepted_here:?}");
        }
        for refused_here in ["ann@example", "ann@[192.168.0.1]"] {
            assert!(
                EmailAddress::parse(refused_here).is_err(),
                "{refused_here:?}"
            );
            assert!(refused_here.validate_email(), "{refused_here:?}");
        }
    }

    #[test]
    fn stored_value_is_parsed_again() {
        let email: EmailAddress = serde_json::from_str("\"Ann@EXAMPLE.com\"").unwrap();
        assert_eq!(email.to_string(), "Ann@example.com");
        assert!(serde_json::from_str::<EmailAddress>("\"not-an-email\"").is_err());
    }

    #[test]
    fn debug_hides_the_address() {
        let email = EmailAddress::parse("ann@example.com").unwrap();
        let shown = format!("{email:?}");
        assert!(!shown.contains("ann") && !shown.contains("example"));
    }
}
