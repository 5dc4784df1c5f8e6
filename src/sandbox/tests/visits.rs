//! Home visits over HTTP: create → update → complete, and the pending-only rules.

use reqwest::Method;
use serde_json::{Value, json};

use super::*;
use crate::sandbox::records::parse_carehq_date_time;

async fn book(running: &Running, enquiry: &str) -> Value {
    let (status, body) = running
        .call(
            Method::PUT,
            "home-visits",
            &[
                ("care_enquiry", enquiry),
                ("date_time", "2025-03-01 14:30:00"),
                ("host", "manager"),
                ("visit_type", "in_person"),
                ("suppress_email", "true"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn a_visit_is_created_updated_and_completed_then_refuses_updates() {
    let running = start().await;
    let enquiry = running.create_enquiry().await;
    let visit = book(&running, &enquiry).await;
    let id = visit["_id"].as_str().unwrap().to_owned();
    assert_eq!(visit["care_enquiry"], enquiry.as_str());
    assert_eq!(visit["location"], seed::DEMO_LOCATION);
    assert_eq!(visit["cancelled"], Value::Null);
    assert_eq!(visit["completed"], Value::Null);
    assert!(
        visit.get("confirmation_emailed").is_none(),
        "sandbox-only field stays out of the API"
    );
    assert!(!running.sandbox.received_visits()[0].confirmation_emailed);

    let path = format!("home-visits/{id}");
    let (status, updated) = running
        .call(
            Method::PATCH,
            &path,
            &[
                ("date_time", "2025-03-02 10:00:00"),
                ("visit_type", "virtual"),
                ("notes", "Bring the brochure"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["date_time"], "2025-03-02 10:00:00");
    assert_eq!(updated["visit_type"], "virtual");
    assert_eq!(updated["host"], "manager", "untouched fields stay");

    let (status, fetched) = running.call(Method::GET, &path, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(fetched, updated);

    let (status, completed) = running
        .call(Method::PATCH, &format!("{path}/complete"), &[])
        .await;
    assert_eq!(status, 200, "{completed}");
    assert!(completed["completed"].is_string());

    let (status, refused) = running
        .call(Method::PATCH, &path, &[("notes", "too late")])
        .await;
    assert_eq!(status, 400);
    assert!(
        refused["hint"].as_str().unwrap().contains("only pending"),
        "{refused}"
    );
    let (status, _) = running
        .call(Method::PATCH, &format!("{path}/complete"), &[])
        .await;
    assert_eq!(status, 400, "completing twice is refused");
}

#[tokio::test]
async fn a_cancelled_visit_cannot_be_completed_or_cancelled_again() {
    let running = start().await;
    let enquiry = running.create_enquiry().await;
    let id = book(&running, &enquiry).await["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, cancelled) = running
        .call(Method::PATCH, &format!("home-visits/{id}/cancel"), &[])
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert!(cancelled["cancelled"].is_string());
    for action in ["complete", "cancel"] {
        let (status, body) = running
            .call(Method::PATCH, &format!("home-visits/{id}/{action}"), &[])
            .await;
        assert_eq!(status, 400, "{action}: {body}");
    }
}

#[tokio::test]
async fn a_completed_visit_can_still_be_cancelled() {
    let running = start().await;
    let enquiry = running.create_enquiry().await;
    let id = book(&running, &enquiry).await["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    running
        .call(Method::PATCH, &format!("home-visits/{id}/complete"), &[])
        .await;
    let (status, _) = running
        .call(Method::PATCH, &format!("home-visits/{id}/cancel"), &[])
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn creating_checks_the_enquiry_and_the_values() {
    let running = start().await;
    let (status, body) = running
        .call(
            Method::PUT,
            "home-visits",
            &[
                ("care_enquiry", "0123456789abcdef01234567"),
                ("date_time", "2025-02-30 10:00:00"),
                ("host", "matron"),
                ("visit_type", "phone"),
                ("assigned_to", "someone"),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        arg_error_names(&body),
        [
            "assigned_to",
            "care_enquiry",
            "date_time",
            "host",
            "visit_type"
        ]
    );
    let (status, body) = running.call(Method::PUT, "home-visits", &[]).await;
    assert_eq!(status, 400);
    assert_eq!(arg_error_names(&body), ["care_enquiry", "date_time"]);
    assert!(running.sandbox.received_visits().is_empty());
}

#[tokio::test]
async fn unknown_visits_are_404_with_a_hint() {
    let running = start().await;
    for (method, path) in [
        (Method::GET, "home-visits/6724fbca4f73a2cebf63857b"),
        (Method::PATCH, "home-visits/6724fbca4f73a2cebf63857b/cancel"),
        (Method::PATCH, "home-visits/not-an-id"),
    ] {
        let (status, body) = running.call(method, path, &[]).await;
        assert_eq!(status, 404, "{path}");
        assert!(body["hint"].is_string());
    }
}

#[tokio::test]
async fn visits_are_listed_and_filtered_by_enquiry() {
    let running = start().await;
    let first = running.create_enquiry().await;
    let second = running.create_enquiry().await;
    let a = book(&running, &first).await["_id"].clone();
    book(&running, &second).await;
    let (status, all) = running.call(Method::GET, "home-visits", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(all["item_count"], 2);
    let (_, filtered) = running
        .call(
            Method::GET,
            "home-visits",
            &[
                ("filters-care_enquiry", &first),
                ("attributes", "care_enquiry"),
            ],
        )
        .await;
    assert_eq!(
        filtered["items"],
        json!([{"_id": a, "care_enquiry": first}])
    );
}

async fn book_with(running: &Running, params: &[(&str, &str)]) -> (u16, Value) {
    running.call(Method::PUT, "home-visits", params).await
}

#[tokio::test]
async fn suppress_email_takes_every_official_client_spelling() {
    let running = start().await;
    let enquiry = running.create_enquiry().await;
    let spellings = super::OFFICIAL_BOOLEANS;
    for (value, suppressed) in spellings {
        let (status, body) = book_with(
            &running,
            &[
                ("care_enquiry", &enquiry),
                ("date_time", "2025-03-01 14:30:00"),
                ("suppress_email", value),
            ],
        )
        .await;
        assert_eq!(status, 200, "{value:?}: {body}");
        let id = body["_id"].as_str().unwrap();
        let kept = running.sandbox.received_visits();
        let visit = kept.iter().find(|v| v.id == id).unwrap();
        assert_eq!(visit.confirmation_emailed, !suppressed, "{value:?}");

        // The same spellings on update.
        let (status, body) = running
            .call(
                Method::PATCH,
                &format!("home-visits/{id}"),
                &[
                    ("date_time", "2025-03-02 10:00:00"),
                    ("suppress_email", value),
                ],
            )
            .await;
        assert_eq!(status, 200, "update {value:?}: {body}");
        let kept = running.sandbox.received_visits();
        let visit = kept.iter().find(|v| v.id == id).unwrap();
        assert_eq!(visit.confirmation_emailed, !suppressed, "update {value:?}");
    }
    for value in ["yes", "TRUE", "no"] {
        let (status, body) = book_with(
            &running,
            &[
                ("care_enquiry", &enquiry),
                ("date_time", "2025-03-01 14:30:00"),
                ("suppress_email", value),
            ],
        )
        .await;
        assert_eq!(status, 400, "{value:?}: {body}");
        assert_eq!(arg_error_names(&body), ["suppress_email"]);
        let message = body["arg_errors"]["suppress_email"][0].as_str().unwrap();
        assert!(message.contains("True/False"), "{message}");
    }
}

#[tokio::test]
async fn update_takes_assigned_to_and_refuses_a_bad_one() {
    let running = start().await;
    let enquiry = running.create_enquiry().await;
    let id = book(&running, &enquiry).await["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("home-visits/{id}");
    let user = "6724fbc74f73a2cebf637806";
    let (status, body) = running
        .call(Method::PATCH, &path, &[("assigned_to", user)])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["assigned_to"], user);
    let (status, body) = running
        .call(Method::PATCH, &path, &[("assigned_to", "someone")])
        .await;
    assert_eq!(status, 400);
    assert_eq!(arg_error_names(&body), ["assigned_to"]);
}

/// Sets a visit's `modified` back, so a change within the same second shows.
fn age(running: &Running, id: &str) {
    let mut state = running.sandbox.state();
    let visit = state.visits.iter_mut().find(|v| v.id == id).unwrap();
    visit.modified = "2020-01-01 00:00:00".to_owned();
}

#[tokio::test]
async fn modified_changes_on_update_cancel_and_complete() {
    let running = start().await;
    let enquiry = running.create_enquiry().await;
    let first = book(&running, &enquiry).await["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = book(&running, &enquiry).await["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let steps = [
        (first.clone(), "", vec![("notes", "Wheelchair access")]),
        (first.clone(), "/complete", vec![]),
        (first.clone(), "/cancel", vec![]),
        (second.clone(), "/cancel", vec![]),
    ];
    for (id, action, params) in steps {
        age(&running, &id);
        let (status, body) = running
            .call(Method::PATCH, &format!("home-visits/{id}{action}"), &params)
            .await;
        assert_eq!(status, 200, "{action}: {body}");
        assert_ne!(body["modified"], "2020-01-01 00:00:00", "{action}");
        assert!(
            parse_carehq_date_time(body["modified"].as_str().unwrap()).is_some(),
            "{body}"
        );
    }
}

/// Three visits with known fields, for the filter tests: (ids, enquiries).
async fn three_visits(running: &Running) -> (Vec<String>, Vec<String>) {
    let enquiries = vec![
        running.create_enquiry().await,
        running.create_enquiry().await,
    ];
    let mut ids = Vec::new();
    for (enquiry, date_time, visit_type, notes, assigned_to) in [
        (
            &enquiries[0],
            "2025-03-01 09:00:00",
            "in_person",
            "Ground FLOOR rooms please",
            "6724fbc74f73a2cebf637806",
        ),
        (
            &enquiries[0],
            "2025-03-05 23:59:59",
            "virtual",
            "",
            "6724fbc74f73a2cebf637800",
        ),
        (
            &enquiries[1],
            "2025-03-10 12:00:00",
            "in_person",
            "garden view",
            "6724fbc74f73a2cebf637806",
        ),
    ] {
        let (status, body) = book_with(
            running,
            &[
                ("care_enquiry", enquiry),
                ("date_time", date_time),
                ("host", "manager"),
                ("visit_type", visit_type),
                ("notes", notes),
                ("assigned_to", assigned_to),
                ("suppress_email", "True"),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        ids.push(body["_id"].as_str().unwrap().to_owned());
    }
    (ids, enquiries)
}

async fn listed_ids(running: &Running, params: &[(&str, &str)]) -> Vec<String> {
    let (status, body) = running.call(Method::GET, "home-visits", params).await;
    assert_eq!(status, 200, "{params:?}: {body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["_id"].as_str().unwrap().to_owned())
        .collect()
}

/// (query parameters, the visits expected back).
type FilterCase<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);

#[tokio::test]
async fn every_documented_list_filter_works() {
    let running = start().await;
    let (ids, enquiries) = three_visits(&running).await;
    let (a, b, c) = (ids[0].as_str(), ids[1].as_str(), ids[2].as_str());
    running
        .call(Method::PATCH, &format!("home-visits/{b}/cancel"), &[])
        .await;
    running
        .call(Method::PATCH, &format!("home-visits/{c}/complete"), &[])
        .await;
    {
        let mut state = running.sandbox.state();
        state.visits[0].anonymized = Some("2025-04-01 00:00:00".to_owned());
        state.visits[0].modified = "2025-01-01 00:00:00".to_owned();
        state.visits[1].modified = "2025-02-01 00:00:00".to_owned();
        state.visits[2].modified = "2025-03-01 00:00:00".to_owned();
    }
    let other_location = seed::LOCATIONS[1].0;
    let cases: &[FilterCase] = &[
        (&[], &[a, b, c]),
        // The home-visits document's own example request.
        (
            &[
                ("attributes", "care_enquiry"),
                ("attributes", "date_time"),
                ("attributes", "host"),
                ("attributes", "notes"),
                ("filters-cancelled", "no"),
                ("filters-completed", "no"),
            ],
            &[a],
        ),
        (&[("filters-cancelled", "yes")], &[b]),
        (&[("filters-completed", "yes")], &[c]),
        (&[("filters-completed", "no")], &[a, b]),
        (&[("filters-anonymized", "yes")], &[a]),
        (&[("filters-anonymized", "no")], &[b, c]),
        (
            &[("filters-assigned_to", "6724fbc74f73a2cebf637806")],
            &[a, c],
        ),
        (
            &[
                ("filters-assigned_to", "6724fbc74f73a2cebf637806"),
                ("filters-assigned_to", "6724fbc74f73a2cebf637800"),
            ],
            &[a, b, c],
        ),
        (&[("filters-care_enquiry", &enquiries[1])], &[c]),
        (&[("filters-ids", a), ("filters-ids", c)], &[a, c]),
        (&[("filters-location", seed::DEMO_LOCATION)], &[a, b, c]),
        (&[("filters-location", other_location)], &[]),
        (&[("filters-start_date", "2025-03-05")], &[b, c]),
        (&[("filters-end_date", "2025-03-05")], &[a, b]),
        (
            &[
                ("filters-start_date", "2025-03-05"),
                ("filters-end_date", "2025-03-05"),
            ],
            &[b],
        ),
        (
            &[("filters-modified_after", "2025-01-01 00:00:00")],
            &[b, c],
        ),
        (
            &[("filters-modified_before", "2025-03-01 00:00:00")],
            &[a, b],
        ),
        (&[("filters-q", "ground floor")], &[a]),
        (&[("filters-q", "GARDEN")], &[c]),
        (&[("filters-visit_type", "virtual")], &[b]),
        (&[("filters-visit_type", "in_person")], &[a, c]),
    ];
    for (params, expected) in cases {
        assert_eq!(listed_ids(&running, params).await, *expected, "{params:?}");
    }
}

#[tokio::test]
async fn lists_sort_and_page() {
    let running = start().await;
    let (ids, _) = three_visits(&running).await;
    let (a, b, c) = (ids[0].as_str(), ids[1].as_str(), ids[2].as_str());
    assert_eq!(
        listed_ids(&running, &[("sort", "-date_time")]).await,
        [c, b, a]
    );
    assert_eq!(
        listed_ids(&running, &[("sort", "visit_type"), ("sort", "-date_time")]).await,
        [c, a, b]
    );
    assert_eq!(
        listed_ids(
            &running,
            &[("sort", "-date_time"), ("per_page", "2"), ("page", "2")]
        )
        .await,
        [a]
    );
    let (status, body) = running
        .call(
            Method::GET,
            "home-visits",
            &[("sort", "-date_time"), ("per_page", "2")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["item_count"], 3);
    assert_eq!(body["page_count"], 2);
    assert_eq!(body["per_page"], 2);
}

#[tokio::test]
async fn bad_or_unknown_list_parameters_are_named() {
    let running = start().await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("filters-cancelled", "false")], "filters-cancelled"),
        (&[("filters-completed", "maybe")], "filters-completed"),
        (&[("filters-anonymized", "1")], "filters-anonymized"),
        (&[("filters-assigned_to", "anyone")], "filters-assigned_to"),
        (&[("filters-ids", "abc")], "filters-ids"),
        (&[("filters-location", "Upton Court")], "filters-location"),
        (
            &[("filters-start_date", "01/03/2025")],
            "filters-start_date",
        ),
        (&[("filters-end_date", "2025-02-30")], "filters-end_date"),
        (
            &[("filters-modified_after", "2025-03-01")],
            "filters-modified_after",
        ),
        (
            &[("filters-modified_before", "soon")],
            "filters-modified_before",
        ),
        (&[("filters-visit_type", "phone")], "filters-visit_type"),
        (&[("sort", "-colour")], "sort"),
        (&[("filters-status", "pending")], "filters-status"),
        (&[("filters-q", "a"), ("filters-q", "b")], "filters-q"),
    ];
    for (params, name) in cases {
        let (status, body) = running.call(Method::GET, "home-visits", params).await;
        assert_eq!(status, 400, "{name}: {body}");
        assert_eq!(arg_error_names(&body), [*name], "{body}");
    }
    let (_, body) = running
        .call(Method::GET, "home-visits", &[("filters-status", "pending")])
        .await;
    assert!(
        body["arg_errors"]["filters-status"][0]
            .as_str()
            .unwrap()
            .starts_with("Unknown parameter: CareHQ does not accept it here"),
        "{body}"
    );
}
