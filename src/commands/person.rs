//! Who an erasure or export request is about, and whether a stored enquiry
//! is theirs. Matching is deliberately broad: an address or number anywhere
//! in what was stored counts (a partner's enrollment puts the patient's in
//! labelled lines), because `erase` lists its matches before it acts.

use serde_json::Value;

use crate::domain::national_digits;

/// Fewer digits than this would match unrelated numbers.
const MIN_PHONE_DIGITS: usize = 7;

/// The person: an email address, a phone number, or both.
pub struct Person {
    email: Option<String>,
    phone_digits: Option<String>,
}

impl Person {
    /// `Err` says what to give instead.
    pub fn new(email: Option<&str>, phone: Option<&str>) -> Result<Person, String> {
        let email = email
            .map(|e| e.trim().to_lowercase())
            .filter(|e| e.contains('@'));
        let phone_digits = phone.map(national_digits);
        if let Some(digits) = &phone_digits
            && digits.len() < MIN_PHONE_DIGITS
        {
            return Err(format!(
                "give the whole phone number (at least {MIN_PHONE_DIGITS} digits), e.g. --phone \"01632 960123\""
            ));
        }
        if email.is_none() && phone_digits.is_none() {
            return Err("give --email ADDRESS or --phone NUMBER (or an enquiry Id)".into());
        }
        Ok(Person {
            email,
            phone_digits,
        })
    }

    /// Whether the stored enquiry (JSON) mentions this person anywhere.
    pub fn in_payload(&self, payload: &str) -> bool {
        let Ok(value) = serde_json::from_str::<Value>(payload) else {
            // Not JSON (never written so): compare the text itself.
            return self.in_text(payload);
        };
        strings(&value).any(|s| self.in_text(s))
    }

    fn in_text(&self, text: &str) -> bool {
        let email = (self.email.as_deref()).is_some_and(|e| {
            // Whole addresses only: "zoe@example.co" is not "zoe@example.com".
            text.split(|c: char| !(c.is_alphanumeric() || "._%+-@".contains(c)))
                .any(|word| word.to_lowercase() == e)
        });
        let phone = (self.phone_digits.as_deref()).is_some_and(|p| {
            let digits = national_digits(text);
            digits.len() >= MIN_PHONE_DIGITS && digits.contains(p)
        });
        email || phone
    }
}

/// Every string in a JSON value, nested ones included.
fn strings(value: &Value) -> Box<dyn Iterator<Item = &str> + '_> {
    match value {
        Value::String(s) => Box::new(std::iter::once(s.as_str())),
        Value::Array(items) => Box::new(items.iter().flat_map(strings)),
        Value::Object(map) => Box::new(map.values().flat_map(strings)),
        _ => Box::new(std::iter::empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_or_number_anywhere_in_the_enquiry_matches() {
        let payload = r#"{"first_name":"Zoë","email":"Zoe@Example.com","phone":"+44 1632 960123",
            "extra_fields":[{"label":"Patient email","value":"gran@example.org"}]}"#;
        let by = |email: Option<&str>, phone: Option<&str>| {
            Person::new(email, phone).unwrap().in_payload(payload)
        };
        assert!(by(Some("zoe@example.com"), None));
        assert!(by(Some("GRAN@example.org"), None), "inside a labelled line");
        assert!(
            by(None, Some("01632 960123")),
            "national and international spellings"
        );
        assert!(
            !by(Some("zoe@example.co"), None),
            "a whole address, not a part"
        );
        assert!(!by(None, Some("01632 960124")));
        assert!(!by(Some("other@example.com"), None));
    }

    #[test]
    fn a_request_names_someone() {
        assert!(Person::new(None, None).is_err());
        assert!(Person::new(Some("not an address"), None).is_err());
        assert!(Person::new(None, Some("123")).is_err());
    }
}
