//! Screening: is this post refused outright (origin, per-IP limit), dropped
//! (honeypot), or doubted (time token, `Origin: null`, CAPTCHA)? A doubt is
//! only judged here; it holds the enquiry once the enquiry proves valid.

use std::net::IpAddr;
use std::time::Instant;

use axum::http::{HeaderMap, header};
use tracing::{debug, error, info, warn};

use super::Post;
use super::answering::rate_limited;
use crate::captcha::Verdict;
use crate::config::{CaptchaProvider, OnCaptchaError, SiteSettings};
use crate::domain::{FieldErrors, RawSubmission};
use crate::http::error::HttpError;
use crate::http::state::AppState;
use crate::spam::{self, OriginCheck, Outcome, SpamVerdict};

/// A post from an origin the site does not allow is refused (403).
pub(super) fn check_origin(
    state: &AppState,
    site: &SiteSettings,
    headers: &HeaderMap,
) -> Result<OriginCheck, HttpError> {
    let origin = spam::check_origin(headers, site, state.settings.server.public_url.as_deref());
    if let OriginCheck::Refused(origin) = &origin {
        spam::count(Outcome::OriginRefused, &site.slug);
        // Debug, as for the rate limit: counted in metrics, and a flood of
        // foreign posts must not become a flood of log lines.
        debug!(site = %site.slug, origin = %origin, "post from an origin not allowed for this site; answered 403");
        return Err(HttpError::OriginRefused);
    }
    Ok(origin)
}

/// The client's address, once it is within the per-IP limit (else 429).
pub(super) fn check_ip(
    state: &AppState,
    site: &SiteSettings,
    peer: IpAddr,
    headers: &HeaderMap,
) -> Result<IpAddr, HttpError> {
    let server = &state.settings.server;
    let ip = spam::client_ip(
        peer,
        headers,
        &server.trusted_proxies,
        server.client_ip_header,
    );
    match state.spam.limits.check_ip(ip, Instant::now()) {
        Ok(()) => Ok(ip),
        Err(wait) => Err(rate_limited(site, wait, "per-IP")),
    }
}

/// A filled honeypot: counted and logged here; answered as a success.
pub(super) fn honeypot_tripped(site: &SiteSettings, raw: &RawSubmission) -> bool {
    if !spam::honeypot_tripped(raw, &site.honeypot_field) {
        return false;
    }
    spam::count(Outcome::Honeypot, &site.slug);
    spam::count(Outcome::Dropped, &site.slug);
    // Debug, as for the rate limit: counted in metrics, and cheap in a flood.
    debug!(site = %site.slug, outcome = Outcome::Honeypot.as_str(), "honeypot filled; answered as success, nothing stored");
    true
}

/// Why a valid post is held rather than sent: its `spam_verdict` and the
/// counter it trips.
#[derive(Clone, Copy, Debug)]
pub(super) struct Doubt {
    pub(super) verdict: SpamVerdict,
    pub(super) outcome: Outcome,
}

/// The doubt about this post, if any, first one found: its time token
/// (too fast, stale, forged, from the future; or missing on a form post to a
/// site that requires one), then `Origin: null`. JSON posts without `_t`
/// come from integrations that may never have fetched one, so only a token
/// they do send is judged.
pub(super) fn doubt(
    state: &AppState,
    site: &SiteSettings,
    headers: &HeaderMap,
    raw: &RawSubmission,
    origin: &OriginCheck,
) -> Option<Doubt> {
    let time_trap = |verdict| Doubt {
        verdict,
        outcome: Outcome::TimeTrap,
    };
    let token = match raw.first("_t") {
        Some(token) => state
            .spam
            .tokens
            .check(&site.slug, token, spam::unix_now())
            .verdict()
            .map(time_trap),
        None if site.require_time_token && !posted_json(headers) => {
            Some(time_trap(SpamVerdict::NoTimeToken))
        }
        None => None,
    };
    token.or_else(|| {
        (*origin == OriginCheck::Null).then_some(Doubt {
            verdict: SpamVerdict::NullOrigin,
            outcome: Outcome::NullOrigin,
        })
    })
}

fn posted_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"))
}

/// What the CAPTCHA step found: the verdict it gives and whether it holds.
#[derive(Clone, Copy, Debug)]
pub(super) struct CaptchaOutcome {
    verdict: SpamVerdict,
    held: bool,
}

impl CaptchaOutcome {
    const CLEAN: CaptchaOutcome = CaptchaOutcome {
        verdict: SpamVerdict::Clean,
        held: false,
    };
}

/// The screening's result for a post that goes on to be stored.
#[derive(Clone, Copy, Debug)]
pub(super) struct Screened {
    pub(super) verdict: SpamVerdict,
    pub(super) held: bool,
    /// The time token's or origin's doubt, counted once the post is stored.
    pub(super) doubt: Option<Doubt>,
}

impl Screened {
    pub(super) fn new(post: &Post<'_>, captcha: CaptchaOutcome, doubt: Option<Doubt>) -> Screened {
        // A form post without a time token is let through unless the site
        // requires one (a site's own HTML may never have fetched it): losing a
        // family's enquiry silently is worse than a spam post staff can
        // delete. It is marked.
        let unmarked = captcha.verdict == SpamVerdict::Clean
            && post.raw.first("_t").is_none()
            && !posted_json(post.headers);
        let captcha_verdict = match unmarked {
            true => SpamVerdict::NoTimeToken,
            false => captcha.verdict,
        };
        // The time token's or origin's doubt names the verdict ahead of the
        // CAPTCHA's: it is the reason the enquiry waits for a person.
        let (verdict, held) = match doubt {
            Some(doubt) => (doubt.verdict, true),
            None => (captcha_verdict, captcha.held),
        };
        Screened {
            verdict,
            held,
            doubt,
        }
    }
}

const CAPTCHA_REFUSED: &str = "We could not confirm you are a person. Complete the check again and resend the form, or telephone the home.";

/// The CAPTCHA step: `Ok(Ok(_))` to go on storing, `Ok(Err(fields))` for a
/// refused token (422), `Err` for a 503.
pub(super) async fn captcha(
    post: &Post<'_>,
    ip: IpAddr,
) -> Result<Result<CaptchaOutcome, FieldErrors>, HttpError> {
    let (state, site) = (post.state, post.site);
    let settings = site.captcha(&state.settings.captcha);
    if settings.provider == CaptchaProvider::None {
        return Ok(Ok(CaptchaOutcome::CLEAN));
    }
    let hosts = widget_hosts(state, site);
    let verdict = state
        .captcha
        .check(settings, &site.slug, post.raw, ip, &hosts, post.key);
    match verdict.await? {
        Verdict::Passed => Ok(Ok(CaptchaOutcome::CLEAN)),
        Verdict::Failed { reason } => {
            spam::count(Outcome::CaptchaFailed, &site.slug);
            info!(site = %site.slug, reason = %reason, "CAPTCHA refused; answered 422");
            let mut fields = FieldErrors::default();
            fields.add("captcha", CAPTCHA_REFUSED);
            Ok(Err(fields))
        }
        Verdict::Unavailable { reason } => {
            spam::count(Outcome::CaptchaUnavailable, &site.slug);
            warn!(site = %site.slug, reason = %reason, policy = ?settings.on_error, "CAPTCHA provider unavailable");
            let unverified = |held| CaptchaOutcome {
                verdict: SpamVerdict::CaptchaUnverified,
                held,
            };
            match settings.on_error {
                OnCaptchaError::Accept => Ok(Ok(unverified(false))),
                OnCaptchaError::Hold => Ok(Ok(unverified(true))),
                OnCaptchaError::Reject => Err(HttpError::CaptchaUnavailable),
            }
        }
        Verdict::Misconfigured { reason } => {
            spam::count(Outcome::CaptchaUnavailable, &site.slug);
            error!(site = %site.slug, reason = %reason, "CAPTCHA provider refused our keys; check [captcha] site_key and secret. Answered 503");
            Err(HttpError::CaptchaUnavailable)
        }
    }
}

/// Host names a CAPTCHA may have been solved on: the site's allowed origins
/// and our public URL, all of them configured. Never the request's own
/// `Host` header: the client chooses it, so a token solved on any website
/// would pass by naming that website's host (review T3-17). With neither
/// configured, the provider's host name is not checked (`Settings::warnings`
/// says so at start-up).
fn widget_hosts(state: &AppState, site: &SiteSettings) -> Vec<String> {
    let host_of = |origin: &str| {
        let rest = origin.split_once("://").map_or(origin, |(_, r)| r);
        let host = rest.split('/').next().unwrap_or(rest);
        strip_port(host).to_ascii_lowercase()
    };
    let mut hosts: Vec<String> = site.allowed_origins.iter().map(|o| host_of(o)).collect();
    if let Some(url) = &state.settings.server.public_url {
        hosts.push(host_of(url));
    }
    hosts
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| h.trim_start_matches('['));
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
}
