//! Admission of a form builder's webhook, before its body is read: is the
//! address shut out for earlier refusals (the partners' throttle, shared:
//! one address guessing tokens is one address), do the site and the hook
//! exist, and does the token match (bearer header, or the URL's last
//! segment). An unknown site, an unknown hook and a wrong token get one and
//! the same 401, so nothing tells a prober which sites or hooks exist. A
//! request with no token at all is answered 401 before the throttle is asked
//! (it guesses nothing, so it is no strike, and never a 429).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tracing::debug;

use super::answers::{answer, count_unknown};
use crate::config::{SiteSettings, SiteWebhook};
use crate::http::access_log::mark_shed;
use crate::http::peer::client_ip;
use crate::http::state::AppState;
use crate::partners::webhook_auth::{self, AuthRefusal};
use crate::spam::subscriber;

/// The site, its hook and the client's address, once the token holds.
pub(super) fn admitted<'s>(
    state: &'s AppState,
    slug: &str,
    name: &str,
    path_token: Option<&SecretString>,
    peer: IpAddr,
    headers: &HeaderMap,
) -> Result<(&'s SiteSettings, &'s SiteWebhook, IpAddr), Shut> {
    let ip = client_ip(&state.settings, peer, headers);
    let client = subscriber(ip);
    let site = state.settings.site(slug);
    let hook = site.and_then(|s| s.webhooks.iter().find(|w| w.name == name));
    // No token at all guesses nothing: answered 401 from here, never 429,
    // and not counted towards the address's limit.
    if path_token.is_none() && header_text(headers, "authorization").is_none() {
        count_unknown(site, hook, "unauthorized");
        debug!(reason = "missing", "form-builder webhook refused");
        return Err(Shut::Unauthorized);
    }
    if let Err(wait) = (state.partner_throttle).attempt(client, Instant::now(), false) {
        count_unknown(site, hook, "throttled");
        return Err(Shut::Throttled(wait));
    }
    let (Some(site), Some(hook)) = (site, hook) else {
        let reason = match site {
            None => "no such site",
            Some(_) => "the site has no webhook of that name ([[sites.webhooks]])",
        };
        return Err(refuse(state, client, site, None, reason));
    };
    let Some(token) = &hook.token else {
        return Err(refuse(
            state,
            client,
            Some(site),
            Some(hook),
            "the hook has no token",
        ));
    };
    let checked = match path_token {
        Some(given) => same(given, token),
        None => webhook_auth::check_bearer(header_text(headers, "authorization"), token),
    };
    if let Err(refusal) = checked {
        return Err(refuse(
            state,
            client,
            Some(site),
            Some(hook),
            refusal.as_str(),
        ));
    }
    Ok((site, hook, ip))
}

/// The URL's token against ours, in constant time.
fn same(given: &SecretString, token: &SecretString) -> Result<(), AuthRefusal> {
    let same: bool = (given.expose_secret().as_bytes())
        .ct_eq(token.expose_secret().as_bytes())
        .into();
    same.then_some(()).ok_or(AuthRefusal::Wrong)
}

/// Why a webhook is not let in: answered by [`Shut::answer`].
#[derive(Clone, Copy, Debug)]
pub(super) enum Shut {
    /// The address is shut out for its refusals, for this long still.
    Throttled(Duration),
    /// No such site or hook, or the wrong token.
    Unauthorized,
}

impl Shut {
    pub(super) fn answer(self) -> Response {
        match self {
            Shut::Throttled(wait) => throttled(wait),
            Shut::Unauthorized => unauthorized(),
        }
    }
}

/// A refusal: counted towards the address's limit, logged at debug without
/// the address, the path or the token.
fn refuse(
    state: &AppState,
    client: IpAddr,
    site: Option<&SiteSettings>,
    hook: Option<&SiteWebhook>,
    reason: &'static str,
) -> Shut {
    count_unknown(site, hook, "unauthorized");
    let _ = (state.partner_throttle).attempt(client, Instant::now(), true);
    debug!(
        site = site.map_or("unknown", |s| s.slug.as_str()),
        reason, "form-builder webhook refused"
    );
    Shut::Unauthorized
}

/// 401, the same for every refusal.
fn unauthorized() -> Response {
    let mut response = answer(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "this webhook needs the token set for it in this service's configuration ([[sites.webhooks]] token): as \"Authorization: Bearer <token>\", or as the URL's last segment for builders that cannot set headers; check the URL's site and hook name too",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"enquiry-relay webhooks\""),
    );
    mark_shed(response)
}

/// 429 for an address shut out for its refusals, with when to try again.
fn throttled(wait: Duration) -> Response {
    let secs = wait.as_secs().max(1);
    let mut response = answer(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        &format!(
            "too many refused webhooks from this address; send again in {secs} seconds with the hook's token"
        ),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    mark_shed(response)
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
