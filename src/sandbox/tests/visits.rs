//! Home visits over HTTP: create → update → complete, and the pending-only rules.

use reqwest::Method;
use serde_json::{Value, json};

use super::*;

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
