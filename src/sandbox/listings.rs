//! `GET /v1/locations` and `GET /v1/groups` over the seeded records, with
//! CareHQ's list conventions: `attributes`, `filters-*`, paging (§5).

use axum::{Extension, Json};
use serde_json::{Map, Value, json};

use super::error::SandboxError;
use super::gate::Params;
use super::params::{Checker, LIST_PARAMS, ListQuery};
use super::seed;
use super::state::is_carehq_id;

/// When the seeded records were "created" in CareHQ (fixed, so answers are stable).
const SEEDED_AT: &str = "2024-11-01 09:00:00";

const LOCATION_ATTRIBUTES: &[&str] = &["_id", "archived", "created", "modified", "name"];
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
            }))
        })
        .collect();
    list(&params, LOCATION_ATTRIBUTES, &[], items)
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
    list(&params, GROUP_ATTRIBUTES, &["filters-group_type"], items)
}

/// Applies the common filters (archived, ids) and `extra_filters` (attribute
/// equals one of the values), then pages and projects the result.
fn list(
    params: &[(String, String)],
    attributes: &[&str],
    extra_filters: &[&str],
    items: Vec<Map<String, Value>>,
) -> Result<Json<Value>, SandboxError> {
    let mut check = Checker::new(params);
    let known: Vec<&str> = [
        LIST_PARAMS,
        &["filters-archived", "filters-ids"],
        extra_filters,
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
    check.finish()?;

    let kept = items
        .into_iter()
        .filter(|item| include_archived || item.get("archived") != Some(&Value::Bool(true)))
        .filter(|item| ids.is_empty() || ids.iter().any(|id| item.get("_id") == Some(&json!(id))))
        .filter(|item| {
            extra.iter().all(|(filter, values)| {
                let attribute = filter.trim_start_matches("filters-");
                values.is_empty()
                    || values
                        .iter()
                        .any(|v| item.get(attribute) == Some(&json!(v)))
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
