//! The routes the abuse defences add: the time token for sites with their own
//! HTML (`GET /forms/{site}/token`), the ALTCHA challenge
//! (`GET /altcha/challenge`) and the CORS preflight for `POST /forms/{site}`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::captcha::new_challenge;
use crate::config::CaptchaProvider;
use crate::http::error::HttpError;
use crate::http::format::Format;
use crate::http::site_slug::SiteSlug;
use crate::http::state::AppState;
use crate::spam;

/// `OPTIONS /forms/{site}`: 204 with CORS headers for an allowed origin, 403 otherwise.
pub async fn preflight(
    State(state): State<AppState>,
    SiteSlug(slug): SiteSlug,
    headers: HeaderMap,
) -> Response {
    let Some(site) = state.settings.site(&slug) else {
        return HttpError::UnknownSite.into_response_for(Format::Json);
    };
    match origin(&headers) {
        Some(origin) if spam::cors_allowed(origin, site) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            spam::add_preflight_headers(response.headers_mut(), origin);
            response
        }
        _ => {
            spam::count(spam::Outcome::OriginRefused, &site.slug);
            HttpError::OriginRefused.into_response_for(Format::Json)
        }
    }
}

/// `GET /forms/{site}/token`: a fresh `_t` for a form the site renders itself.
pub async fn time_token(
    State(state): State<AppState>,
    SiteSlug(slug): SiteSlug,
    headers: HeaderMap,
) -> Response {
    let Some(site) = state.settings.site(&slug) else {
        return HttpError::UnknownSite.into_response_for(Format::Json);
    };
    let token = state.spam.tokens.issue(&site.slug, spam::unix_now());
    let mut response = Json(json!({
        "field": "_t",
        "token": token,
        "honeypot_field": site.honeypot_field,
    }))
    .into_response();
    no_store(&mut response);
    if let Some(origin) = origin(&headers).filter(|o| spam::cors_allowed(o, site)) {
        spam::add_cors_headers(response.headers_mut(), origin);
    }
    response
}

/// `GET /altcha/challenge[?site=slug]`: a signed proof-of-work challenge for
/// the ALTCHA widget, signed with the site's (or the global) ALTCHA key.
pub async fn altcha_challenge(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let site = query.get("site").and_then(|slug| state.settings.site(slug));
    let settings = site.map_or(&state.settings.captcha, |s| {
        s.captcha(&state.settings.captcha)
    });
    let secret = match (&settings.provider, &settings.secret) {
        (CaptchaProvider::Altcha, Some(secret)) => secret,
        _ => {
            return HttpError::NotFound(
                "ALTCHA is not switched on for this form, so there is no challenge to fetch."
                    .into(),
            )
            .into_response_for(Format::Json);
        }
    };
    let challenge = match new_challenge(secret, state.captcha.altcha) {
        Ok(c) => c,
        Err(e) => {
            return HttpError::internal("making an ALTCHA challenge", e)
                .into_response_for(Format::Json);
        }
    };
    let mut response = Json(challenge).into_response();
    no_store(&mut response);
    // The widget on a customer's site fetches this cross-origin.
    let allowed = |o: &str| match site {
        Some(site) => spam::cors_allowed(o, site),
        None => state
            .settings
            .sites
            .iter()
            .any(|s| spam::cors_allowed(o, s)),
    };
    if let Some(origin) = origin(&headers).filter(|o| allowed(o)) {
        spam::add_cors_headers(response.headers_mut(), origin);
    }
    response
}

fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}
