//! `FieldErrors`: every problem found in a submission, keyed by the field name
//! the family sees, so a form can show each message beside its input and a
//! JSON client gets `{"email": ["…"]}`.

use std::collections::BTreeMap;

use serde::Serialize;

/// Messages per field, in the order they were found. Messages never repeat
/// the value typed (it may be personal data); they say what to do instead.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(transparent)]
#[error("{} form field(s) need correcting", .0.len())]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    /// Records `message` against `field`; the same message twice for one field
    /// is kept once (a split name can fail the same way in both halves).
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let message = message.into();
        let messages = self.0.entry(field.into()).or_default();
        if !messages.contains(&message) {
            messages.push(message);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: &str) -> Option<&[String]> {
        self.0.get(field).map(Vec::as_slice)
    }

    /// Fields in name order, each with its messages.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0
            .iter()
            .map(|(field, messages)| (field.as_str(), messages.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_messages_per_field_without_duplicates() {
        let mut errors = FieldErrors::default();
        assert!(errors.is_empty());
        errors.add("name", "Enter a name using letters");
        errors.add("email", "Enter an email address like name@example.com");
        errors.add("name", "Enter a name using letters");
        errors.add("name", "Shorten the name to 100 characters or fewer");

        assert!(!errors.is_empty());
        assert_eq!(
            errors.get("name").unwrap(),
            [
                "Enter a name using letters",
                "Shorten the name to 100 characters or fewer"
            ]
        );
        assert_eq!(errors.get("phone"), None);
        let fields: Vec<&str> = errors.iter().map(|(field, _)| field).collect();
        assert_eq!(fields, ["email", "name"]);
    }

    #[test]
    fn serializes_as_a_plain_map_of_lists() {
        let mut errors = FieldErrors::default();
        errors.add("email", "Enter an email address like name@example.com");
        assert_eq!(
            serde_json::to_value(&errors).unwrap(),
            serde_json::json!({"email": ["Enter an email address like name@example.com"]})
        );
    }
}
