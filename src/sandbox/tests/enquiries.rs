//! `PUT /v1/care-enquiries` over HTTP: creation, recording, validation.

use reqwest::Method;
use serde_json::json;

use super::*;
use crate::sandbox::records::parse_carehq_date_time;
use crate::sandbox::state::is_carehq_id;

#[tokio::test]
async fn a_valid_create_returns_the_object_and_is_recorded_exactly() {
    let running = start().await;
    let (status, body) = running
        .call(Method::PUT, "care-enquiries", &valid_enquiry())
        .await;
    assert_eq!(status, 200, "{body}");
    let id = body["_id"].as_str().unwrap();
    assert!(is_carehq_id(id), "{id}");
    assert!(
        parse_carehq_date_time(body["created"].as_str().unwrap()).is_some(),
        "{body}"
    );
    assert_eq!(body["first_name"], "Zoë");
    assert_eq!(body["genders"], json!(["male", "female"]));
    assert_eq!(body["untrusted_source"], json!(true));

    let received = running.sandbox.received_enquiries();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].id, id);
    assert_eq!(
        received[0].fields,
        owned(&valid_enquiry()),
        "order and repeats kept"
    );

    let listed = running.get_json("/_sandbox/enquiries").await;
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["fields"][4], json!(["genders", "male"]));
}

#[tokio::test]
async fn each_create_gets_a_fresh_id_and_they_are_kept_oldest_first() {
    let running = start().await;
    let first = running.create_enquiry().await;
    let second = running.create_enquiry().await;
    assert_ne!(first, second);
    let ids: Vec<String> = running
        .sandbox
        .received_enquiries()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, [first, second]);
}

async fn rejected(
    running: &Running,
    change: impl Fn(&mut Vec<(&'static str, &'static str)>),
) -> Vec<String> {
    let mut params = valid_enquiry();
    change(&mut params);
    let (status, body) = running.call(Method::PUT, "care-enquiries", &params).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["hint"].as_str().is_some_and(|h| !h.is_empty()),
        "{body}"
    );
    arg_error_names(&body)
}

#[tokio::test]
async fn validation_names_the_bad_parameter() {
    let running = start().await;
    let missing_last_name = rejected(&running, |p| p.retain(|(k, _)| *k != "last_name")).await;
    assert_eq!(missing_last_name, ["last_name"]);

    let bad_funding = rejected(&running, |p| {
        p.retain(|(k, _)| *k != "funding_type");
        p.push(("funding_type", "local-authority"));
    })
    .await;
    assert_eq!(bad_funding, ["funding_type"]);

    let unknown_location = rejected(&running, |p| {
        p.retain(|(k, _)| *k != "location");
        p.push(("location", "0123456789abcdef01234567"));
    })
    .await;
    assert_eq!(unknown_location, ["location"]);

    let unknown_parameter = rejected(&running, |p| p.push(("enquiry_type", "Brochure"))).await;
    assert_eq!(unknown_parameter, ["enquiry_type"]);

    assert!(running.sandbox.received_enquiries().is_empty());
}

#[tokio::test]
async fn the_hint_of_an_unknown_parameter_names_it() {
    let running = start().await;
    let mut params = valid_enquiry();
    params.push(("frist_name", "typo"));
    let (status, body) = running.call(Method::PUT, "care-enquiries", &params).await;
    assert_eq!(status, 400);
    assert!(
        body["hint"].as_str().unwrap().contains("frist_name"),
        "{body}"
    );
}

#[tokio::test]
async fn a_body_not_sent_as_a_form_is_refused() {
    let running = start().await;
    let sign = Sign {
        content_type: Some("application/json"),
        ..Sign::default()
    };
    let response = running
        .signed_with(Method::PUT, "care-enquiries", &valid_enquiry(), &sign)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["hint"]
            .as_str()
            .unwrap()
            .contains("x-www-form-urlencoded"),
        "{body}"
    );
    assert!(running.sandbox.received_enquiries().is_empty());
}

#[tokio::test]
async fn unknown_endpoints_and_methods_answer_json_hints() {
    let running = start().await;
    let (status, body) = running.call(Method::GET, "care-homes", &[]).await;
    assert_eq!(status, 404);
    assert!(
        body["hint"].as_str().unwrap().contains("/v1/care-homes"),
        "{body}"
    );
    // Listing enquiries needs "Care enquiries > Read", which the sandbox's
    // key lacks unless configured (dca627b): a 403 with that hint.
    let (status, body) = running.call(Method::GET, "care-enquiries", &[]).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["hint"]
            .as_str()
            .unwrap()
            .contains("Care enquiries > Read"),
        "{body}"
    );
}

/// Each spelling the official clients send (Python `True`/`False`, PHP `1`/`0`
/// and empty, JS/Ruby `true`/`false`), on every boolean field.
#[tokio::test]
async fn booleans_accept_every_official_client_spelling() {
    let running = start().await;
    let spellings = super::OFFICIAL_BOOLEANS;
    for field in [
        "untrusted_source",
        "enquiring_for_self",
        "dementia",
        "dementia_challenging_behaviour",
        "dementia_prone_to_wander",
    ] {
        for (value, expected) in spellings {
            let mut params = valid_enquiry();
            params.retain(|(k, _)| *k != field);
            params.push((field, value));
            let (status, body) = running.call(Method::PUT, "care-enquiries", &params).await;
            assert_eq!(status, 200, "{field}={value:?}: {body}");
            assert_eq!(body[field], json!(expected), "{field}={value:?}");
        }
    }
}

#[tokio::test]
async fn other_boolean_spellings_are_refused_with_the_accepted_ones() {
    let running = start().await;
    for value in ["yes", "TRUE", "on", "2", " true"] {
        let mut params = valid_enquiry();
        params.retain(|(k, _)| *k != "untrusted_source");
        params.push(("untrusted_source", value));
        let (status, body) = running.call(Method::PUT, "care-enquiries", &params).await;
        assert_eq!(status, 400, "{value:?}: {body}");
        let message = body["arg_errors"]["untrusted_source"][0].as_str().unwrap();
        for accepted in ["true or false", "True/False", "1/0", "empty"] {
            assert!(message.contains(accepted), "{message}");
        }
    }
    assert!(running.sandbox.received_enquiries().is_empty());
}
