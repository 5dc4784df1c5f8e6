//! enquiry-relay: durable relay from care-home enquiry forms to CareHQ.

pub mod carehq;
pub mod config;
pub mod sandbox;
