//! The `{site}` of a `/forms/{site}…` route, as an extractor that cannot fail.
//!
//! axum's `Path<String>` refuses a segment whose percent-decoding is not
//! UTF-8 (`/forms/%FF`) with a plain-text 400 of its own: words no family can
//! act on, without the security headers' friendly twin, and an answer the
//! OpenAPI document does not have. A slug is lower-case letters, digits and
//! hyphens (config validation), so such a segment names no site: decoded
//! lossily, it reaches each handler's own "form not found" answer, in the
//! format that handler gives.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use percent_encoding::percent_decode_str;

/// The site slug from the path; never a rejection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSlug(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SiteSlug {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Ok(Path(slug)) = Path::<String>::from_request_parts(parts, state).await {
            return Ok(Self(slug));
        }
        Ok(Self(lossy_slug(parts.uri.path())))
    }
}

/// `/forms/%FF/token` → "\u{FFFD}": the segment after `/forms/`, decoded
/// with each invalid sequence replaced, so it matches no configured slug.
fn lossy_slug(path: &str) -> String {
    let segment = path
        .strip_prefix("/forms/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default();
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    async fn slug_of(uri: &str) -> String {
        let (mut parts, ()) = Request::get(uri).body(()).unwrap().into_parts();
        let SiteSlug(slug) = SiteSlug::from_request_parts(&mut parts, &()).await.unwrap();
        slug
    }

    #[test]
    fn invalid_utf8_segments_decode_to_a_slug_no_site_has() {
        assert_eq!(lossy_slug("/forms/%FF"), "\u{FFFD}");
        assert_eq!(lossy_slug("/forms/de%FFmo/token"), "de\u{FFFD}mo");
        assert_eq!(lossy_slug("/forms/demo"), "demo");
        assert_eq!(lossy_slug("/elsewhere"), "");
    }

    #[tokio::test]
    async fn without_route_params_the_path_is_read_lossily() {
        // No router ran, so `Path` has no captures and is refused: the
        // fallback must still give the segment, never a rejection.
        assert_eq!(
            slug_of("/forms/%FF%FE/visit-slots").await,
            "\u{FFFD}\u{FFFD}"
        );
        assert_eq!(slug_of("/forms/demo").await, "demo");
    }
}
