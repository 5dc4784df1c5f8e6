//! Who an erasure or export request is about: an email address, a phone
//! number, or both, checked before anything is looked up. Which stored
//! enquiries are theirs is the store's rule (`Store::enquiries_by_contact`):
//! the whole address, or the whole number, anywhere in what was stored
//! (a partner's enrollment puts the patient's in labelled lines), because
//! `erase` lists its matches before it acts.

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

    /// The address, trimmed and lower case.
    pub fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }

    /// The number's national digits.
    pub fn phone(&self) -> Option<&str> {
        self.phone_digits.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_someone() {
        assert!(Person::new(None, None).is_err());
        assert!(Person::new(Some("not an address"), None).is_err());
        assert!(Person::new(None, Some("123")).is_err());
        let person = Person::new(Some(" Zoe@Example.com"), Some("+44 1632 960123")).unwrap();
        assert_eq!(person.email(), Some("zoe@example.com"));
        assert_eq!(person.phone(), Some("01632960123"), "national digits");
    }
}
