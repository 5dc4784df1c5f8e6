//! Scalars kept as text, so that every value reaches a check of our own
//! (which can say "add a unit") instead of stopping at a serde type error.

use std::fmt;

use secrecy::SecretString;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// A scalar kept as text: strings as they are, numbers and booleans written
/// out. `timeout = 30` thus reaches the duration parser, which can say "add a
/// unit", rather than failing in serde with "expected a string".
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Text(pub String);

impl Text {
    /// The trimmed value, or `None` when blank: an empty environment variable
    /// (`FOO=` in a compose file) means "not set", not "set to nothing".
    pub(super) fn value(&self) -> Option<&str> {
        let trimmed = self.0.trim();
        (!trimmed.is_empty()).then_some(trimmed)
    }
}

/// `Option<Text>` → the trimmed, non-blank value.
pub(super) fn text(value: &Option<Text>) -> Option<&str> {
    value.as_ref().and_then(Text::value)
}

struct TextVisitor;

impl Visitor<'_> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
        Ok(Text(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
        Ok(Text(v))
    }
    fn visit_char<E: de::Error>(self, v: char) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

/// A list of scalars: a TOML array, or one comma-separated string, which is
/// the easy way to give a list in an environment variable
/// (`ENQUIRY_RELAY_SERVER__TRUSTED_PROXIES=10.0.0.0/8,172.16.0.0/12`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct TextList(pub Vec<String>);

struct TextListVisitor;

impl<'de> Visitor<'de> for TextListVisitor {
    type Value = TextList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of strings, or one comma-separated string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<TextList, E> {
        Ok(TextList(
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        ))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TextList, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Text>()? {
            items.push(item.0.trim().to_owned());
        }
        Ok(TextList(items))
    }
}

impl<'de> Deserialize<'de> for TextList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextListVisitor)
    }
}

/// A secret scalar. Numbers are accepted (a numeric API key is still a key),
/// and the value goes straight into a `SecretString` so it is never printed.
#[derive(Clone)]
pub(super) struct SecretText(pub SecretString);

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = deserializer.deserialize_any(TextVisitor)?;
        Ok(SecretText(SecretString::from(text.0)))
    }
}
