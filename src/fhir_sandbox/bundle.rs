//! `POST <care-enquiries URI>`: checks the Healthcode headers in order
//! (Bearer token, `SU-SiteId`, `HC-API-Version`, `Content-Type`), validates
//! the Bundle, applies it entry by entry (`store`), records it and answers a
//! `transaction-response`.
//!
//! Idempotent only as far as the bundle asks: an entry whose `ifNoneExist`
//! finds its resource is answered `200 OK` with that resource's location
//! and creates nothing; any other entry is `201 Created`, a re-send
//! included, as on a real FHIR server.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::errors::{FHIR_JSON, FhirError};
use super::faults::answer_accepted;
use super::records::{AcceptedBundle, ResourceIds};
use super::store::{MultipleMatches, Outcome};
use super::validate::check_bundle;
use super::{FhirSandbox, bundle_path};

/// Largest accepted body; an enquiry bundle is a few kilobytes.
const MAX_BODY_BYTES: usize = 1024 * 1024;

pub async fn receive(
    State(sandbox): State<FhirSandbox>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response, FhirError> {
    let moved = sandbox.state().faults.move_endpoints;
    if uri.path() != bundle_path(moved) {
        return Err(FhirError::one(
            StatusCode::NOT_FOUND,
            "not-found",
            "There is no care-enquiries endpoint here any more. Read its URI from /.well-known/discovery-document.json; never hard-code it.",
        ));
    }
    check_token(&sandbox, &headers)?;
    let site_id = check_site(&sandbox, &headers)?;
    let api_version = check_version(&sandbox, &headers)?;
    check_content_type(&headers)?;

    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            FhirError::one(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-costly",
                format!(
                    "The body is over {MAX_BODY_BYTES} bytes; an enquiry bundle is a few kilobytes."
                ),
            )
        })?;
    let bundle: Value = serde_json::from_slice(&body).map_err(|_| {
        FhirError::one(
            StatusCode::BAD_REQUEST,
            "structure",
            "The body is not JSON; send the Bundle as FHIR JSON.",
        )
    })?;
    let checked =
        check_bundle(&bundle).map_err(|(status, issues)| FhirError::new(status, issues))?;

    let (answer, after, ids, created, repeat) = {
        let mut state = sandbox.state();
        let now = OffsetDateTime::now_utc();
        let outcomes = state.apply(&checked, now).map_err(too_many_matches)?;
        let answer = json!({
            "resourceType": "Bundle",
            "id": state.new_id(),
            "type": "transaction-response",
            "entry": outcomes.iter().map(entry_response).collect::<Vec<_>>(),
        });
        let ids = ResourceIds::of(&outcomes);
        let created = outcomes.iter().filter(|o| o.created).count();
        let repeat = (state.bundles.iter()).any(|b| b.identifier == checked.identifier);
        state.bundles.push(AcceptedBundle {
            identifier: checked.identifier,
            ids: ids.clone(),
            entries: outcomes,
            repeat,
            site_id,
            api_version,
            received_at: now,
            bundle,
            response: answer.clone(),
        });
        let after = state.faults.take_after_accept();
        (answer, after, ids, created, repeat)
    };
    // Server ids and counts only: the identifier is ours and the bundle is personal.
    tracing::info!(
        service_request = %ids.service_request,
        created,
        repeat,
        "fhir sandbox: enquiry bundle accepted"
    );
    Ok(answer_accepted(after, &answer))
}

/// One entry of the `transaction-response`: `201 Created` with the new
/// resource's location, or `200 OK` with the one its `ifNoneExist` found.
fn entry_response(outcome: &Outcome) -> Value {
    let modified = outcome
        .last_modified
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    json!({
        "response": {
            "status": if outcome.created { "201 Created" } else { "200 OK" },
            "location": format!("{}/{}/_history/1", outcome.resource_type, outcome.id),
            "etag": "W/\"1\"",
            "lastModified": modified,
        }
    })
}

/// FHIR R4: a conditional create whose search finds more than one resource
/// fails with 412, and the transaction with it.
fn too_many_matches(found: MultipleMatches) -> FhirError {
    FhirError::new(
        StatusCode::PRECONDITION_FAILED,
        vec![super::errors::Issue::error(
            "multiple-matches",
            &format!("Bundle.entry[{}].request.ifNoneExist", found.entry),
            format!(
                "{} {} resources match this ifNoneExist; a conditional create needs it to find one at most. Nothing in the bundle was created.",
                found.count, found.resource_type
            ),
        )],
    )
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A header that must come once: two `SU-SiteId`s leave the site ambiguous,
/// and a server might read either.
fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &str,
    shown: &str,
) -> Result<Option<&'h str>, FhirError> {
    if headers.get_all(name).iter().count() > 1 {
        return Err(FhirError::one(
            StatusCode::BAD_REQUEST,
            "structure",
            format!("{shown} is sent more than once; send it once."),
        ));
    }
    Ok(header_text(headers, name))
}

fn check_token(sandbox: &FhirSandbox, headers: &HeaderMap) -> Result<(), FhirError> {
    let presented = header_text(headers, header::AUTHORIZATION.as_str())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(token) = presented else {
        let mut refusal = FhirError::one(
            StatusCode::UNAUTHORIZED,
            "login",
            "No access token: send Authorization: Bearer <access_token> from the token endpoint.",
        );
        refusal.challenge = Some("Bearer realm=\"fhir-sandbox\"");
        return Err(refusal);
    };
    if !sandbox.state().token_is_live(token, Instant::now()) {
        let mut refusal = FhirError::one(
            StatusCode::UNAUTHORIZED,
            "expired",
            "The access token is unknown, expired or revoked. Get a new one from the token endpoint and send the request again.",
        );
        refusal.challenge = Some("Bearer realm=\"fhir-sandbox\", error=\"invalid_token\"");
        return Err(refusal);
    }
    Ok(())
}

fn check_site(sandbox: &FhirSandbox, headers: &HeaderMap) -> Result<String, FhirError> {
    match single_header(headers, "su-siteid", "SU-SiteId")? {
        Some(site) if site == sandbox.config().site_id => Ok(site.to_owned()),
        Some(_) => Err(FhirError::one(
            StatusCode::FORBIDDEN,
            "forbidden",
            "This client may not write to the site in SU-SiteId. Use the site id the sandbox was started with.",
        )),
        None => Err(FhirError::one(
            StatusCode::FORBIDDEN,
            "forbidden",
            "SU-SiteId is missing: every call names the site it writes to.",
        )),
    }
}

fn check_version(sandbox: &FhirSandbox, headers: &HeaderMap) -> Result<String, FhirError> {
    let versions = &sandbox.config().api_versions;
    match single_header(headers, "hc-api-version", "HC-API-Version")? {
        Some(version) if versions.iter().any(|v| v == version) => Ok(version.to_owned()),
        Some(_) => Err(FhirError::one(
            StatusCode::BAD_REQUEST,
            "not-supported",
            format!(
                "This HC-API-Version is not served; use one of: {}.",
                versions.join(", ")
            ),
        )),
        None => Err(FhirError::one(
            StatusCode::BAD_REQUEST,
            "required",
            "HC-API-Version is missing. Healthcode would assume version 1; the sandbox refuses, so a client that forgets it is caught.",
        )),
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), FhirError> {
    let media_type = header_text(headers, header::CONTENT_TYPE.as_str()).map(|v| {
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    if media_type.as_deref() == Some(FHIR_JSON) {
        return Ok(());
    }
    Err(FhirError::one(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "not-supported",
        format!("Send the Bundle with Content-Type: {FHIR_JSON}."),
    ))
}
