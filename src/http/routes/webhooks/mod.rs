//! `POST /webhooks/{site}/{name}` (and `…/{name}/{token}` for builders that
//! cannot set headers): a form builder's webhook (docs/site-forms.md),
//! server to server, after the builder's own spam check. The body (JSON or
//! url-encoded) is read through the hook's preset and field map into the
//! same submission a browser post is, checked by the same parser, and
//! stored like a form post. Answered 200 with the enquiry id once stored,
//! not 201: Elementor takes anything but 200 for a failure.
//!
//! A repeat is stored once: the builder's entry id (where its preset or the
//! hook's `entry_id` names it) or else a keyed digest of the body is the
//! post's idempotency key, in a namespace a browser's `_k` cannot reach.
//!
//! This file owns the handlers; `admission` judges the request before its
//! body is read (the partners' throttle and bearer check), `storing` turns
//! the payload into a stored enquiry, `answers` speaks to the builder and
//! counts each answer.

mod admission;
mod answers;
mod storing;

use std::net::IpAddr;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use secrecy::SecretString;

use self::answers::{answer, count, invalid};
use crate::config::{SiteSettings, SiteWebhook};
use crate::domain::{Enquiry, IntakeRules};
use crate::http::peer::PeerAddr;
use crate::http::state::AppState;
use crate::site_forms::{Payload, PayloadError};

/// Webhooks by site, hook and outcome (`stored`, `repeat`, `invalid`,
/// `refused`, `changed`, `unauthorized`, `throttled`, `rate_limited`,
/// `unavailable`). Site and hook are configured names, or `unknown`.
pub const SITE_WEBHOOKS: &str = "enquiry_relay_site_webhooks_total";

/// `Authorization: Bearer <token>`.
pub async fn receive(
    State(state): State<AppState>,
    Path((site, name)): Path<(String, String)>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(&state, &site, &name, None, peer, &headers, body).await
}

/// The token as the URL's last segment (Elementor, Ninja Forms). The
/// request's path is never logged whole (see `access_log::logged_path`).
pub async fn receive_with_token(
    State(state): State<AppState>,
    Path((site, name, token)): Path<(String, String, String)>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let token = SecretString::from(token);
    handle(&state, &site, &name, Some(&token), peer, &headers, body).await
}

async fn handle(
    state: &AppState,
    slug: &str,
    name: &str,
    path_token: Option<&SecretString>,
    peer: IpAddr,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let (site, hook, ip) = match admission::admitted(state, slug, name, path_token, peer, headers) {
        Ok(admitted) => admitted,
        Err(shut) => return shut.answer(),
    };
    let hook_label = (site, hook);
    let limit = state.settings.server.body_limit;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        count(hook_label, "refused");
        return answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!(
                "the request is larger than {limit} bytes; send one form entry per request, without attachments"
            ),
        );
    };
    let payload = match read_payload(headers, &bytes) {
        Ok(payload) => payload,
        Err((status, code, words)) => {
            count(hook_label, "refused");
            return answer(status, code, &words);
        }
    };
    let raw = payload.submission(&hook.field_map(), &hook.ignored());
    let enquiry = match Enquiry::parse(&raw, &rules(site)) {
        Ok(enquiry) => enquiry,
        Err(fields) => return invalid(hook_label, &hook.field_map().their_errors(&fields)),
    };
    storing::store(state, site, hook, ip, &payload, &bytes, &enquiry).await
}

/// What a site allows of a webhook's enquiry: its services. Consent is the
/// builder's form's business (our consent wording was never shown there),
/// and nothing is ignored beyond what the preset leaves out.
fn rules(site: &SiteSettings) -> IntakeRules<'_> {
    IntakeRules {
        allowed_services: &site.services,
        require_consent: false,
        ignored_fields: &[],
    }
}

/// The body by its content type: JSON, or url-encoded (Elementor's and
/// most builders' form format). `Err` is the answer's status, code and words.
fn read_payload(
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<Payload, (StatusCode, &'static str, String)> {
    let content_type = (headers.get(header::CONTENT_TYPE))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Payload::from_json(bytes)
            .map_err(|e: PayloadError| (StatusCode::BAD_REQUEST, "bad_request", e.to_string())),
        "application/x-www-form-urlencoded" => Ok(Payload::from_form(bytes)),
        _ => Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the form entry as application/json or application/x-www-form-urlencoded (set the builder's request format to JSON or form)".into(),
        )),
    }
}

/// The `site` and `hook` labels of a request's metric.
type HookLabel<'a> = (&'a SiteSettings, &'a SiteWebhook);
