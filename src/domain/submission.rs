//! `RawSubmission`: a form post as ordered `(name, value)` pairs, before any
//! checking. Owns the flattening of JSON bodies into the same shape that
//! urlencoded and multipart bodies already have, so the parser sees one form.

use std::fmt;

use serde_json::Value;

const NOT_FLAT: &str = "Send the form as a flat JSON object: each field a string, number, \
                        true/false, null or a list of those (no nested objects)";

/// A submission as ordered (name, value) pairs, whatever the encoding
/// (urlencoded, multipart, JSON flattened). A name may repeat.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RawSubmission {
    pairs: Vec<(String, String)>,
}

impl RawSubmission {
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// Flattens a JSON object: scalars become one pair, arrays become one pair
    /// per element (a repeated key, as a multi-select posts), `null` is skipped.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let Value::Object(map) = value else {
            return Err(NOT_FLAT.to_owned());
        };
        let mut pairs = Vec::with_capacity(map.len());
        for (name, value) in map {
            match value {
                Value::Array(items) => {
                    for item in items {
                        if let Some(text) = scalar_text(item)? {
                            pairs.push((name.clone(), text));
                        }
                    }
                }
                other => {
                    if let Some(text) = scalar_text(other)? {
                        pairs.push((name.clone(), text));
                    }
                }
            }
        }
        Ok(Self { pairs })
    }

    /// The first value for `name` that is not blank, trimmed. A blank value is
    /// what an untouched input posts, so it counts as "not given".
    pub fn first(&self, name: &str) -> Option<&str> {
        self.values(name).next()
    }

    /// Every non-blank value for `name`, trimmed, in submission order.
    pub fn values<'s, 'n>(&'s self, name: &'n str) -> impl Iterator<Item = &'s str> + use<'s, 'n> {
        self.pairs
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// Whether the form had a field called `name` at all, even left blank.
    pub fn has_field(&self, name: &str) -> bool {
        self.pairs.iter().any(|(key, _)| key == name)
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// The text form of one JSON scalar; `None` for null, an error for anything nested.
fn scalar_text(value: &Value) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text.clone())),
        Value::Number(number) => Ok(Some(number.to_string())),
        Value::Bool(flag) => Ok(Some(flag.to_string())),
        Value::Array(_) | Value::Object(_) => Err(NOT_FLAT.to_owned()),
    }
}

/// Field names only: the values are what a family typed.
impl fmt::Debug for RawSubmission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawSubmission")
            .field(
                "fields",
                &self.pairs.iter().map(|(key, _)| key).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn json_scalars_and_arrays_are_flattened_in_order() {
        let raw = RawSubmission::from_json(&json!({
            "first_name": "Ann",
            "age": 84,
            "ratio": 1.5,
            "consent": true,
            "enquiring_for_self": false,
            "skipped": null,
            "rooms": ["single", 2, true, null],
        }))
        .unwrap();
        // serde_json's map keeps keys sorted unless `preserve_order` is on; compare as a set
        // of pairs, and check the array's own order separately.
        let mut got = raw.pairs().to_vec();
        got.sort();
        let mut want = pairs(&[
            ("first_name", "Ann"),
            ("age", "84"),
            ("ratio", "1.5"),
            ("consent", "true"),
            ("enquiring_for_self", "false"),
            ("rooms", "single"),
            ("rooms", "2"),
            ("rooms", "true"),
        ]);
        want.sort();
        assert_eq!(got, want);
        assert_eq!(
            raw.values("rooms").collect::<Vec<_>>(),
            ["single", "2", "true"]
        );
        assert!(!raw.has_field("skipped"));
    }

    #[test]
    fn json_that_is_not_a_flat_object_is_refused() {
        for body in [
            json!({"name": {"first": "Ann"}}),
            json!({"rooms": [["a"]]}),
            json!({"rooms": [{"a": 1}]}),
            json!(["Ann"]),
            json!("Ann"),
            json!(null),
        ] {
            let err = RawSubmission::from_json(&body).unwrap_err();
            assert!(err.contains("flat JSON object"), "{body}: {err}");
        }
    }

    #[test]
    fn first_skips_blank_values_and_trims() {
        let raw = RawSubmission::new(pairs(&[
            ("email", "   "),
            ("email", "  a@example.com "),
            ("email", "b@example.com"),
            ("phone", ""),
        ]));
        assert_eq!(raw.first("email"), Some("a@example.com"));
        assert_eq!(raw.first("phone"), None);
        assert!(raw.has_field("phone"));
        assert_eq!(raw.first("missing"), None);
        assert!(!raw.has_field("missing"));
    }

    #[test]
    fn debug_shows_field_names_but_not_values() {
        let raw = RawSubmission::new(pairs(&[("email", "ann@example.com")]));
        let shown = format!("{raw:?}");
        assert!(shown.contains("email"));
        assert!(!shown.contains("ann@example.com"));
    }
}
