//! `POST /forms/{site}`: validate, store durably, wake the worker, answer.
//! No CareHQ call happens here: the family's wait never depends on CareHQ.
//! The abuse checks run cheapest first: origin, per-IP rate limit, body,
//! honeypot, CAPTCHA, the enquiry itself, then the per-site rate limit,
//! which only posts about to be sent spend.
//!
//! Only a filled honeypot drops a post (answered as success, nothing
//! stored): nobody but a program fills a field nobody can see. Every other
//! doubt (a time token too fast, stale, forged or from the future, a missing
//! one where the site requires it, `Origin: null`) is judged *after* the
//! enquiry is validated, so a slip of the Enter key gets its field errors,
//! and a valid post is stored `held` with its `spam_verdict` naming the
//! doubt, for a person to release (docs/design.md, "No silent drop, refined").
//!
//! An idempotency key is stored with a fingerprint of the enquiry: the same
//! key with the same enquiry is the first answer again (a double click), the
//! same key with a different one is a 409 (a site's own HTML with a fixed
//! `_k` must not lose every family after the first).
//!
//! One file per job: [`screening`] (is this post doubted or refused?),
//! [`intake`] (what did the family send?), [`storing`] (the site's limit and
//! the write) and [`answering`] (what the caller is told).

mod answering;
mod intake;
mod screening;
mod storing;

/// The idempotency fingerprint of an enquiry, for the webhooks' keys too.
pub(crate) use intake::fingerprint;

use std::net::IpAddr;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;

use crate::config::SiteSettings;
use crate::domain::{IntakeRules, RawSubmission};
use crate::http::error::HttpError;
use crate::http::format::Format;
use crate::http::peer::PeerAddr;
use crate::http::request_timeout::Storing;
use crate::http::site_slug::SiteSlug;
use crate::http::state::AppState;
use crate::http::submission_body::read_submission;
use crate::spam;

pub async fn submit(
    State(state): State<AppState>,
    SiteSlug(slug): SiteSlug,
    format: Format,
    PeerAddr(peer): PeerAddr,
    storing: Option<Extension<Storing>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let storing = storing.map(|Extension(s)| s);
    let mut response = accept(
        &state,
        &slug,
        format,
        peer,
        &headers,
        body,
        storing.as_ref(),
    )
    .await
    .unwrap_or_else(|e| e.into_response_for(format));
    // Every answer to an allowed cross-origin caller is readable by its script,
    // errors included, so the site's JavaScript can show them.
    if let (Some(site), Some(origin)) = (
        state.settings.site(&slug),
        headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()),
    ) && spam::cors_allowed(origin, site)
    {
        spam::add_cors_headers(response.headers_mut(), origin);
    }
    response
}

/// One post being accepted: what every step after the body is read needs.
struct Post<'a> {
    state: &'a AppState,
    site: &'a SiteSettings,
    format: Format,
    headers: &'a HeaderMap,
    raw: &'a RawSubmission,
    rules: &'a IntakeRules<'a>,
    /// The idempotency key, when the caller sent one.
    key: Option<&'a str>,
}

async fn accept(
    state: &AppState,
    slug: &str,
    format: Format,
    peer: IpAddr,
    headers: &HeaderMap,
    body: Body,
    storing: Option<&Storing>,
) -> Result<Response, HttpError> {
    let site = state.settings.site(slug).ok_or(HttpError::UnknownSite)?;
    let origin = screening::check_origin(state, site, headers)?;
    let ip = screening::check_ip(state, site, peer, headers)?;
    let raw = read_submission(headers, body, state.settings.server.body_limit).await?;
    // A site's own form's names become ours before anything reads them
    // (`[sites.fields]`); the spam fields are not mapped and stay as sent.
    let raw = site.fields.apply(&raw);
    if screening::honeypot_tripped(site, &raw) {
        return Ok(answering::decoy(site, format, &raw));
    }
    // Judged now, acted on only once the enquiry proves valid.
    let doubt = screening::doubt(state, site, headers, &raw, &origin);
    let key = intake::idempotency_key(headers, &raw)?;
    let ignored = intake::ignored_fields(site);
    let rules = intake::rules(site, &ignored);
    let post = Post {
        state,
        site,
        format,
        headers,
        raw: &raw,
        rules: &rules,
        key: key.as_deref(),
    };
    let screened = match screening::captcha(&post, ip).await? {
        Ok(captcha) => screening::Screened::new(&post, captcha, doubt),
        Err(fields) => return Ok(answering::invalid(&post, fields).await),
    };
    let (enquiry, visit) = match intake::parse(&post) {
        Ok(parsed) => parsed,
        Err(fields) => return Ok(answering::invalid(&post, fields).await),
    };
    storing::store(&post, ip, screened, &enquiry, visit.as_ref(), storing).await
}
