//! The hosted form's static files (CSS and the progressive-enhancement script),
//! embedded in the binary so it runs from any directory. Pages link them under
//! fingerprinted names (`/static/form.<hash>.css`) that may be cached for a
//! year; the plain names stay available, with an ETag, for sites that link
//! them from their own HTML.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file.
pub struct Asset {
    /// The stable name, e.g. `form.css`.
    pub name: &'static str,
    /// The name pages link to, e.g. `form.3fa94c2b1e0d.css`.
    pub fingerprinted: String,
    pub content_type: &'static str,
    pub body: &'static str,
    /// A strong ETag (quoted) from the content hash.
    pub etag: String,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, body: &'static str) -> Asset {
        let hash = hex::encode(Sha256::digest(body.as_bytes()));
        let short = &hash[..12];
        let fingerprinted = match name.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem}.{short}.{ext}"),
            None => format!("{name}.{short}"),
        };
        Asset {
            name,
            fingerprinted,
            content_type,
            body,
            etag: format!("\"{short}\""),
        }
    }

    /// The path pages link to.
    pub fn href(&self) -> String {
        format!("/static/{}", self.fingerprinted)
    }
}

pub static CSS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "form.css",
        "text/css; charset=utf-8",
        include_str!("../../static/form.css"),
    )
});

pub static JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "form.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/form.js"),
    )
});

/// The staff console's own styles, kept out of the families' form.
pub static STAFF_CSS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "staff.css",
        "text/css; charset=utf-8",
        include_str!("../../static/staff.css"),
    )
});

/// For staff templates: `{{ crate::http::assets::staff_css_href() }}`.
pub fn staff_css_href() -> String {
    STAFF_CSS.href()
}

/// For templates: `{{ crate::http::assets::css_href() }}`.
pub fn css_href() -> String {
    CSS.href()
}

/// For templates: `{{ crate::http::assets::js_href() }}`.
pub fn js_href() -> String {
    JS.href()
}

/// `GET /static/{file}`: a fingerprinted name is immutable; a plain name is
/// revalidated with its ETag.
pub async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    for asset in [&*CSS, &*JS, &*STAFF_CSS] {
        let cache = if file == asset.fingerprinted {
            "public, max-age=31536000, immutable"
        } else if file == asset.name {
            "public, max-age=300, must-revalidate"
        } else {
            continue;
        };
        let etag = HeaderValue::from_str(&asset.etag).unwrap_or(HeaderValue::from_static("\"\""));
        let fresh = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == asset.etag));
        let common = [
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (header::ETAG, etag),
        ];
        if fresh {
            return (StatusCode::NOT_MODIFIED, common).into_response();
        }
        return (
            common,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.body,
        )
            .into_response();
    }
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        "Not found. Static files are form.css, form.js and staff.css under /static/.",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_follow_the_content() {
        let a = Asset::new("form.css", "text/css", "a{}");
        let b = Asset::new("form.css", "text/css", "b{}");
        assert!(a.fingerprinted.starts_with("form.") && a.fingerprinted.ends_with(".css"));
        assert_ne!(a.fingerprinted, b.fingerprinted);
        assert_ne!(a.etag, b.etag);
        assert_eq!(a.href(), format!("/static/{}", a.fingerprinted));
    }
}
