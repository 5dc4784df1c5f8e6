//! The FHIR destination (issue 16, Healthcode's conventions, seed document
//! 003): what an enquiry becomes in FHIR R4. The client (discovery, OAuth 2.0
//! client credentials, the POST) and its outbox lane come next; this part is
//! the Bundle.

mod bundle;

pub use bundle::{IDENTIFIER_SYSTEM, VisitTimes, bundle};
