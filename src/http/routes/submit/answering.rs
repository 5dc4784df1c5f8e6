//! Answering: what the caller is told. 201 JSON or 303 to the thank-you
//! page, the first answer again for a repeat, 409, 429, and 422 with the
//! form again (everything typed kept) or the bad fields in JSON.

use std::time::Duration;

use askama::Template;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::json;
use tracing::{debug, info};

use super::Post;
use crate::config::SiteSettings;
use crate::domain::{Enquiry, FieldErrors, RawSubmission};
use crate::http::access_log::mark_shed;
use crate::http::error::HttpError;
use crate::http::format::Format;
use crate::http::pages::{EMBED_FIELD, FormPage};
use crate::http::visit_fields::visit_fields;
use crate::spam::TokenCheck;
use crate::storage::EnquiryId;

/// A filled honeypot: a bot must not learn which check caught it, so the
/// answer is a success in every visible way, but nothing is stored or sent.
pub(super) fn decoy(site: &SiteSettings, format: Format, raw: &RawSubmission) -> Response {
    let decoy = uuid::Uuid::now_v7().to_string();
    let embed = raw.first(EMBED_FIELD) == Some("1");
    mark_shed(success(site, format, &decoy, false, embed))
}

/// The answer for a stored enquiry (`replayed` for a repeat).
pub(super) fn stored(post: &Post<'_>, id: &EnquiryId, replayed: bool) -> Response {
    let embed = post.raw.first(EMBED_FIELD) == Some("1");
    success(post.site, post.format, id.as_str(), replayed, embed)
}

/// A repeat of a stored post (same idempotency key): the first answer again.
pub(super) fn repeated(post: &Post<'_>, enquiry_id: &EnquiryId) -> Response {
    info!(enquiry_id = %enquiry_id, site = %post.site.slug, "repeated submission (same idempotency key); answered as before");
    stored(post, enquiry_id, true)
}

/// The same idempotency key with a different enquiry: nothing stored, no
/// site token spent, and the family told to reload (a fresh page has a fresh
/// key) rather than shown the first family's answer.
pub(super) fn conflict(site: &SiteSettings) -> HttpError {
    info!(site = %site.slug, "idempotency key sent again with a different enquiry; answered 409, nothing stored");
    HttpError::Conflict
}

/// A post refused by a rate limit: counted, logged at debug (a flood must not
/// become a flood of log lines; the access line is at debug too), answered 429.
pub(super) fn rate_limited(site: &SiteSettings, wait: Duration, limit: &str) -> HttpError {
    crate::spam::count(crate::spam::Outcome::RateLimited, &site.slug);
    debug!(site = %site.slug, limit, "rate limit reached; answered 429");
    HttpError::RateLimited {
        retry_after_secs: wait.as_secs().max(1),
    }
}

/// The success answer: 201 JSON, or 303 to the thank-you page.
fn success(site: &SiteSettings, format: Format, id: &str, replayed: bool, embed: bool) -> Response {
    let mut response = match format {
        Format::Json => (
            StatusCode::CREATED,
            Json(json!({"id": id, "status": "received"})),
        )
            .into_response(),
        Format::Html => {
            let to = site.redirect_url.clone().unwrap_or_else(|| match embed {
                true => format!("/forms/{}/thanks?embed=1", site.slug),
                false => format!("/forms/{}/thanks", site.slug),
            });
            Redirect::to(&to).into_response()
        }
    };
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// 422: JSON names each bad field (by the site's own name where
/// `[sites.fields]` maps it); a browser gets the form again with the
/// messages, each saying which field of the site's own form it is about,
/// and everything it typed, the extra answers a site's own form asked for
/// included (see `FormPage::retyped`).
pub(super) async fn invalid(post: &Post<'_>, fields: FieldErrors) -> Response {
    let (state, site, raw) = (post.state, post.site, post.raw);
    if post.format == Format::Json {
        let fields = site.fields.their_errors(&fields);
        return HttpError::Validation(fields).into_response_for(post.format);
    }
    let fields = site.fields.annotated(&fields);
    let key = post
        .key
        .map_or_else(|| uuid::Uuid::now_v7().simple().to_string(), str::to_owned);
    let extras = Enquiry::extra_inputs(raw, post.rules);
    // The form comes back with the token it was sent with: the family's time
    // on the page runs on, so correcting a field is never "too fast".
    let mut page = FormPage::retyped(site, Some(raw), &fields, key, extras)
        .with_captcha(site.captcha(&state.settings.captcha))
        .with_time_token(resend_token(post), &state.spam.tokens);
    page.visit_fields = visit_fields(&state.store, site, Some(raw), &fields).await;
    match page.render() {
        Ok(page) => {
            let mut response = (StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => HttpError::internal("rendering the form", e).into_response_for(post.format),
    }
}

/// The `_t` a re-shown form carries: the one posted while it is in (or
/// before) its window, else a fresh one, so correcting a form left open
/// overnight does not hold the corrected post as stale.
fn resend_token(post: &Post<'_>) -> String {
    let (tokens, slug) = (&post.state.spam.tokens, &post.site.slug);
    let now = crate::spam::unix_now();
    post.raw
        .first("_t")
        .filter(|token| {
            matches!(
                tokens.check(slug, token, now),
                TokenCheck::Fresh | TokenCheck::TooFast
            )
        })
        .map(str::to_owned)
        .unwrap_or_else(|| tokens.issue(slug, now))
}
