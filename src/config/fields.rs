//! serde field parsers for the config tables. Each reads any scalar as text
//! (so `timeout = 30` can be told to add a unit) and refuses with a message
//! that says what to write; `extract` adds the key and where it was set.
//! Most keys are a `FromStr` value type (`crate::values`, `crate::domain`)
//! read with `parsed`, `some`, `via` or `list`; the rest are here.

use std::fmt::Display;
use std::marker::PhantomData;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use serde::de::{Deserialize, Deserializer, Error, SeqAccess, Visitor};

pub(super) use super::text::{named, section, text};
use crate::domain::CareHqId;
use crate::values::{Delay, parse_byte_size, parse_duration};

/// Any `FromStr` type, whose error says what to write.
pub(super) fn parsed<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err: Display>,
{
    text(d)?.trim().parse().map_err(D::Error::custom)
}

/// As `parsed`, for a key that may be left out.
pub(super) fn some<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err: Display>,
{
    parsed(d).map(Some)
}

/// Read as the checking type `P`, kept as the plain `T` it wraps.
pub(super) fn via<'de, D, P, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    P: FromStr<Err: Display> + Into<T>,
{
    parsed::<D, P>(d).map(Into::into)
}

/// As `via`, for a key that may be left out.
pub(super) fn some_via<'de, D, P, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    P: FromStr<Err: Display> + Into<T>,
{
    via::<D, P, T>(d).map(Some)
}

/// As `list`, each item read as `P` and kept as `T`.
pub(super) fn list_via<'de, D, P, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    P: FromStr<Err: Display> + Into<T>,
{
    Ok(list::<D, P>(d)?.into_iter().map(Into::into).collect())
}

/// `"30s"`, `"15m"`: a whole number and a unit. Like the other parsers
/// here, it gives the plain value or, for a key that may be left out, `Some`.
pub(super) fn duration<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: From<Duration>,
{
    parse_duration(&text(d)?)
        .map(T::from)
        .map_err(D::Error::custom)
}

/// As `duration`; zero is refused (a zero interval would spin, a zero timeout fail every call).
pub(super) fn positive_duration<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: From<Duration>,
{
    match duration::<D, Duration>(d)? {
        zero if zero.is_zero() => Err(D::Error::custom(
            "must be longer than zero; leave it out for the default",
        )),
        positive => Ok(T::from(positive)),
    }
}

/// A secret, numbers included, untrimmed; it goes straight into a `SecretString`.
pub(super) fn secret<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: From<SecretString>,
{
    Ok(T::from(SecretString::from(text(d)?)))
}

/// `true` / `false` (also `yes`/`no`, `on`/`off`, `1`/`0`, as other tools
/// write environment variables).
pub(super) fn boolean<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: From<bool>,
{
    let text = text(d)?;
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(T::from(true)),
        "false" | "no" | "off" | "0" => Ok(T::from(false)),
        _ => Err(D::Error::custom(format!(
            "\"{}\" is not a boolean; expected true or false",
            text.trim()
        ))),
    }
}

/// Delays, at least one (each is one more retry).
pub(super) fn retry_schedule<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    match list_via::<_, Delay, Duration>(d)? {
        delays if delays.is_empty() => Err(D::Error::custom(
            "is empty; give at least one delay, e.g. [\"10s\", \"1m\", \"5m\"] (each entry is one more retry)",
        )),
        delays => Ok(delays),
    }
}

/// A whole number from `MIN` to `MAX`.
pub(super) fn whole<'de, D, T, const MIN: i64, const MAX: i64>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    let text = text(d)?;
    let text = text.trim();
    (text.parse::<i64>().ok())
        .filter(|n| (MIN..=MAX).contains(n))
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| {
            D::Error::custom(format!(
                "\"{text}\" is out of range; expected a whole number from {MIN} to {MAX}"
            ))
        })
}

/// A byte count or a size with a unit (`"64KiB"`); zero is refused.
pub(super) fn byte_size<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    match parse_byte_size(&text(d)?).map_err(D::Error::custom)? {
        0 => Err(D::Error::custom("must be more than zero bytes")),
        size => Ok(size),
    }
}

/// CareHQ Ids, each message naming the command that lists the valid ones.
macro_rules! carehq_ids {
    ($($name:ident = $lookup:literal),* $(,)?) => {$(
        pub(super) fn $name<'de, D, T>(d: D) -> Result<T, D::Error>
        where
            D: Deserializer<'de>,
            T: From<CareHqId>,
        {
            let text = text(d)?;
            (text.trim().parse::<CareHqId>().map(T::from)).map_err(|e| {
                D::Error::custom(format!("{e} (copy it from `enquiry-relay {}`)", $lookup))
            })
        }
    )*};
}

carehq_ids! {
    location = "carehq locations",
    referrer = "carehq groups --type referrer",
    sales_channel = "carehq groups --type sales_channel",
}

/// A list, or one comma-separated string (the easy way to give a list in an
/// environment variable), of `FromStr` items.
pub(super) fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err: Display>,
{
    struct Item<T>(T);
    impl<'de, T: FromStr<Err: Display>> Deserialize<'de> for Item<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            parsed(d).map(Item)
        }
    }
    struct List<T>(PhantomData<T>);
    impl<'de, T: FromStr<Err: Display>> Visitor<'de> for List<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of strings, or one comma-separated string")
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<Vec<T>, E> {
            let items = v.split(',').map(str::trim).filter(|s| !s.is_empty());
            (items.enumerate())
                .map(|(i, s)| {
                    s.parse()
                        .map_err(|e| E::custom(format!("item {}: {e}", i + 1)))
                })
                .collect()
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut items = Vec::new();
            while let Some(Item(item)) = seq.next_element::<Item<T>>()? {
                items.push(item);
            }
            Ok(items)
        }
    }
    d.deserialize_any(List(PhantomData))
}
