//! Partner intake: enquiries that reach us from another platform's webhooks
//! instead of a form. Each partner's payloads, their mapping to a form-like
//! submission and the way the partner authenticates live here; the HTTP layer
//! only routes, answers and stores (through the same outbox as forms).

pub mod helparound;
pub mod webhook_auth;
