//! CareHQ API: request signing, the HTTP client and its error classification.

pub mod signing;
