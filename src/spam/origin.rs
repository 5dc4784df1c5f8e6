//! The origin allow-list and CORS answers. A browser tells us which page a
//! post came from (`Origin`, else `Referer`); only this service's own pages and
//! a site's `allowed_origins` may post its form. A request with neither header
//! is a program (curl, a server-side integration), which the browser-only
//! attack this stops (another website posting in the family's name) cannot be.
//! `Origin: null` (a sandboxed iframe, a `file:` page, a redirect across
//! origins) cannot be judged either way: the intake holds such a post for a
//! person (`null_origin`) rather than refuse a family or send it unchecked.

use axum::http::{HeaderMap, HeaderValue, header};
use reqwest::Url;

use crate::config::SiteSettings;

/// What the request's headers say about where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginCheck {
    /// No origin given: a program, not a browser.
    Absent,
    /// `Origin: null`: a browser that will not say where the page came from.
    Null,
    /// Our own origin or one the site lists; carries the origin for CORS.
    Allowed(String),
    Refused(String),
}

impl OriginCheck {
    pub fn is_refused(&self) -> bool {
        matches!(self, OriginCheck::Refused(_))
    }
}

/// Judge the request's origin for `site`. `public_url` is `server.public_url`.
pub fn check_origin(
    headers: &HeaderMap,
    site: &SiteSettings,
    public_url: Option<&str>,
) -> OriginCheck {
    if headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|o| o.trim() == "null")
    {
        return OriginCheck::Null;
    }
    let Some(origin) = request_origin(headers) else {
        return OriginCheck::Absent;
    };
    let own_public = public_url.and_then(normalise).is_some_and(|o| o == origin);
    // Without a public URL the Host header names us: a page we served posts
    // back to the host it came from.
    let own_host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| origin_host(&origin).is_some_and(|o| o.eq_ignore_ascii_case(host)));
    if own_public || own_host || site.allowed_origins.iter().any(|o| **o == origin) {
        OriginCheck::Allowed(origin)
    } else {
        OriginCheck::Refused(origin)
    }
}

/// True when `origin` may make cross-origin calls to `site`'s form.
pub fn cors_allowed(origin: &str, site: &SiteSettings) -> bool {
    normalise(origin).is_some_and(|o| site.allowed_origins.iter().any(|a| **a == o))
}

/// `Access-Control-*` headers for an allowed cross-origin caller.
pub fn add_cors_headers(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// Headers for a successful preflight.
pub fn add_preflight_headers(headers: &mut HeaderMap, origin: &str) {
    add_cors_headers(headers, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, accept, idempotency-key"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
}

fn request_origin(headers: &HeaderMap) -> Option<String> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    match text(header::ORIGIN) {
        Some("null") => None,
        Some(origin) if !origin.is_empty() => {
            Some(normalise(origin).unwrap_or_else(|| origin.to_owned()))
        }
        _ => text(header::REFERER).and_then(normalise),
    }
}

/// `scheme://host[:port]` as browsers write it (lower case, default port dropped).
fn normalise(url: &str) -> Option<String> {
    let parsed = Url::parse(url).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.origin().ascii_serialization())
}

/// `https://a.example:8443` → `a.example:8443`.
fn origin_host(origin: &str) -> Option<&str> {
    origin.split_once("://").map(|(_, host)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> SiteSettings {
        SiteSettings {
            slug: "upton".into(),
            name: "Upton".into(),
            location: "6724fbc74f73a2cebf6377fa".parse().unwrap(),
            allowed_origins: vec!["https://example-care.co.uk".parse().unwrap()],
            require_time_token: true,
            ..SiteSettings::default()
        }
    }

    fn with(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn listed_origins_and_our_own_are_allowed() {
        let h = with(&[(header::ORIGIN, "https://Example-Care.co.uk:443")]);
        assert_eq!(
            check_origin(&h, &site(), None),
            OriginCheck::Allowed("https://example-care.co.uk".into())
        );
        let h = with(&[(header::ORIGIN, "https://forms.example.com")]);
        assert!(!check_origin(&h, &site(), Some("https://forms.example.com")).is_refused());
        let h = with(&[
            (header::ORIGIN, "http://127.0.0.1:8080"),
            (header::HOST, "127.0.0.1:8080"),
        ]);
        assert!(!check_origin(&h, &site(), None).is_refused());
    }

    #[test]
    fn other_origins_are_refused_and_referer_stands_in_for_origin() {
        let h = with(&[(header::ORIGIN, "https://evil.example")]);
        assert!(check_origin(&h, &site(), Some("https://forms.example.com")).is_refused());
        let h = with(&[(header::REFERER, "https://evil.example/page?x=1")]);
        assert!(check_origin(&h, &site(), None).is_refused());
        let h = with(&[(header::REFERER, "https://example-care.co.uk/contact")]);
        assert!(!check_origin(&h, &site(), None).is_refused());
    }

    #[test]
    fn no_origin_is_absent_and_null_is_told_apart() {
        assert_eq!(
            check_origin(&HeaderMap::new(), &site(), None),
            OriginCheck::Absent
        );
        let h = with(&[(header::ORIGIN, "null")]);
        assert_eq!(check_origin(&h, &site(), None), OriginCheck::Null);
        // A Referer does not stand in for a null Origin: the browser chose
        // not to say, and the Referer is no more telling.
        let h = with(&[
            (header::ORIGIN, "null"),
            (header::REFERER, "https://example-care.co.uk/contact"),
        ]);
        assert_eq!(check_origin(&h, &site(), None), OriginCheck::Null);
    }

    #[test]
    fn cors_is_only_for_listed_origins() {
        assert!(cors_allowed("https://example-care.co.uk", &site()));
        assert!(!cors_allowed("https://evil.example", &site()));
    }
}
