//! A site's `services` and `[sites.defaults]`: CareHQ service values and
//! the values sent when the family gave none.

use super::checks::boolean;
use super::error::Problems;
use super::raw::RawSiteDefaults;
use super::sections::SiteDefaults;
use super::text::text;
use crate::domain::FundingType;

/// Longest service value accepted.
const MAX_SERVICE: usize = 64;

/// A CareHQ service value looks like `residential_home`; catching "Residential
/// Home" here beats a 400 from CareHQ on every enquiry.
fn valid_service(value: &str) -> bool {
    (1..=MAX_SERVICE).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn service_problem(value: &str) -> String {
    format!(
        "\"{value}\" is not a CareHQ service value; use lower case and underscores, e.g. \"residential_home\""
    )
}

pub(super) fn services(i: usize, items: Vec<String>, p: &mut Problems) -> Option<Vec<String>> {
    let mut ok = true;
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for (j, item) in items.into_iter().enumerate() {
        let key = format!("sites[{i}].services[{j}]");
        if !valid_service(&item) {
            p.push(key, service_problem(&item));
            ok = false;
        } else if out.contains(&item) {
            p.push(
                key,
                format!("\"{item}\" is listed twice; list each service once"),
            );
            ok = false;
        } else {
            out.push(item);
        }
    }
    ok.then_some(out)
}

pub(super) fn defaults(
    i: usize,
    raw: &RawSiteDefaults,
    services: &[String],
    p: &mut Problems,
) -> Option<SiteDefaults> {
    let key = |field: &str| format!("sites[{i}].defaults.{field}");
    let service = match text(&raw.service) {
        None => Some(None),
        Some(v) if !valid_service(v) => {
            p.push(key("service"), service_problem(v));
            None
        }
        Some(v) if !services.is_empty() && !services.iter().any(|s| s == v) => {
            p.push(
                key("service"),
                format!("\"{v}\" is not among this site's services ({}); add it there or pick one of them", services.join(", ")),
            );
            None
        }
        Some(v) => Some(Some(v.to_owned())),
    };
    let funding_type = match text(&raw.funding_type) {
        None => Some(None),
        Some(v) if FundingType::ALL.iter().any(|f| f.as_str() == v) => Some(Some(v.to_owned())),
        Some(v) => {
            p.push(
                key("funding_type"),
                format!(
                    "\"{v}\" is not a CareHQ funding type; expected one of: {}",
                    FundingType::ALL.map(FundingType::as_str).join(", ")
                ),
            );
            None
        }
    };
    let enquiring_for_self = match text(&raw.enquiring_for_self) {
        None => Some(None),
        Some(_) => boolean(
            &key("enquiring_for_self"),
            &raw.enquiring_for_self,
            false,
            p,
        )
        .map(Some),
    };
    Some(SiteDefaults {
        service: service?,
        funding_type: funding_type?,
        enquiring_for_self: enquiring_for_self?,
    })
}
