//! What a builder's entry becomes in the store: an enquiry with its outbox
//! rows, like a form post, keyed so a repeat is stored once, within the
//! site's rate limit (which a repeat does not spend).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use tracing::{info, warn};

use super::HookLabel;
use super::answers::{answer, count, stored};
use crate::config::{SiteSettings, SiteWebhook};
use crate::domain::Enquiry;
use crate::http::access_log::mark_shed;
use crate::http::keyed_digest::{self, Purpose};
use crate::http::routes::submit::fingerprint;
use crate::http::state::AppState;
use crate::site_forms::Payload;
use crate::spam::SpamVerdict;
use crate::storage::{EnquiryId, InsertOutcome, NewEnquiry, StoreError};

/// Entry ids longer than this are digested into the key like a body.
const MAX_ENTRY_ID_CHARS: usize = 100;

pub(super) async fn store(
    state: &AppState,
    site: &SiteSettings,
    hook: &SiteWebhook,
    ip: IpAddr,
    payload: &Payload,
    bytes: &[u8],
    enquiry: &Enquiry,
) -> Response {
    let label = (site, hook);
    let key = idempotency_key(state, hook, payload, bytes);
    let (Ok(fingerprint), Ok(stored_payload)) = (
        fingerprint(&state.settings.carehq.api_secret, enquiry, None),
        serde_json::to_string(enquiry),
    ) else {
        count(label, "unavailable");
        return answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the entry could not be encoded; this is a fault of ours: send it again later",
        );
    };
    let token = match state.spam.limits.take_site(ip, &site.slug, Instant::now()) {
        Ok(token) => token,
        Err(wait) => return over_the_limit(state, label, &key, &fingerprint, wait).await,
    };
    let id = EnquiryId::generate();
    let new = NewEnquiry {
        id: id.clone(),
        site: site.slug.clone(),
        payload: stored_payload,
        // The builder ran its own spam check and the token proves the
        // builder: kept as long as a clean form post.
        spam_verdict: SpamVerdict::Clean,
        idempotency_key: Some(key),
        fingerprint: Some(fingerprint),
        held: false,
        consent: None,
        partner_event: None,
        destinations: site.also_send_to.clone(),
        intake: Some(format!("webhook {}", hook.name)),
    };
    match state.store.insert_enquiry(new).await {
        Ok(InsertOutcome::Created) => {
            token.spend();
            state.worker.wake();
            info!(enquiry_id = %id, site = %site.slug, hook = %hook.name, "enquiry received by form-builder webhook and stored");
            stored(label, &id, false)
        }
        Ok(InsertOutcome::Duplicate { enquiry_id }) => {
            info!(enquiry_id = %enquiry_id, site = %site.slug, hook = %hook.name, "form-builder webhook repeated; answered as before");
            stored(label, &enquiry_id, true)
        }
        Ok(InsertOutcome::Conflict) => changed(label),
        Err(e) => unavailable(label, &e),
    }
}

/// The post's idempotency key: the builder's entry id where it sends one,
/// else a keyed digest of the body as received. The space in it keeps it
/// apart from every key a browser may send (`_k` is visible ASCII only).
fn idempotency_key(
    state: &AppState,
    hook: &SiteWebhook,
    payload: &Payload,
    bytes: &[u8],
) -> String {
    let entry = hook.entry_id_key().and_then(|key| payload.text(key));
    match entry {
        Some(id) if id.len() <= MAX_ENTRY_ID_CHARS && id.bytes().all(|b| b.is_ascii_graphic()) => {
            format!("webhook {} entry {id}", hook.name)
        }
        Some(id) => {
            let digest = keyed_digest::digest(&state.settings, Purpose::WebhookBody, id.as_bytes());
            format!("webhook {} entry {digest}", hook.name)
        }
        None => {
            let digest = keyed_digest::digest(&state.settings, Purpose::WebhookBody, bytes);
            format!("webhook {} body {digest}", hook.name)
        }
    }
}

/// The site's limit is reached: a repeat of an entry stored before is
/// still answered as before; anything else waits (429).
async fn over_the_limit(
    state: &AppState,
    label: HookLabel<'_>,
    key: &str,
    fingerprint: &str,
    wait: Duration,
) -> Response {
    let site = label.0;
    match (state.store)
        .enquiry_for_key(&site.slug, key, Some(fingerprint))
        .await
    {
        Ok(Some(InsertOutcome::Duplicate { enquiry_id })) => stored(label, &enquiry_id, true),
        Ok(Some(InsertOutcome::Conflict)) => changed(label),
        Err(e) => unavailable(label, &e),
        Ok(Some(InsertOutcome::Created) | None) => {
            count(label, "rate_limited");
            let secs = wait.as_secs().max(1);
            let mut response = answer(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                &format!(
                    "this home's enquiry limit (rate_limit.per_site) is reached; send the entry again in {secs} seconds"
                ),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            mark_shed(response)
        }
    }
}

/// The same entry id with other details: the first is kept (409).
fn changed(label: HookLabel<'_>) -> Response {
    count(label, "changed");
    info!(site = %label.0.slug, hook = %label.1.name, "form-builder webhook re-sent an entry with other details; answered 409, the first kept");
    answer(
        StatusCode::CONFLICT,
        "conflict",
        "this entry id was received before with other details; the first is kept and sent to the home. Ask this service's operator to correct the enquiry",
    )
}

/// The database could not take it: 503, so the builder sends it again.
fn unavailable(label: HookLabel<'_>, e: &StoreError) -> Response {
    count(label, "unavailable");
    warn!(site = %label.0.slug, hook = %label.1.name, error = %e, "form-builder webhook not stored: the database is unavailable; answered 503");
    let mut response = answer(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "temporarily unable to store the entry; send it again in a minute",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    response
}
