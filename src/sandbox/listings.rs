//! `GET /v1/locations` and `GET /v1/groups` over the seeded records, and
//! `GET /v1/care-enquiries` over those received (only for a key allowed to
//! read them), with CareHQ's list conventions: `attributes`, `filters-*`,
//! paging (§5).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{Map, Value, json};

use super::Sandbox;
use super::error::SandboxError;
use super::gate::Params;
use super::params::{Checker, LIST_PARAMS, ListQuery};
use super::records::carehq_date_time;
use super::records::parse_carehq_date_time;
use super::seed;
use super::state::is_carehq_id;

/// When the seeded records were "created" in CareHQ (fixed, so answers are stable).
const SEEDED_AT: &str = "2024-11-01 09:00:00";

const LOCATION_ATTRIBUTES: &[&str] =
    &["_id", "archived", "created", "modified", "name", "services"];

/// Services each seeded location offers (values from `enquiries::SERVICES`).
fn location_services(id: &str) -> &'static [&'static str] {
    if id == seed::DEMO_LOCATION {
        &[
            "residential_home",
            "nursing_home",
            "dementia_care",
            "respite_care",
        ]
    } else {
        &["residential_home", "respite_care"]
    }
}
const GROUP_ATTRIBUTES: &[&str] = &[
    "_id",
    "archived",
    "created",
    "description",
    "group_type",
    "modified",
    "name",
    "nominal_code",
    "parent_group",
    "protected",
];

pub async fn locations(
    Extension(Params(params)): Extension<Params>,
) -> Result<Json<Value>, SandboxError> {
    let items = seed::LOCATIONS
        .iter()
        .map(|(id, name)| {
            object(json!({
                "_id": id, "name": name, "archived": false,
                "created": SEEDED_AT, "modified": SEEDED_AT,
                "services": location_services(id),
            }))
        })
        .collect();
    // `filters-services`: the Gravity Forms plugin's call (docs/carehq-api.md,
    // "Lists: locations and groups" and "The WordPress plugins").
    list(
        &params,
        LOCATION_ATTRIBUTES,
        &["filters-services"],
        false,
        items,
    )
}

/// What a listed care enquiry shows: its Id and times (the sandbox keeps the
/// form pairs, not CareHQ's record, so no other attribute is offered).
const ENQUIRY_ATTRIBUTES: &[&str] = &["_id", "created", "modified"];

/// Care enquiries are personal data: a website's key should not read them
/// (CareHQ's guidance), so the sandbox's key may not unless configured to.
pub async fn care_enquiries(
    State(sandbox): State<Sandbox>,
    Extension(Params(params)): Extension<Params>,
) -> Result<Json<Value>, SandboxError> {
    if !sandbox.config().key_can_read_enquiries {
        return Err(SandboxError::Forced {
            status: StatusCode::FORBIDDEN,
            hint: "This API key does not have permission to read care enquiries (Care enquiries > Read).".into(),
        });
    }
    let items = (sandbox.received_enquiries().iter())
        .map(|e| {
            let at = carehq_date_time(e.received_at);
            object(json!({ "_id": e.id, "created": at, "modified": at }))
        })
        .collect();
    list(&params, ENQUIRY_ATTRIBUTES, &[], false, items)
}

pub async fn groups(
    Extension(Params(params)): Extension<Params>,
) -> Result<Json<Value>, SandboxError> {
    let items = seed::GROUPS
        .iter()
        .map(|(id, name, group_type)| {
            object(json!({
                "_id": id, "name": name, "group_type": group_type, "archived": false,
                "created": SEEDED_AT, "modified": SEEDED_AT, "description": "",
                "nominal_code": null, "parent_group": null, "protected": false,
            }))
        })
        .collect();
    // The groups page lists modified_after/before and a case-insensitive text
    // search whose name is cut off (`filters-q`, inferred; matched on name).
    list(
        &params,
        GROUP_ATTRIBUTES,
        &["filters-group_type"],
        true,
        items,
    )
}

/// Applies the common filters (archived, ids), `extra_filters` (attribute
/// equals, or as a list contains, one of the values) and, with `modified_and_q`,
/// `filters-modified_after`/`_before` and `filters-q` (on name); then sorts,
/// pages and projects the result.
fn list(
    params: &[(String, String)],
    attributes: &[&str],
    extra_filters: &[&str],
    modified_and_q: bool,
    items: Vec<Map<String, Value>>,
) -> Result<Json<Value>, SandboxError> {
    let mut check = Checker::new(params);
    let optional: &[&str] = if modified_and_q {
        &[
            "filters-modified_after",
            "filters-modified_before",
            "filters-q",
        ]
    } else {
        &[]
    };
    let known: Vec<&str> = [
        LIST_PARAMS,
        &["filters-archived", "filters-ids"],
        extra_filters,
        optional,
    ]
    .concat();
    check.reject_unknown(&known);
    let query = ListQuery::read(&mut check, attributes);

    let include_archived = match check.one("filters-archived") {
        None | Some("no") => false,
        Some("yes") => true,
        Some(other) => {
            check.error(
                "filters-archived",
                format!("'{other}' is not valid; send no (the default: leave archived records out) or yes (include them)."),
            );
            false
        }
    };
    let ids = check.many("filters-ids");
    if ids.iter().any(|id| !is_carehq_id(id)) {
        check.error(
            "filters-ids",
            "Each value must be a CareHQ Id (24 lowercase hex characters); repeat the parameter for several.",
        );
    }
    let extra: Vec<(&str, Vec<&str>)> = extra_filters
        .iter()
        .map(|name| (*name, check.many(name)))
        .collect();
    let mut modified = Vec::new();
    for (name, after) in [
        ("filters-modified_after", true),
        ("filters-modified_before", false),
    ] {
        let Some(value) = check.one(name) else {
            continue;
        };
        match parse_carehq_date_time(value) {
            Some(at) => modified.push((at, after)),
            None => check.error(
                name,
                "Not a valid date and time; send YYYY-MM-DD HH:MM:SS, e.g. 2025-03-01 14:30:00.",
            ),
        }
    }
    let q = check
        .one("filters-q")
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());
    check.finish()?;

    let kept = items
        .into_iter()
        .filter(|item| include_archived || item.get("archived") != Some(&Value::Bool(true)))
        .filter(|item| ids.is_empty() || ids.iter().any(|id| item.get("_id") == Some(&json!(id))))
        .filter(|item| {
            extra.iter().all(|(filter, values)| {
                let attribute = filter.trim_start_matches("filters-");
                values.is_empty()
                    || values.iter().any(|v| match item.get(attribute) {
                        Some(Value::Array(list)) => list.contains(&json!(v)),
                        other => other == Some(&json!(v)),
                    })
            })
        })
        .filter(|item| {
            let at = item
                .get("modified")
                .and_then(Value::as_str)
                .and_then(parse_carehq_date_time);
            modified.iter().all(|(bound, after)| {
                at.is_some_and(|at| if *after { at > *bound } else { at < *bound })
            })
        })
        .filter(|item| {
            q.as_ref().is_none_or(|q| {
                item.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|name| name.to_lowercase().contains(q.as_str()))
            })
        })
        .collect();
    Ok(Json(query.envelope(kept)))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
