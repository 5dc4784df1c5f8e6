//! `PUT /v1/care-enquiries`: validates like CareHQ (strictly: unknown names are
//! refused so our typos surface), records the pairs exactly as received and
//! answers with the created object.

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::Sandbox;
use super::error::SandboxError;
use super::faults::answer_created;
use super::gate::Params;
use super::params::{Checker, not_one_of};
use super::records::{ReceivedEnquiry, carehq_date_time};
use super::seed;

pub const FUNDING_TYPES: &[&str] = &[
    "private",
    "local_authority",
    "local_authority_top_up",
    "chc",
    "chc_lifestyle",
    "block_bed",
    "dta_spot",
    "not_sure",
];

pub const SERVICES: &[&str] = &[
    "residential_home",
    "nursing_home",
    "dementia_care",
    "respite_care",
    "day_care",
    "home_care",
    "live_in_care",
    "assisted_living",
];

pub const GENDERS: &[&str] = &["male", "female", "non_binary", "transgender", "intersex"];

const BOOLEANS: &[&str] = &[
    "untrusted_source",
    "enquiring_for_self",
    "dementia",
    "dementia_challenging_behaviour",
    "dementia_prone_to_wander",
];

/// Free-text fields: any value, empty included.
const TEXTS: &[&str] = &["phone", "mobile", "care_requirements", "genders_other"];

const OTHERS: &[&str] = &[
    "location",
    "first_name",
    "last_name",
    "email",
    "funding_type",
    "service",
    "referrer",
    "sales_channel",
    "genders",
    "dob",
];

pub async fn create(
    State(sandbox): State<Sandbox>,
    Extension(Params(params)): Extension<Params>,
) -> Result<Response, SandboxError> {
    let refusal = sandbox.state().faults.refusal(&params);
    if let Some(refusal) = refusal {
        return Err(refusal);
    }
    let object = validate(&params)?;
    let now = OffsetDateTime::now_utc();
    let (id, after) = {
        let mut state = sandbox.state();
        let id = state.new_id(now.unix_timestamp());
        state.enquiries.push(ReceivedEnquiry {
            id: id.clone(),
            fields: params,
            received_at: now,
        });
        (id, state.faults.take_after_create())
    };
    tracing::info!(enquiry_id = %id, "sandbox: care enquiry created");

    let created = carehq_date_time(now);
    let mut body = Map::new();
    body.insert("_id".into(), json!(id));
    body.insert("created".into(), json!(created));
    body.insert("modified".into(), json!(created));
    body.extend(object);
    Ok(answer_created(after, Value::Object(body)).await)
}

/// Checks the parameters and returns the enquiry's fields as CareHQ would show them.
fn validate(params: &[(String, String)]) -> Result<Map<String, Value>, SandboxError> {
    let known: Vec<&str> = [BOOLEANS, TEXTS, OTHERS].concat();
    let mut check = Checker::new(params);
    check.reject_unknown(&known);
    let mut object = Map::new();

    if let Some(location) = check.required("location") {
        if seed::LOCATIONS.iter().any(|(id, _)| *id == location) {
            object.insert("location".into(), json!(location));
        } else {
            check.error(
                "location",
                "No location with this Id. Use an Id from GET /v1/locations.",
            );
        }
    }
    for name in ["first_name", "last_name"] {
        if let Some(value) = check.required(name) {
            object.insert(name.into(), json!(value));
        }
    }
    if let Some(email) = check.one("email") {
        if email.is_empty() || looks_like_email(email) {
            object.insert("email".into(), json!(email));
        } else {
            check.error("email", "Not a valid email address, e.g. name@example.com.");
        }
    }
    for (name, allowed) in [("funding_type", FUNDING_TYPES), ("service", SERVICES)] {
        if let Some(value) = check.enumerated(name, allowed) {
            object.insert(name.into(), json!(value));
        }
    }
    for (name, group_type) in [("referrer", "referrer"), ("sales_channel", "sales_channel")] {
        let Some(value) = check.one(name) else {
            continue;
        };
        if seed::GROUPS
            .iter()
            .any(|(id, _, kind)| *id == value && *kind == group_type)
        {
            object.insert(name.into(), json!(value));
        } else {
            check.error(
                name,
                format!(
                    "No group of type {group_type} with this Id. Use an Id from GET /v1/groups?filters-group_type={group_type}."
                ),
            );
        }
    }
    for name in BOOLEANS {
        if let Some(value) = check.boolean(name) {
            object.insert((*name).into(), json!(value));
        }
    }
    for name in TEXTS {
        if let Some(value) = check.one(name) {
            object.insert((*name).into(), json!(value));
        }
    }
    let genders = check.many("genders");
    let bad: Vec<&str> = genders
        .iter()
        .copied()
        .filter(|g| !GENDERS.contains(g))
        .collect();
    for value in &bad {
        check.error("genders", not_one_of(value, GENDERS));
    }
    if !genders.is_empty() && bad.is_empty() {
        object.insert("genders".into(), json!(genders));
    }
    if let Some(dob) = check.one("dob") {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        if time::Date::parse(dob, format).is_ok() {
            object.insert("dob".into(), json!(dob));
        } else {
            check.error("dob", "Not a valid date; send YYYY-MM-DD, e.g. 1941-03-09.");
        }
    }

    check.finish()?;
    Ok(object)
}

/// Roughly valid: one `@`, something before it, a dotted domain, no spaces.
fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && !email.chars().any(char::is_whitespace)
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn arg_error_names(params: &[(&str, &str)]) -> Vec<String> {
        match validate(&pairs(params)) {
            Err(SandboxError::Invalid { arg_errors, .. }) => arg_errors.into_keys().collect(),
            other => panic!("expected a validation error, got {:?}", other.map(|_| ())),
        }
    }

    const VALID: &[(&str, &str)] = &[
        ("location", seed::DEMO_LOCATION),
        ("first_name", "Zoë"),
        ("last_name", "O'Brien"),
    ];

    #[test]
    fn accepts_the_official_vector_fields() {
        let object = validate(&pairs(&[
            ("location", "6724fbc74f73a2cebf6377fa"),
            ("first_name", "Zoë"),
            ("last_name", "O'Brien"),
            ("email", "zoe@example.com"),
            ("phone", ""),
            ("genders", "male"),
            ("genders", "female"),
            ("funding_type", "not_sure"),
            ("care_requirements", "Respite care\nGround floor"),
            ("sales_channel", "6724fbc74f73a2cebf6377ea"),
            ("untrusted_source", "true"),
        ]))
        .unwrap();
        assert_eq!(object["genders"], json!(["male", "female"]));
        assert_eq!(object["untrusted_source"], json!(true));
        assert_eq!(object["phone"], json!(""));
    }

    #[test]
    fn refuses_each_kind_of_bad_value() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("service", "care_home")], "service"),
            (&[("genders", "male"), ("genders", "other")], "genders"),
            (&[("dementia", "yes")], "dementia"),
            (&[("email", "zoe@example")], "email"),
            (&[("referrer", "6724fbc74f73a2cebf6377ea")], "referrer"),
            (
                &[("sales_channel", "640f0f17f9b7e9ec6079fa16")],
                "sales_channel",
            ),
            (&[("dob", "09/03/1941")], "dob"),
            (&[("first_name", "again")], "first_name"),
        ];
        for (extra, field) in cases {
            let mut params = VALID.to_vec();
            params.extend_from_slice(extra);
            assert_eq!(arg_error_names(&params), [*field], "case {field}");
        }
    }

    #[test]
    fn blank_names_count_as_missing() {
        let names = arg_error_names(&[
            ("location", seed::DEMO_LOCATION),
            ("first_name", " "),
            ("last_name", ""),
        ]);
        assert_eq!(names, ["first_name", "last_name"]);
    }

    #[test]
    fn emails_are_checked_roughly() {
        assert!(looks_like_email("a.b+c@care-home.co.uk"));
        for bad in [
            "plain",
            "@x.com",
            "a@b",
            "a b@c.com",
            "a@b..com",
            "a@@b.com",
        ] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }
}
