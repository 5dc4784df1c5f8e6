//! Admission of a partner webhook: is the site there and does it take the
//! partner, is the address throttled, do the credentials hold. Whatever can
//! be judged without the body is judged before reading it, and every
//! refusal is the same 401 (see the module above).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header::RETRY_AFTER};
use axum::response::Response;
use tracing::debug;

use super::answers::{answer, count};
use super::{PARTNER, UNKNOWN_SITE};
use crate::config::{PartnerAuth, SiteSettings};
use crate::http::access_log::mark_shed;
use crate::http::peer::client_ip;
use crate::http::state::AppState;
use crate::partners::webhook_auth::{self, AuthRefusal, SignedHeaders};
use crate::spam::subscriber;
use crate::storage::now_ms;

/// The site, if it takes this partner and the request proves it is the
/// partner, and the raw body (signatures are over the bytes as received).
/// Whatever can be judged without the body is judged before reading it.
pub(super) async fn admitted<'s>(
    state: &'s AppState,
    slug: &str,
    peer: IpAddr,
    headers: &HeaderMap,
    body: Body,
    route: &'static str,
) -> Result<(&'s SiteSettings, bytes::Bytes), Response> {
    let client = subscriber(client_ip(&state.settings, peer, headers));
    let site = state.settings.site(slug);
    let label = site.map_or(UNKNOWN_SITE, |s| s.slug.as_str());
    // An address shut out for its refusals is answered from memory.
    if let Err(wait) = state
        .partner_throttle
        .attempt(client, Instant::now(), false)
    {
        count(route, label, "throttled");
        return Err(throttled(wait));
    }
    let refuse = |refusal: AuthRefusal, reason: &'static str| {
        refuse(state, client, route, label, refusal, reason)
    };
    let (Some(site), Some(auth)) = (site, site.and_then(|s| s.partners.helparound.as_ref())) else {
        let reason = match site {
            None => "no such site",
            Some(_) => "the site does not take this partner ([sites.partners.helparound])",
        };
        return Err(refuse(AuthRefusal::Wrong, reason));
    };
    let now = now_ms() / 1000;
    let signed = SignedHeaders {
        id: header(headers, "webhook-id"),
        timestamp: header(headers, "webhook-timestamp"),
        signature: header(headers, "webhook-signature"),
    };
    if let Err(refusal) = before_the_body(auth, headers, &signed, now) {
        return Err(refuse(refusal, refusal.as_str()));
    }
    let bytes = read_body(body, state.settings.server.body_limit, route, &site.slug).await?;
    if let (None, Some(secret)) = (&auth.token, &auth.signing_secret) {
        let keys: Vec<Vec<u8>> = webhook_auth::signing_key(secret).into_iter().collect();
        if let Err(refusal) = webhook_auth::check_signature(&signed, &bytes, &keys, now) {
            return Err(refuse(refusal, refusal.as_str()));
        }
    }
    Ok((site, bytes))
}

/// A refusal of the credentials: counted, logged at debug and answered 401.
fn refuse(
    state: &AppState,
    client: IpAddr,
    route: &'static str,
    label: &str,
    refusal: AuthRefusal,
    reason: &'static str,
) -> Response {
    count(route, label, "unauthorized");
    // Counted towards the address's limit; a refusal that reaches it
    // is still answered 401, the next ones 429.
    let _ = (state.partner_throttle).attempt(client, Instant::now(), true);
    // Why, for the operator, at debug: the metric counts refusals, and
    // a flood must not become log lines (nor the address a record).
    debug!(
        site = label,
        partner = PARTNER,
        reason,
        "partner webhook refused"
    );
    // The partner hears only "unauthorized", so a prober learns nothing
    // of which sites exist or take the partner.
    mark_shed(answer(StatusCode::UNAUTHORIZED, refusal.message(), None))
}

/// The body as received (signatures are over these bytes), up to the
/// server's body limit: a larger one is refused 413.
async fn read_body(
    body: Body,
    limit: usize,
    route: &'static str,
    site: &str,
) -> Result<bytes::Bytes, Response> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        count(route, site, "refused");
        answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request is larger than {limit} bytes; send the event alone"),
            None,
        )
    })
}

/// The credentials as far as they can be judged without the body: the
/// bearer token whole; of a signature, its headers and its time.
fn before_the_body(
    auth: &PartnerAuth,
    headers: &HeaderMap,
    signed: &SignedHeaders<'_>,
    now: i64,
) -> Result<(), AuthRefusal> {
    match (&auth.token, &auth.signing_secret) {
        (Some(token), _) => webhook_auth::check_bearer(header(headers, "authorization"), token),
        (None, Some(_)) => webhook_auth::check_signed_headers(signed, now),
        (None, None) => Err(AuthRefusal::Wrong),
    }
}

/// 429 for an address shut out for its refusals, with when to try again.
fn throttled(wait: Duration) -> Response {
    let secs = wait.as_secs().max(1);
    let mut response = answer(
        StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "too many unauthorized requests from this address; send again in {secs} seconds with the bearer token or the webhook signature agreed with this service's operator"
        ),
        None,
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(secs));
    mark_shed(response)
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
