//! Content negotiation: does the caller want JSON or an HTML page?

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::request::Parts;

/// How to answer a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Html,
}

impl Format {
    /// JSON when the body is JSON, or when `Accept` names JSON before (or
    /// without) HTML; a browser's form post gets HTML.
    pub fn of(headers: &HeaderMap) -> Format {
        let header = |name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase()
        };
        if header(CONTENT_TYPE).starts_with("application/json") {
            return Format::Json;
        }
        let accept = header(ACCEPT);
        match (accept.find("application/json"), accept.find("text/html")) {
            (Some(json), Some(html)) if json < html => Format::Json,
            (Some(_), None) => Format::Json,
            _ => Format::Html,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Format {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Format::of(&parts.headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn chooses_json_or_html() {
        assert_eq!(
            Format::of(&headers(&[("content-type", "application/json")])),
            Format::Json
        );
        assert_eq!(
            Format::of(&headers(&[("accept", "application/json")])),
            Format::Json
        );
        assert_eq!(
            Format::of(&headers(&[(
                "accept",
                "text/html,application/xhtml+xml,*/*"
            )])),
            Format::Html
        );
        assert_eq!(
            Format::of(&headers(&[(
                "content-type",
                "application/x-www-form-urlencoded"
            )])),
            Format::Html
        );
        assert_eq!(Format::of(&headers(&[])), Format::Html);
    }
}
