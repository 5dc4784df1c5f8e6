//! CareHQ API: request signing, the HTTP client, its errors, and the mapping of
//! an enquiry onto CareHQ's parameters.

mod client;
mod enquiry_params;
mod error;
pub mod rate_limit;
mod routing;
pub mod signing;
mod visit_params;

pub use client::{CareHqClient, ClientSettings, Reply};
pub use enquiry_params::enquiry_params;
pub use error::CareHqError;
pub use rate_limit::{Permit, RateLimit, RateLimitGate};
pub use routing::SiteRouting;
pub use visit_params::visit_params;
