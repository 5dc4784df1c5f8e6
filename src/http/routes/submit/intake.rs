//! Intake: what the family sent. The idempotency key, the rules the site
//! parses enquiries by, the enquiry and visit themselves, and what is stored
//! of them (the payload and the key's fingerprint).

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use super::Post;
use crate::captcha::WIDGET_FIELDS;
use crate::config::SiteSettings;
use crate::domain::{Enquiry, FieldErrors, IntakeRules, RawSubmission};
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

/// The fingerprint stored with an idempotency key: SHA-256 over the
/// validated enquiry as JSON (fields in their fixed order, values as parsing
/// normalised them, so the same page sent twice matches however the browser
/// spaced it) and the visit asked for. Anti-spam fields (`_t`, a CAPTCHA
/// token) are not in it: a retry of the same enquiry may carry new ones.
/// The version prefix keeps old and new fingerprints apart if this changes.
pub(super) fn fingerprint(
    enquiry: &Enquiry,
    visit: Option<&VisitChoice>,
) -> Result<String, HttpError> {
    let encode = || -> Result<String, serde_json::Error> {
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
    };
    encode().map_err(|e| HttpError::Internal(format!("fingerprinting the enquiry: {e}")))
}

/// The enquiry as stored; with the site's consent version when the family
/// ticked a consent statement, so staff know which wording was agreed to.
pub(super) fn stored_payload(site: &SiteSettings, enquiry: &Enquiry) -> Result<String, HttpError> {
    let encode = || -> Result<String, serde_json::Error> {
        let mut value = serde_json::to_value(enquiry)?;
        if let (Some(version), true, Some(object)) = (
            &site.consent_version,
            enquiry.consent,
            value.as_object_mut(),
        ) {
            object.insert("consent_version".into(), version.clone().into());
        }
        serde_json::to_string(&value)
    };
    encode().map_err(|e| HttpError::Internal(format!("encoding the enquiry: {e}")))
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
