//! Intake: what the family sent. The idempotency key, the rules the site
//! parses enquiries by, the enquiry and visit themselves, and what is stored
//! of them (the payload and the key's fingerprint).

use axum::http::HeaderMap;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::Post;
use crate::captcha::WIDGET_FIELDS;
use crate::config::SiteSettings;
use crate::domain::{Enquiry, FieldErrors, IntakeRules, RawSubmission, StoredEnquiry};
use crate::http::error::HttpError;
use crate::storage::ConsentRecord;
use crate::visits::{self, VisitChoice};

/// `Idempotency-Key` header, else the `_k` form field: 1–128 visible ASCII characters.
pub(super) fn idempotency_key(
    headers: &HeaderMap,
    raw: &RawSubmission,
) -> Result<Option<String>, HttpError> {
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

/// The hidden field the hosted form carries, so a post from it is told
/// from a site's own form's (or a script's) in what staff see.
pub(crate) const VIA_FIELD: &str = "_via";

/// Which way a post to `/forms/{site}` came in: the hosted form (its
/// hidden `_via=hosted`), else the site's own form or a script.
pub(super) fn way_in(raw: &RawSubmission) -> &'static str {
    match raw.first(VIA_FIELD) {
        Some("hosted") => "hosted form",
        _ => "site form",
    }
}

/// Fields neither parsed nor appended to the message: the CAPTCHA widget's,
/// the visit's (checked by `visits`) and the honeypot.
pub(super) fn ignored_fields(site: &SiteSettings) -> Vec<String> {
    let mut ignored: Vec<String> = WIDGET_FIELDS
        .iter()
        .chain([&visits::VISIT_DATE_TIME, &visits::VISIT_TYPE])
        .map(|f| (*f).to_owned())
        .collect();
    ignored.push(site.honeypot_field.clone());
    ignored
}

pub(super) fn rules<'a>(site: &'a SiteSettings, ignored: &'a [String]) -> IntakeRules<'a> {
    IntakeRules {
        allowed_services: &site.services,
        require_consent: site.consent_text.is_some(),
        ignored_fields: ignored,
    }
}

/// The enquiry and the visit asked for, or every field error of both.
pub(super) fn parse(post: &Post<'_>) -> Result<(Enquiry, Option<VisitChoice>), FieldErrors> {
    let parsed = Enquiry::parse(post.raw, post.rules);
    let visit = visits::requested(post.raw, post.site, jiff::Timestamp::now());
    match (parsed, visit) {
        (Ok(enquiry), Ok(visit)) => Ok((enquiry, visit)),
        (parsed, visit) => {
            let mut fields = parsed.err().unwrap_or_default();
            for (field, messages) in visit.err().unwrap_or_default().iter() {
                for message in messages {
                    fields.add(field, message.as_str());
                }
            }
            Err(fields)
        }
    }
}

/// The fingerprint stored with an idempotency key: an HMAC-SHA256 over the
/// validated enquiry as JSON (fields in their fixed order, values as parsing
/// normalised them, so the same page sent twice matches however the browser
/// spaced it) and the visit asked for. Anti-spam fields (`_t`, a CAPTCHA
/// token) are not in it: a retry of the same enquiry may carry new ones.
///
/// Keyed by [`FINGERPRINT_LABEL`] under the server's CareHQ secret
/// (`carehq.api_secret`: in the configuration, never in the database), so a
/// copy of the database cannot confirm a guessed enquiry (name, email,
/// phone) against it, encrypted or not. The `k1:` prefix tells it from the
/// unkeyed SHA-256 stored before (see `storage::repeat_or_conflict`).
pub(crate) fn fingerprint(
    secret: &SecretString,
    enquiry: &Enquiry,
    visit: Option<&VisitChoice>,
) -> Result<String, HttpError> {
    let encode = || -> Result<String, serde_json::Error> {
        let key = (keyed(secret.expose_secret().as_bytes()).chain_update(FINGERPRINT_LABEL))
            .finalize()
            .into_bytes();
        let mut mac = keyed(&key);
        Mac::update(&mut mac, b"enquiry-v1\n");
        Mac::update(&mut mac, &serde_json::to_vec(enquiry)?);
        if let Some(visit) = visit {
            let visit = format!("\nvisit\n{}\n{}", visit.slot.at_ms(), visit.visit_type);
            Mac::update(&mut mac, visit.as_bytes());
        }
        Ok(format!("k1:{}", hex::encode(mac.finalize().into_bytes())))
    };
    encode().map_err(|e| HttpError::internal("fingerprinting the enquiry", e))
}

/// What the fingerprint key is derived under, so it is never the CareHQ
/// secret itself.
const FINGERPRINT_LABEL: &[u8] = b"enquiry-relay idempotency fingerprint v1";

fn keyed(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length: this cannot fail.
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// The enquiry as stored; with the site's consent version when the family
/// ticked a consent statement, so staff know which wording was agreed to.
pub(super) fn stored_payload(site: &SiteSettings, enquiry: &Enquiry) -> Result<String, HttpError> {
    let stored = StoredEnquiry::new(enquiry.clone(), site.consent_version.as_deref());
    serde_json::to_string(&stored).map_err(|e| HttpError::internal("encoding the enquiry", e))
}

/// The consent the family gave, when the site shows a statement and it was
/// ticked: its version and the SHA-256 of the wording as shown.
pub(super) fn consent_record(site: &SiteSettings, enquiry: &Enquiry) -> Option<ConsentRecord> {
    let (Some(text), Some(version), true) =
        (&site.consent_text, &site.consent_version, enquiry.consent)
    else {
        return None;
    };
    Some(ConsentRecord {
        version: version.clone(),
        sha256: hex::encode(Sha256::digest(text.as_bytes())),
    })
}
