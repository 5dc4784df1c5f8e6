//! CareHQ sandbox: a faithful local fake of the CareHQ endpoints enquiry-relay uses.

pub mod seed;
