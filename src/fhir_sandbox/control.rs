//! The sandbox's own routes (not the FHIR server's): `/_sandbox/...` JSON
//! views and controls for tests and developers, and the HTML page at `/`.
//! No authentication: the sandbox holds only test data and listens where
//! the developer put it.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::errors::FhirError;
use super::identifier::IdentifierSearch;
use super::records::AcceptedBundle;
use super::store::StoredResource;
use super::{Faults, FhirSandbox, page};
use crate::sandbox::fault_kit::{self, FaultsRefused};

pub fn router(sandbox: FhirSandbox) -> Router {
    Router::new()
        .route("/", get(page::page))
        .route("/_sandbox/bundles", get(bundles))
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/resources", get(resources))
        .route("/_sandbox/faults", get(faults).put(set_faults))
        .route("/_sandbox/revoke-tokens", post(revoke_tokens))
        .route("/_sandbox/reset", post(reset))
        .with_state(sandbox)
}

async fn bundles(State(sandbox): State<FhirSandbox>) -> Json<Vec<AcceptedBundle>> {
    Json(sandbox.accepted_bundles())
}

/// The counters tests assert on (token reuse, re-sends, resources held per
/// type: a re-send that duplicated shows as more Patients than enquiries).
async fn stats(State(sandbox): State<FhirSandbox>) -> Json<Value> {
    Json(json!({
        "tokens_issued": sandbox.tokens_issued(),
        "enquiries": sandbox.enquiry_count(),
        "bundle_posts": sandbox.bundle_posts(),
        "requests": sandbox.request_count(),
        "resources": sandbox.resource_counts(),
    }))
}

#[derive(serde::Deserialize)]
struct ResourcesQuery {
    identifier: Option<String>,
}

/// Resource type → the resources held (id, identifiers, the bundle that
/// created it); `?identifier=system|value` keeps those with that
/// identifier, a FHIR token search across the types.
async fn resources(
    State(sandbox): State<FhirSandbox>,
    Query(query): Query<ResourcesQuery>,
) -> Result<Json<BTreeMap<String, Vec<StoredResource>>>, FhirError> {
    let search = match query.identifier.as_deref() {
        None => None,
        Some(token) => Some(IdentifierSearch::token(token).ok_or_else(|| {
            FhirError::one(
                StatusCode::BAD_REQUEST,
                "value",
                "identifier must be a token: system|value, |value or value.",
            )
        })?),
    };
    Ok(Json(sandbox.state().resources.listing(search.as_ref())))
}

async fn faults(State(sandbox): State<FhirSandbox>) -> Json<Faults> {
    Json(sandbox.faults())
}

/// Takes the raw body so a malformed one gets an OperationOutcome rather
/// than axum's plain-text rejection.
async fn set_faults(
    State(sandbox): State<FhirSandbox>,
    body: Bytes,
) -> Result<Json<Faults>, FhirError> {
    let faults =
        fault_kit::read_faults(&body, Faults::problem).map_err(|refused| match refused {
            FaultsRefused::Malformed(text) => {
                FhirError::one(StatusCode::BAD_REQUEST, "structure", text)
            }
            FaultsRefused::NotApplied(text) => {
                FhirError::one(StatusCode::BAD_REQUEST, "value", text)
            }
        })?;
    sandbox.set_faults(faults.clone());
    Ok(Json(faults))
}

async fn revoke_tokens(State(sandbox): State<FhirSandbox>) -> StatusCode {
    sandbox.revoke_tokens();
    StatusCode::NO_CONTENT
}

async fn reset(State(sandbox): State<FhirSandbox>) -> StatusCode {
    sandbox.reset();
    StatusCode::NO_CONTENT
}

/// Fallback when the sandbox runs alone (`serve`).
pub async fn not_found() -> impl IntoResponse {
    FhirError::one(
        StatusCode::NOT_FOUND,
        "not-found",
        "Nothing here. The FHIR sandbox serves / (what it accepted), /_sandbox/... (controls) and the endpoints named in /.well-known/discovery-document.json and /.well-known/openid-configuration.",
    )
}
