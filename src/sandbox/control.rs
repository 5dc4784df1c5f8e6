//! The sandbox's own routes (not CareHQ's): `/_sandbox/...` JSON views and
//! controls for tests and developers, and the HTML page at `/`. No authentication:
//! the sandbox holds only test data and listens where the developer put it.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};

use super::error::SandboxError;
use super::fault_kit::{self, FaultsRefused};
use super::records::{HomeVisit, ReceivedEnquiry};
use super::{Faults, Sandbox, page};

pub fn router(sandbox: Sandbox) -> Router {
    Router::new()
        .route("/", get(page::page))
        .route("/_sandbox/enquiries", get(enquiries))
        .route("/_sandbox/home-visits", get(visits))
        .route("/_sandbox/faults", get(faults).put(set_faults))
        .route("/_sandbox/reset", post(reset))
        .with_state(sandbox)
}

async fn enquiries(State(sandbox): State<Sandbox>) -> Json<Vec<ReceivedEnquiry>> {
    Json(sandbox.received_enquiries())
}

async fn visits(State(sandbox): State<Sandbox>) -> Json<Vec<HomeVisit>> {
    Json(sandbox.received_visits())
}

async fn faults(State(sandbox): State<Sandbox>) -> Json<Faults> {
    Json(sandbox.faults())
}

/// Takes the raw body so a malformed one gets the sandbox's JSON `{hint}`
/// rather than axum's plain-text rejection.
async fn set_faults(
    State(sandbox): State<Sandbox>,
    body: Bytes,
) -> Result<Json<Faults>, SandboxError> {
    let faults =
        fault_kit::read_faults(&body, Faults::problem).map_err(|refused| match refused {
            FaultsRefused::Malformed(hint) | FaultsRefused::NotApplied(hint) => {
                SandboxError::BadRequest(hint)
            }
        })?;
    sandbox.set_faults(faults.clone());
    Ok(Json(faults))
}

async fn reset(State(sandbox): State<Sandbox>) -> StatusCode {
    sandbox.reset();
    StatusCode::NO_CONTENT
}

/// Fallback when the sandbox runs alone (`serve`).
pub async fn not_found() -> SandboxError {
    SandboxError::NotFound(
        "Nothing here. The sandbox serves / (what it received), /_sandbox/... (controls) and the CareHQ API under /v1/.".to_owned(),
    )
}
