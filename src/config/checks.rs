//! Field-level checks shared by the section validators. Each takes the key
//! (for the message), records a problem when the value is unusable and
//! returns `None`, so callers keep going and every problem gets reported.

use std::time::Duration;

use reqwest::Url;

use super::duration::{format_duration, parse_duration};
use super::error::Problems;
use super::text::{Text, text};

/// A duration, or `default` when unset; `None` after recording a problem.
pub(super) fn duration(
    key: &str,
    value: &Option<Text>,
    default: Duration,
    problems: &mut Problems,
) -> Option<Duration> {
    match text(value) {
        None => Some(default),
        Some(v) => parse_duration(v)
            .map_err(|e| problems.push(key, e.to_string()))
            .ok(),
    }
}

/// As `duration`, but zero is refused (a zero timeout or interval would
/// fail every call or spin the worker).
pub(super) fn positive_duration(
    key: &str,
    value: &Option<Text>,
    default: Duration,
    problems: &mut Problems,
) -> Option<Duration> {
    let parsed = duration(key, value, default, problems)?;
    if parsed.is_zero() {
        problems.push(
            key,
            format!(
                "must be longer than zero; the default is \"{}\"",
                format_duration(default)
            ),
        );
        return None;
    }
    Some(parsed)
}

/// A whole number within `min..=max`, or `default`.
pub(super) fn integer(
    key: &str,
    value: &Option<Text>,
    default: i64,
    min: i64,
    max: i64,
    problems: &mut Problems,
) -> Option<i64> {
    let Some(v) = text(value) else {
        return Some(default);
    };
    match v.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            problems.push(
                key,
                format!("\"{v}\" is out of range; expected a whole number from {min} to {max} (default {default})"),
            );
            None
        }
    }
}

/// `true` / `false` (also `yes`/`no`, `on`/`off`, `1`/`0`, for environment
/// variables written by other tools), or `default`.
pub(super) fn boolean(
    key: &str,
    value: &Option<Text>,
    default: bool,
    problems: &mut Problems,
) -> Option<bool> {
    let Some(v) = text(value) else {
        return Some(default);
    };
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => {
            problems.push(
                key,
                format!("\"{v}\" is not a boolean; expected true or false"),
            );
            None
        }
    }
}

/// One of `names` (matched without regard to case), or `default`.
pub(super) fn choice<T: Copy>(
    key: &str,
    value: &Option<Text>,
    names: &[(&str, T)],
    default: T,
    problems: &mut Problems,
) -> Option<T> {
    let Some(v) = text(value) else {
        return Some(default);
    };
    if let Some((_, found)) = names.iter().find(|(name, _)| name.eq_ignore_ascii_case(v)) {
        return Some(*found);
    }
    let expected: Vec<&str> = names.iter().map(|(name, _)| *name).collect();
    problems.push(
        key,
        format!(
            "\"{v}\" is not allowed; expected one of: {}",
            expected.join(", ")
        ),
    );
    None
}

/// A CareHQ Id: 24 hex characters, returned lower case. `lookup` is the
/// command that lists valid Ids, named in the message.
pub(super) fn carehq_id(
    key: &str,
    value: &str,
    lookup: &str,
    problems: &mut Problems,
) -> Option<String> {
    if value.len() == 24 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(value.to_ascii_lowercase());
    }
    problems.push(
        key,
        format!(
            "\"{value}\" is not a CareHQ Id; expected 24 hexadecimal characters (copy it from `enquiry-relay {lookup}`)"
        ),
    );
    None
}

/// An absolute `http(s)://` URL with a host, without user name or password.
/// `example` shows the expected shape in the message.
pub(super) fn http_url(
    key: &str,
    value: &str,
    example: &str,
    problems: &mut Problems,
) -> Option<Url> {
    let parsed = Url::parse(value).ok().filter(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host_str().is_some()
            && u.username().is_empty()
            && u.password().is_none()
    });
    if parsed.is_none() {
        problems.push(
            key,
            format!("\"{value}\" is not an absolute http(s) URL; expected e.g. \"{example}\""),
        );
    }
    parsed
}

/// A base URL: an http(s) URL without query or fragment, returned without a
/// trailing `/` so callers can append `/v1/…` or `/forms/…` directly.
pub(super) fn base_url(
    key: &str,
    value: &str,
    example: &str,
    problems: &mut Problems,
) -> Option<String> {
    let url = http_url(key, value, example, problems)?;
    if url.query().is_some() || url.fragment().is_some() {
        problems.push(
            key,
            format!("\"{value}\" has a query or fragment; expected a plain base URL such as \"{example}\""),
        );
        return None;
    }
    Some(value.trim_end_matches('/').to_owned())
}

/// A web origin, `scheme://host[:port]` with nothing after it, returned in the
/// form browsers send in the `Origin` header (lower-case host, default port
/// dropped) so the web layer can compare strings.
pub(super) fn origin(key: &str, value: &str, problems: &mut Problems) -> Option<String> {
    let parsed = Url::parse(value).ok().filter(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host_str().is_some()
            && u.username().is_empty()
            && u.password().is_none()
    });
    let Some(url) = parsed else {
        problems.push(
            key,
            format!("\"{value}\" is not an origin; expected scheme://host[:port], e.g. \"https://example-care.co.uk\""),
        );
        return None;
    };
    let origin = url.origin().ascii_serialization();
    let bare = url.path() == "/"
        && !value.ends_with('/')
        && url.query().is_none()
        && url.fragment().is_none();
    if !bare {
        problems.push(
            key,
            format!("\"{value}\" is not an origin: origins have no path, query or trailing /; write \"{origin}\""),
        );
        return None;
    }
    Some(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Option<Text> {
        Some(Text(s.into()))
    }

    #[test]
    fn origins_are_normalised_and_paths_refused() {
        let mut p = Problems::default();
        assert_eq!(
            origin("k", "https://Example-Care.co.uk", &mut p).as_deref(),
            Some("https://example-care.co.uk")
        );
        assert_eq!(
            origin("k", "https://x.org:443", &mut p).as_deref(),
            Some("https://x.org")
        );
        assert_eq!(
            origin("k", "http://localhost:3000", &mut p).as_deref(),
            Some("http://localhost:3000")
        );
        assert!(p.is_empty());
        assert_eq!(origin("k", "https://x.org/", &mut p), None);
        assert_eq!(origin("k", "https://x.org/contact", &mut p), None);
        assert_eq!(origin("k", "x.org", &mut p), None);
        assert_eq!(origin("k", "ftp://x.org", &mut p), None);
        let errors = p.into_errors();
        assert_eq!(errors.0.len(), 4);
        assert!(
            errors.0[1].message.contains("write \"https://x.org\""),
            "{}",
            errors.0[1]
        );
    }

    #[test]
    fn carehq_ids_accept_upper_case_and_store_lower_case() {
        let mut p = Problems::default();
        let id = carehq_id("k", "6724FBC74F73A2CEBF6377FA", "carehq locations", &mut p);
        assert_eq!(id.as_deref(), Some("6724fbc74f73a2cebf6377fa"));
        assert_eq!(
            carehq_id("k", "6724fbc74f73a2cebf6377f", "carehq locations", &mut p),
            None
        );
        assert_eq!(
            carehq_id("k", "6724fbc74f73a2cebf6377fg", "carehq locations", &mut p),
            None
        );
        assert_eq!(p.into_errors().0.len(), 2);
    }

    #[test]
    fn base_urls_lose_their_trailing_slash() {
        let mut p = Problems::default();
        assert_eq!(
            base_url(
                "k",
                "https://api.carehq.dev/",
                "https://api.carehq.co.uk",
                &mut p
            )
            .as_deref(),
            Some("https://api.carehq.dev")
        );
        assert_eq!(
            base_url("k", "https://api.carehq.dev/?x=1", "e", &mut p),
            None
        );
        assert_eq!(base_url("k", "api.carehq.dev", "e", &mut p), None);
        assert_eq!(
            base_url("k", "https://user:pw@api.carehq.dev", "e", &mut p),
            None
        );
        assert_eq!(p.into_errors().0.len(), 3);
    }

    #[test]
    fn scalars_fall_back_to_defaults_and_report_bad_values() {
        let mut p = Problems::default();
        assert_eq!(integer("k", &None, 4, 1, 64, &mut p), Some(4));
        assert_eq!(integer("k", &t("64"), 4, 1, 64, &mut p), Some(64));
        assert_eq!(integer("k", &t("65"), 4, 1, 64, &mut p), None);
        assert_eq!(boolean("k", &t("TRUE"), false, &mut p), Some(true));
        assert_eq!(boolean("k", &t("maybe"), false, &mut p), None);
        assert_eq!(
            positive_duration("k", &t("0s"), Duration::from_secs(1), &mut p),
            None
        );
        assert_eq!(
            duration("k", &t("0s"), Duration::from_secs(1), &mut p),
            Some(Duration::ZERO)
        );
        assert_eq!(p.into_errors().0.len(), 3);
    }
}
