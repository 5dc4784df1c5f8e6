//! The FHIR destination (issue 16, Healthcode's conventions, docs/design.md,
//! "FHIR destination"): what an enquiry becomes in FHIR R4 (`bundle`) and the client that
//! sends it (`client`: discovery, OAuth 2.0 client credentials, the POST).
//! Its outbox lane and `[[destinations]]` configuration come next.

mod bundle;
mod client;
mod error;

pub use bundle::{IDENTIFIER_SYSTEM, VisitTimes, bundle};
pub use client::{FhirClient, FhirReply, FhirSettings};
pub use error::FhirError;
