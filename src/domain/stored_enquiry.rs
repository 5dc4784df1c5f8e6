//! `StoredEnquiry`: what `enquiries.payload` holds. The validated enquiry's
//! own fields, then `consent_version` when the family ticked the site's
//! consent statement and the site names a version, so staff know which
//! wording was agreed to.
//!
//! The shape is the one rows already hold (the enquiry's object with
//! `consent_version` last, when there is one): serde writes it, and reads
//! it back through the enquiry's own checks (`Enquiry`'s fields are parsed
//! again).

use serde::{Deserialize, Serialize};

use super::Enquiry;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredEnquiry {
    #[serde(flatten)]
    pub enquiry: Enquiry,
    /// The site's `consent_version` the family agreed to; never written
    /// when they did not tick it or the site has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_version: Option<String>,
}

impl StoredEnquiry {
    /// The enquiry as stored for a site whose consent statement is
    /// `consent_version` (if it has one): kept only when ticked.
    pub fn new(enquiry: Enquiry, consent_version: Option<&str>) -> StoredEnquiry {
        let consent_version = consent_version
            .filter(|_| enquiry.consent)
            .map(str::to_owned);
        StoredEnquiry {
            enquiry,
            consent_version,
        }
    }
}
