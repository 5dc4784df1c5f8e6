//! serde field parsers for the typed sections and sites: each reads any
//! scalar as text (so `timeout = 30` can be told to add a unit) and refuses
//! with a message that says what to write; `extract` adds the key and where
//! it was set.

use std::fmt::Display;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use reqwest::Url;
use secrecy::SecretString;
use serde::de::{Deserialize, Deserializer, Error, SeqAccess, Visitor};

pub(super) use super::text::{named, section, text};
use crate::domain::CareHqId;
use crate::values::{DurationError, parse_byte_size, parse_duration};

/// `"30s"`, `"15m"`: a whole number and a unit.
pub(super) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    parse_duration(&text(d)?).map_err(D::Error::custom)
}

/// As `duration`; zero is refused (a zero interval would spin, a zero timeout fail every call).
pub(super) fn positive_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    match duration(d)? {
        zero if zero.is_zero() => Err(D::Error::custom(
            "must be longer than zero; leave it out for the default",
        )),
        positive => Ok(positive),
    }
}

/// A secret, numbers included; it goes straight into a `SecretString`.
pub(super) fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    Ok(SecretString::from(text(d)?))
}

/// `Some` of another parser, for a key that may be left out or whose
/// default depends on another.
macro_rules! some {
    ($($name:ident = $parser:ident: $t:ty),* $(,)?) => {$(
        pub(super) fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<$t>, D::Error> {
            $parser(d).map(Some)
        }
    )*};
}

some! {
    some_duration = duration: Duration,
    some_positive_duration = positive_duration: Duration,
    some_secret = secret: SecretString,
    some_boolean = boolean: bool,
    some_carehq_url = carehq_url: String,
}

/// Delays, at least one (each is one more retry).
pub(super) fn retry_schedule<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    struct Delay(Duration);
    impl FromStr for Delay {
        type Err = DurationError;
        fn from_str(text: &str) -> Result<Delay, Self::Err> {
            parse_duration(text).map(Delay)
        }
    }
    match list::<_, Delay>(d)? {
        delays if delays.is_empty() => Err(D::Error::custom(
            "is empty; give at least one delay, e.g. [\"10s\", \"1m\", \"5m\"] (each entry is one more retry)",
        )),
        delays => Ok(delays.into_iter().map(|d| d.0).collect()),
    }
}

/// As `parsed`, for a key that may be left out.
pub(super) fn some<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err: Display>,
{
    parsed(d).map(Some)
}

/// `true` / `false` (also `yes`/`no`, `on`/`off`, `1`/`0`, as other tools
/// write environment variables).
pub(super) fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let text = text(d)?;
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(D::Error::custom(format!(
            "\"{}\" is not a boolean; expected true or false",
            text.trim()
        ))),
    }
}

/// Any `FromStr` type, whose error says what to write.
pub(super) fn parsed<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err: Display>,
{
    text(d)?.trim().parse().map_err(D::Error::custom)
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

/// `IP:port`.
pub(super) fn listen<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = text(d)?;
    text.trim().parse().map_err(|_| {
        D::Error::custom(format!(
            "\"{}\" is not an address; expected IP:port such as \"127.0.0.1:8080\" or \"0.0.0.0:8080\"",
            text.trim()
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

/// An http(s) base URL, kept without its trailing `/`.
pub(super) fn public_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    base_url(d, "https://forms.example.com").map(Some)
}

/// As `public_url`, for CareHQ's API.
pub(super) fn carehq_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    base_url(d, "https://api.carehq.co.uk")
}

fn base_url<'de, D: Deserializer<'de>>(d: D, example: &str) -> Result<String, D::Error> {
    let text = text(d)?;
    let text = text.trim();
    let url = checked_url(text, example).map_err(D::Error::custom)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(D::Error::custom(format!(
            "\"{text}\" has a query or fragment; expected a plain base URL such as \"{example}\""
        )));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// An absolute `http(s)://` URL with a host, without user name or password.
fn checked_url(text: &str, example: &str) -> Result<Url, String> {
    Url::parse(text)
        .ok()
        .filter(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.username().is_empty()
                && u.password().is_none()
        })
        .ok_or_else(|| {
            format!("\"{text}\" is not an absolute http(s) URL; expected e.g. \"{example}\"")
        })
}

fn http_url<'de, D: Deserializer<'de>>(d: D, example: &str) -> Result<Option<String>, D::Error> {
    let text = text(d)?;
    let text = text.trim();
    checked_url(text, example).map_err(D::Error::custom)?;
    Ok(Some(text.to_owned()))
}

/// Where a site sends the family after a form post.
pub(super) fn redirect_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    http_url(d, "https://example-care.co.uk/thank-you")
}

/// A CAPTCHA provider's verification endpoint.
/// A discovery document's address (`[[destinations]]`): https, as the
/// token and the family's details follow it, except on this machine (a
/// sandbox, a test).
pub(super) fn discovery_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let example = "https://api.example/.well-known/discovery-document.json";
    let text = text(d)?;
    let text = text.trim();
    let url = checked_url(text, example).map_err(D::Error::custom)?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if url.scheme() != "https" && !local {
        return Err(D::Error::custom(format!(
            "\"{text}\" is not https; the client secret and the families' details go to the addresses it gives, so use https (http only for this machine, e.g. a sandbox)"
        )));
    }
    Ok(Some(text.to_owned()))
}

pub(super) fn verify_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    http_url(
        d,
        "https://challenges.cloudflare.com/turnstile/v0/siteverify",
    )
}

/// A CareHQ Id; the message names the command that lists the valid ones.
fn carehq_id<'de, D: Deserializer<'de>>(d: D, lookup: &str) -> Result<Option<CareHqId>, D::Error> {
    let text = text(d)?;
    (text.trim().parse().map(Some)).map_err(|e: String| {
        D::Error::custom(format!("{e} (copy it from `enquiry-relay {lookup}`)"))
    })
}

pub(super) fn location<'de, D: Deserializer<'de>>(d: D) -> Result<Option<CareHqId>, D::Error> {
    carehq_id(d, "carehq locations")
}

pub(super) fn referrer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<CareHqId>, D::Error> {
    carehq_id(d, "carehq groups --type referrer")
}

pub(super) fn sales_channel<'de, D: Deserializer<'de>>(d: D) -> Result<Option<CareHqId>, D::Error> {
    carehq_id(d, "carehq groups --type sales_channel")
}

/// CIDRs, or single addresses taken as one-host networks.
pub(super) fn nets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    struct Net(ipnet::IpNet);
    impl FromStr for Net {
        type Err = String;
        fn from_str(text: &str) -> Result<Net, String> {
            (text.parse::<ipnet::IpNet>().map(|net| net.trunc()))
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map(Net)
                .map_err(|_| format!("\"{text}\" is not an IP address or CIDR; expected e.g. \"10.0.0.0/8\" or \"172.18.0.2\""))
        }
    }
    let nets: Vec<Net> = list(d)?;
    Ok(nets.into_iter().map(|n| n.0).collect())
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
