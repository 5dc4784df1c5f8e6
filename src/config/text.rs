//! How config tables and values are first read: a table as one list of keys
//! (each with its parser and default), any scalar as text (so every value
//! reaches a check of our own, which can say what to write), and a config
//! enum by one of its names.

use serde::de::{Deserialize, Deserializer, Error, Unexpected};

/// A scalar as text: strings as they are, numbers and booleans written out.
/// `timeout = 30` thus reaches the duration parser, which can say "add a
/// unit", rather than failing in serde with "expected a string".
pub(super) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    use serde_json::Value;
    match Value::deserialize(d)? {
        Value::String(text) => Ok(text),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n
            .as_f64()
            .filter(|_| n.is_f64())
            .map_or(n.to_string(), |f| f.to_string())),
        Value::Array(_) => Err(D::Error::invalid_type(Unexpected::Seq, &"a string")),
        Value::Object(_) => Err(D::Error::invalid_type(Unexpected::Map, &"a string")),
        Value::Null => Err(D::Error::invalid_type(Unexpected::Unit, &"a string")),
    }
}

/// A table of keys, each written once with its parser and its default:
/// `pub key: Type ["parser"] = default,` (no parser: the type's own
/// `Deserialize`, for a nested table). Unknown keys are refused and unset
/// ones keep their default, as in every table of the file; a key written
/// `= default => required("hint"),` must be set (`extract` says "missing;
/// hint" otherwise), its default only a placeholder.
macro_rules! section {
    ($(#[$meta:meta])* $vis:vis struct $name:ident {
        $($(#[$doc:meta])* $fvis:vis $field:ident: $ty:ty $([$parser:literal])? = $default:expr
            $(=> required($hint:literal))?,)+
    }) => {
        $(#[$meta])*
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        $vis struct $name {
            $($(#[$doc])* $(#[serde(deserialize_with = $parser)])? $fvis $field: $ty,)+
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $($field: $default,)+ }
            }
        }

        impl $name {
            /// The table's keys, for the loader to lay one table over another.
            #[allow(dead_code)] // read for `[sites.captcha]` only, so far
            pub const KEYS: &[&str] = &[$(stringify!($field)),+];
        }

        impl $crate::config::text::Table for $name {
            const REQUIRED: &[(&str, &str)] = &[$($((stringify!($field), $hint),)?)+];
        }
    };
}
pub(crate) use section;

/// What `extract` needs to know of a table beyond its serde shape.
pub(super) trait Table {
    /// Keys that must be set, each with the hint its "missing" problem gives.
    const REQUIRED: &[(&str, &str)];
}

/// A config enum written by one of its names, in any case: each name is
/// given once, for reading, for `as_str` and for the message listing them.
macro_rules! named {
    ($(#[$meta:meta])* pub enum $name:ident {
        $($(#[$attr:meta])* $variant:ident = $text:literal,)+
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $($(#[$attr])* $variant,)+ }

        impl $name {
            pub const ALL: &[Self] = &[$(Self::$variant),+];

            /// The name used in the config file.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                super::text::one_of(text, Self::ALL, Self::as_str)
            }
        }
    };
}
pub(crate) use named;

/// One of `all` by its name in any case, for `FromStr` of a config enum.
pub(super) fn one_of<T: Copy>(
    text: &str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<T, String> {
    let text = text.trim();
    let found = all.iter().find(|v| name(**v).eq_ignore_ascii_case(text));
    found.copied().ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
        format!(
            "\"{text}\" is not allowed; expected one of: {}",
            names.join(", ")
        )
    })
}
