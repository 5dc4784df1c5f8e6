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
//! doubt, for a person to release (DESIGN.md "No silent drop, refined").
//!
//! An idempotency key is stored with a fingerprint of the enquiry: the same
//! key with the same enquiry is the first answer again (a double click), the
//! same key with a different one is a 409 (a site's own HTML with a fixed
//! `_k` must not lose every family after the first).

use askama::Template;
use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::json;
use sha2::{Digest, Sha256};
use tracing::{debug, error, info, warn};

use crate::captcha::{Verdict, WIDGET_FIELDS};
use crate::config::{CaptchaProvider, OnCaptchaError, SiteSettings};
use crate::domain::{Enquiry, FieldErrors, IntakeRules, RawSubmission};
use crate::http::error::HttpError;
use crate::http::format::Format;
use crate::http::pages::{EMBED_FIELD, FormPage};
use crate::http::peer::PeerAddr;
use crate::http::request_timeout::Storing;
use crate::http::site_slug::SiteSlug;
use crate::http::state::AppState;
use crate::http::submission_body::read_submission;
use crate::http::visit_fields::visit_fields;
use crate::spam::{self, OriginCheck, Outcome, TokenCheck};
use crate::storage::{InsertOutcome, NewEnquiry, NewVisit, VisitInsert};
use crate::visits;

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

async fn accept(
    state: &AppState,
    slug: &str,
    format: Format,
    peer: std::net::IpAddr,
    headers: &HeaderMap,
    body: Body,
    storing: Option<&Storing>,
) -> Result<Response, HttpError> {
    let site = state.settings.site(slug).ok_or(HttpError::UnknownSite)?;
    let origin = spam::check_origin(headers, site, state.settings.server.public_url.as_deref());
    if let OriginCheck::Refused(origin) = &origin {
        spam::count(Outcome::OriginRefused, &site.slug);
        // Debug, as for the rate limit: counted in metrics, and a flood of
        // foreign posts must not become a flood of log lines.
        debug!(site = %site.slug, origin = %origin, "post from an origin not allowed for this site; answered 403");
        return Err(HttpError::OriginRefused);
    }
    let server = &state.settings.server;
    let ip = spam::client_ip(
        peer,
        headers,
        &server.trusted_proxies,
        server.client_ip_header,
    );
    if let Err(wait) = state.spam.limits.check_ip(ip, std::time::Instant::now()) {
        return Err(rate_limited(site, wait, "per-IP"));
    }
    let raw = read_submission(headers, body, state.settings.server.body_limit).await?;
    if spam::honeypot_tripped(&raw, &site.honeypot_field) {
        // A bot must not learn which check caught it: the answer is a success
        // in every visible way, but nothing is stored or sent.
        spam::count(Outcome::Honeypot, &site.slug);
        spam::count(Outcome::Dropped, &site.slug);
        // Debug, as for the rate limit: counted in metrics, and cheap in a flood.
        debug!(site = %site.slug, outcome = Outcome::Honeypot.as_str(), "honeypot filled; answered as success, nothing stored");
        let decoy = uuid::Uuid::now_v7().to_string();
        let embed = raw.first(EMBED_FIELD) == Some("1");
        return Ok(crate::http::access_log::mark_shed(stored(
            site, format, &decoy, false, embed,
        )));
    }
    // Judged now, acted on only once the enquiry proves valid.
    let doubt = doubt(state, site, headers, &raw, &origin);
    let key = idempotency_key(headers, &raw)?;
    // Visit fields are checked by `visits`, not appended to the message.
    let mut ignored: Vec<String> = WIDGET_FIELDS
        .iter()
        .chain([&visits::VISIT_DATE_TIME, &visits::VISIT_TYPE])
        .map(|f| (*f).to_owned())
        .collect();
    ignored.push(site.honeypot_field.clone());
    let rules = IntakeRules {
        allowed_services: &site.services,
        require_consent: site.form.consent_text.is_some(),
        ignored_fields: &ignored,
    };
    let (captcha_verdict, captcha_held) =
        match captcha(state, site, headers, &raw, ip, key.as_deref()).await? {
            Ok(verdict) => verdict,
            Err(fields) => {
                return Ok(invalid(state, site, format, &raw, &rules, fields, key).await);
            }
        };
    // A form post without a time token is let through unless the site requires
    // one (a site's own HTML may never have fetched it): losing a family's
    // enquiry silently is worse than a spam post staff can delete. It is marked.
    let captcha_verdict =
        if captcha_verdict == "clean" && raw.first("_t").is_none() && !posted_json(headers) {
            "no_time_token"
        } else {
            captcha_verdict
        };
    // The time token's or origin's doubt names the verdict ahead of the
    // CAPTCHA's: it is the reason the enquiry waits for a person.
    let (spam_verdict, held) = match doubt {
        Some(doubt) => (doubt.verdict, true),
        None => (captcha_verdict, captcha_held),
    };
    let parsed = Enquiry::parse(&raw, &rules);
    let visit = visits::requested(&raw, site, jiff::Timestamp::now());
    let (enquiry, visit) = match (parsed, visit) {
        (Ok(enquiry), Ok(visit)) => (enquiry, visit),
        (parsed, visit) => {
            let mut fields = parsed.err().unwrap_or_default();
            for (field, messages) in visit.err().unwrap_or_default().iter() {
                for message in messages {
                    fields.add(field, message.as_str());
                }
            }
            return Ok(invalid(state, site, format, &raw, &rules, fields, key).await);
        }
    };
    let fingerprint = fingerprint(&enquiry, visit.as_ref())
        .map_err(|e| HttpError::Internal(format!("fingerprinting the enquiry: {e}")))?;
    // The site's limit counts only posts about to become enquiries that are
    // sent (see spam::rate_limit); the token goes back unless one is created
    // (a repeat or a 409 spends none). A held post spends none: it reaches
    // CareHQ only if a person releases it, and a flood of doubtful posts
    // must not use up the limit and turn a family away.
    let site_token = match held {
        true => None,
        false => match state
            .spam
            .limits
            .take_site(ip, &site.slug, std::time::Instant::now())
        {
            Ok(token) => Some(token),
            Err(wait) => {
                // A repeat of a post already stored (a double click) is answered
                // as before, not refused: the family's enquiry was saved. A key
                // reused for another enquiry is told so (409), never replayed.
                if let Some(key) = key.as_deref() {
                    match state
                        .store
                        .enquiry_for_key(&site.slug, key, Some(&fingerprint))
                        .await?
                    {
                        Some(InsertOutcome::Duplicate { enquiry_id }) => {
                            return Ok(repeated(site, format, &raw, &enquiry_id));
                        }
                        Some(InsertOutcome::Conflict) => return Err(conflict(site)),
                        Some(InsertOutcome::Created) | None => {}
                    }
                }
                return Err(rate_limited(site, wait, "per-site"));
            }
        },
    };
    let id = uuid::Uuid::now_v7().to_string();
    let payload = stored_payload(site, &enquiry)
        .map_err(|e| HttpError::Internal(format!("encoding the enquiry: {e}")))?;
    let new = NewEnquiry {
        id: &id,
        site: &site.slug,
        payload: &payload,
        spam_verdict,
        idempotency_key: key.as_deref(),
        fingerprint: Some(&fingerprint),
        held,
    };
    // From here the outcome is the database's: the request timeout waits for
    // it rather than answer "not sent" (see http::request_timeout).
    if let Some(storing) = storing {
        storing.begin();
    }
    let outcome = match (&visit, &site.visits) {
        (Some(choice), Some(settings)) => {
            let local_time = choice.slot.carehq();
            let new_visit = NewVisit {
                slot_at: choice.slot.at_ms(),
                local_time: &local_time,
                time_zone: &settings.time_zone_name,
                visit_type: &choice.visit_type,
                capacity: settings.capacity,
            };
            match state
                .store
                .insert_enquiry_with_visit(&new, &new_visit)
                .await?
            {
                VisitInsert::Stored(outcome) => outcome,
                VisitInsert::SlotFull => {
                    let mut fields = FieldErrors::default();
                    fields.add(visits::VISIT_DATE_TIME, visits::request::SLOT_FULL);
                    return Ok(invalid(state, site, format, &raw, &rules, fields, key).await);
                }
            }
        }
        _ => state.store.insert_enquiry(&new).await?,
    };
    match outcome {
        InsertOutcome::Created => {
            if let Some(token) = site_token {
                token.spend();
            }
            spam::count(Outcome::Accepted, &site.slug);
            if let Some(doubt) = doubt {
                spam::count(doubt.outcome, &site.slug);
            }
            if held {
                spam::count(Outcome::Held, &site.slug);
                // No personal data: the verdict and ids say what staff need.
                info!(enquiry_id = %id, site = %site.slug, spam_verdict, "enquiry received and held: not sent until someone runs `enquiry-relay enquiries release ID`");
            } else {
                state.worker.wake();
                info!(enquiry_id = %id, site = %site.slug, "enquiry received and stored");
            }
            let embed = raw.first(EMBED_FIELD) == Some("1");
            Ok(stored(site, format, &id, false, embed))
        }
        InsertOutcome::Duplicate { enquiry_id } => Ok(repeated(site, format, &raw, &enquiry_id)),
        InsertOutcome::Conflict => Err(conflict(site)),
    }
}

/// The same idempotency key with a different enquiry: nothing stored, no
/// site token spent, and the family told to reload (a fresh page has a fresh
/// key) rather than shown the first family's answer.
fn conflict(site: &SiteSettings) -> HttpError {
    info!(site = %site.slug, "idempotency key sent again with a different enquiry; answered 409, nothing stored");
    HttpError::Conflict
}

/// The fingerprint stored with an idempotency key: SHA-256 over the
/// validated enquiry as JSON (fields in their fixed order, values as parsing
/// normalised them, so the same page sent twice matches however the browser
/// spaced it) and the visit asked for. Anti-spam fields (`_t`, a CAPTCHA
/// token) are not in it: a retry of the same enquiry may carry new ones.
/// The version prefix keeps old and new fingerprints apart if this changes.
fn fingerprint(
    enquiry: &Enquiry,
    visit: Option<&visits::VisitChoice>,
) -> Result<String, serde_json::Error> {
    let mut hasher = Sha256::new();
    hasher.update(b"enquiry-v1\n");
    hasher.update(serde_json::to_vec(enquiry)?);
    if let Some(visit) = visit {
        hasher.update(format!(
            "\nvisit\n{}\n{}",
            visit.slot.at_ms(),
            visit.visit_type
        ));
    }
    Ok(hex::encode(hasher.finalize()))
}

/// A repeat of a stored post (same idempotency key): the first answer again.
fn repeated(
    site: &SiteSettings,
    format: Format,
    raw: &RawSubmission,
    enquiry_id: &str,
) -> Response {
    info!(enquiry_id = %enquiry_id, site = %site.slug, "repeated submission (same idempotency key); answered as before");
    let embed = raw.first(EMBED_FIELD) == Some("1");
    stored(site, format, enquiry_id, true, embed)
}

/// A post refused by a rate limit: counted, logged at debug (a flood must not
/// become a flood of log lines; the access line is at debug too), answered 429.
fn rate_limited(site: &SiteSettings, wait: std::time::Duration, limit: &str) -> HttpError {
    spam::count(Outcome::RateLimited, &site.slug);
    debug!(site = %site.slug, limit, "rate limit reached; answered 429");
    HttpError::RateLimited {
        retry_after_secs: wait.as_secs().max(1),
    }
}

/// The enquiry as stored; with the site's consent version when the family
/// ticked a consent statement, so staff know which wording was agreed to.
fn stored_payload(site: &SiteSettings, enquiry: &Enquiry) -> Result<String, serde_json::Error> {
    let mut value = serde_json::to_value(enquiry)?;
    if let (Some(version), true, Some(object)) = (
        &site.form.consent_version,
        enquiry.consent,
        value.as_object_mut(),
    ) {
        object.insert("consent_version".into(), version.clone().into());
    }
    serde_json::to_string(&value)
}

/// Why a valid post is held rather than sent: its `spam_verdict` and the
/// counter it trips.
#[derive(Clone, Copy, Debug)]
struct Doubt {
    verdict: &'static str,
    outcome: Outcome,
}

/// The doubt about this post, if any, first one found: its time token
/// (too fast, stale, forged, from the future; or missing on a form post to a
/// site that requires one), then `Origin: null`. JSON posts without `_t`
/// come from integrations that may never have fetched one, so only a token
/// they do send is judged.
fn doubt(
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
            Some(time_trap("no_time_token"))
        }
        None => None,
    };
    token.or_else(|| {
        (*origin == OriginCheck::Null).then_some(Doubt {
            verdict: "null_origin",
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

/// The CAPTCHA step: `Ok(Ok((spam_verdict, held)))` to go on storing,
/// `Ok(Err(fields))` for a refused token (422), `Err` for a 503.
async fn captcha(
    state: &AppState,
    site: &SiteSettings,
    headers: &HeaderMap,
    raw: &RawSubmission,
    ip: std::net::IpAddr,
    post_key: Option<&str>,
) -> Result<Result<(&'static str, bool), FieldErrors>, HttpError> {
    let settings = site.captcha(&state.settings.captcha);
    if settings.provider == CaptchaProvider::None {
        return Ok(Ok(("clean", false)));
    }
    let hosts = widget_hosts(state, site, headers);
    match state
        .captcha
        .check(settings, &site.slug, raw, ip, &hosts, post_key)
        .await?
    {
        Verdict::Passed => Ok(Ok(("clean", false))),
        Verdict::Failed { reason } => {
            spam::count(Outcome::CaptchaFailed, &site.slug);
            info!(site = %site.slug, reason = %reason, "CAPTCHA refused; answered 422");
            let mut fields = FieldErrors::default();
            fields.add(
                "captcha",
                "We could not confirm you are a person. Complete the check again and resend the form, or telephone the home.",
            );
            Ok(Err(fields))
        }
        Verdict::Unavailable { reason } => {
            spam::count(Outcome::CaptchaUnavailable, &site.slug);
            warn!(site = %site.slug, reason = %reason, policy = ?settings.on_error, "CAPTCHA provider unavailable");
            match settings.on_error {
                OnCaptchaError::Accept => Ok(Ok(("captcha_unverified", false))),
                OnCaptchaError::Hold => Ok(Ok(("captcha_unverified", true))),
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

/// Host names a CAPTCHA may have been solved on: the site's allowed origins,
/// our public URL and the host this request came to.
fn widget_hosts(state: &AppState, site: &SiteSettings, headers: &HeaderMap) -> Vec<String> {
    let host_of = |origin: &str| {
        let rest = origin.split_once("://").map_or(origin, |(_, r)| r);
        let host = rest.split('/').next().unwrap_or(rest);
        strip_port(host).to_ascii_lowercase()
    };
    let mut hosts: Vec<String> = site.allowed_origins.iter().map(|o| host_of(o)).collect();
    if let Some(url) = &state.settings.server.public_url {
        hosts.push(host_of(url));
    }
    if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        hosts.push(strip_port(host).to_ascii_lowercase());
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

/// The `_t` a re-shown form carries: the one posted while it is in (or
/// before) its window, else a fresh one, so correcting a form left open
/// overnight does not hold the corrected post as stale.
fn resend_token(state: &AppState, site: &SiteSettings, raw: &RawSubmission) -> String {
    let now = spam::unix_now();
    raw.first("_t")
        .filter(|token| {
            matches!(
                state.spam.tokens.check(&site.slug, token, now),
                TokenCheck::Fresh | TokenCheck::TooFast
            )
        })
        .map(str::to_owned)
        .unwrap_or_else(|| state.spam.tokens.issue(&site.slug, now))
}

/// The success answer: 201 JSON, or 303 to the thank-you page.
fn stored(site: &SiteSettings, format: Format, id: &str, replayed: bool, embed: bool) -> Response {
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

/// 422: JSON names each bad field; a browser gets the form again with the
/// messages and everything it typed, the extra answers a site's own form
/// asked for included (see `FormPage::retyped`).
async fn invalid(
    state: &AppState,
    site: &SiteSettings,
    format: Format,
    raw: &RawSubmission,
    rules: &IntakeRules<'_>,
    fields: FieldErrors,
    key: Option<String>,
) -> Response {
    if format == Format::Json {
        return HttpError::Validation(fields).into_response_for(format);
    }
    let key = key.unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let extras = Enquiry::extra_inputs(raw, rules);
    // The form comes back with the token it was sent with: the family's time
    // on the page runs on, so correcting a field is never "too fast".
    let mut page = FormPage::retyped(site, Some(raw), &fields, key, extras)
        .with_captcha(site.captcha(&state.settings.captcha))
        .with_time_token(resend_token(state, site, raw), &state.spam.tokens);
    page.visit_fields = visit_fields(&state.store, site, Some(raw), &fields).await;
    match page.render() {
        Ok(page) => {
            let mut response = (StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => HttpError::Internal(format!("rendering the form: {e}")).into_response_for(format),
    }
}

/// `Idempotency-Key` header, else the `_k` form field: 1–128 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap, raw: &RawSubmission) -> Result<Option<String>, HttpError> {
    let from_header = headers
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or("\u{0}").to_owned());
    let Some(key) = from_header.or_else(|| raw.first("_k").map(str::to_owned)) else {
        return Ok(None);
    };
    let key = key.trim();
    if key.is_empty() || key.len() > 128 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(HttpError::BadRequest(
            "The idempotency key must be 1 to 128 visible ASCII characters.".into(),
        ));
    }
    Ok(Some(key.to_owned()))
}
