//! Security headers on every answer of the main router: a Content-Security-
//! Policy without `unsafe-inline`, `X-Content-Type-Options` and
//! `Referrer-Policy`. Pages under `/forms/{site}` may be framed by that site's
//! `allowed_origins` (the embed mode) and may load the CAPTCHA widget; every
//! other answer may be framed by no one.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::captcha_widget;
use super::state::AppState;
use crate::config::{Settings, SiteSettings};

/// Everything that is not a form page: our own CSS and script only.
const DEFAULT_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub async fn security_headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let slug = form_site(request.uri().path()).map(str::to_owned);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let site = slug.as_deref().and_then(|s| state.settings.site(s));
        let policy = match site {
            Some(site) => HeaderValue::from_str(&form_policy(&state.settings, site)).ok(),
            None => None,
        };
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            policy.unwrap_or(HeaderValue::from_static(DEFAULT_POLICY)),
        );
    }
    response
}

/// `/forms/{slug}` and `/forms/{slug}/…` → the slug.
fn form_site(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/forms/")?;
    let slug = rest.split('/').next().unwrap_or_default();
    (!slug.is_empty()).then_some(slug)
}

/// The policy of a site's form, thank-you and 422 pages.
pub fn form_policy(settings: &Settings, site: &SiteSettings) -> String {
    // The site's own `[sites.captcha]` decides which widget its form loads.
    let c = captcha_widget::sources(site.captcha(&settings.captcha).provider);
    let with = |base: &str, extra: &str| {
        if extra.is_empty() {
            base.to_owned()
        } else {
            format!("{base} {extra}")
        }
    };
    let frame_ancestors = if site.allowed_origins.is_empty() {
        "'none'".to_owned()
    } else {
        site.allowed_origins.join(" ")
    };
    // Chrome applies form-action to the redirect after a post, so a site
    // that sends families to its own thank-you page must be listed.
    let form_action = match site.redirect_url.as_deref().and_then(origin_of) {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    let mut policy = format!(
        "default-src 'none'; script-src {}; style-src {}; img-src 'self' data:; connect-src {}; ",
        with("'self'", c.script),
        with("'self'", c.style),
        with("'self'", c.connect),
    );
    if !c.frame.is_empty() {
        policy.push_str(&format!("frame-src {}; ", c.frame));
    }
    if !c.worker.is_empty() {
        policy.push_str(&format!("worker-src {}; ", c.worker));
    }
    policy.push_str(&format!(
        "base-uri 'none'; form-action {form_action}; frame-ancestors {frame_ancestors}"
    ));
    policy
}

fn origin_of(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    Some(parsed.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_paths_name_their_site() {
        assert_eq!(form_site("/forms/upton-court"), Some("upton-court"));
        assert_eq!(form_site("/forms/upton-court/thanks"), Some("upton-court"));
        assert_eq!(form_site("/forms/"), None);
        assert_eq!(form_site("/healthz"), None);
    }

    #[test]
    fn origins_drop_the_path() {
        assert_eq!(
            origin_of("https://example-care.co.uk/thank-you?x=1").as_deref(),
            Some("https://example-care.co.uk")
        );
        assert_eq!(origin_of("not a url"), None);
    }
}
