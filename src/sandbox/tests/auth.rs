//! Every authentication refusal of docs/carehq-api.md, "Signing", over HTTP.

use reqwest::Method;
use serde_json::Value;

use super::*;

async fn refused(running: &Running, sign: &Sign) -> String {
    let response = running
        .signed_with(Method::PUT, "care-enquiries", &valid_enquiry(), sign)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    body["hint"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_correctly_signed_request_is_accepted() {
    let running = start().await;
    let (status, body) = running
        .call(Method::PUT, "care-enquiries", &valid_enquiry())
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_signature_made_with_another_secret_is_refused_without_echoing_the_secret() {
    let running = start().await;
    let hint = refused(
        &running,
        &Sign {
            secret: Some("not-the-secret".into()),
            ..Sign::default()
        },
    )
    .await;
    assert!(hint.contains("Signature does not match"), "{hint}");
    assert!(hint.contains("PUT /v1/care-enquiries"), "{hint}");
    assert!(!hint.contains(seed::API_SECRET), "{hint}");
    // Parameter names help debugging; values are personal data and stay out.
    assert!(
        hint.contains("first_name") && !hint.contains("Brien"),
        "{hint}"
    );
    assert!(running.sandbox.received_enquiries().is_empty());
}

#[tokio::test]
async fn a_body_changed_after_signing_is_refused() {
    let running = start().await;
    let signed_for = [
        ("location", seed::DEMO_LOCATION),
        ("first_name", "A"),
        ("last_name", "B"),
    ];
    let response = running
        .signed(Method::PUT, "care-enquiries", &signed_for)
        .body(encode(&owned(&[
            ("location", seed::DEMO_LOCATION),
            ("first_name", "A"),
            ("last_name", "C"),
        ])))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_stale_or_future_timestamp_is_refused() {
    let running = start().await;
    for offset in [-301, 301] {
        let hint = refused(
            &running,
            &Sign {
                timestamp: Some(now() + offset),
                ..Sign::default()
            },
        )
        .await;
        assert!(hint.contains("X-CareHQ-Timestamp"), "{hint}");
    }
}

#[tokio::test]
async fn a_replayed_nonce_is_refused() {
    let running = start().await;
    let sign = Sign {
        nonce: Some(signing::new_nonce().unwrap()),
        ..Sign::default()
    };
    let first = running
        .signed_with(Method::GET, "locations", &[], &sign)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let again = running
        .signed_with(Method::GET, "locations", &[], &sign)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401);
    let body: Value = again.json().await.unwrap();
    assert!(body["hint"].as_str().unwrap().contains("replay"), "{body}");
}

#[tokio::test]
async fn a_wrong_api_key_is_refused() {
    let running = start().await;
    let hint = refused(
        &running,
        &Sign {
            api_key: Some("someone-elses-key".into()),
            ..Sign::default()
        },
    )
    .await;
    assert!(hint.contains("API key"), "{hint}");
}

#[tokio::test]
async fn a_missing_header_is_named() {
    let running = start().await;
    let hint = refused(
        &running,
        &Sign {
            omit_header: Some("X-CareHQ-Nonce"),
            ..Sign::default()
        },
    )
    .await;
    assert!(hint.contains("Missing header X-CareHQ-Nonce"), "{hint}");
}

#[tokio::test]
async fn the_legacy_signature_version_is_refused() {
    let running = start().await;
    let hint = refused(
        &running,
        &Sign {
            version: Some("1.0".into()),
            ..Sign::default()
        },
    )
    .await;
    assert!(hint.contains("2.0"), "{hint}");
}

#[tokio::test]
async fn query_parameters_on_a_put_are_refused_because_they_are_not_signed() {
    let running = start().await;
    let response = running
        .signed_with(
            Method::PUT,
            "care-enquiries",
            &valid_enquiry(),
            &Sign {
                extra_query: Some("first_name=Sneaky"),
                ..Sign::default()
            },
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(running.sandbox.received_enquiries().is_empty());
}

#[tokio::test]
async fn refused_requests_are_counted_too() {
    let running = start().await;
    refused(
        &running,
        &Sign {
            secret: Some("wrong".into()),
            ..Sign::default()
        },
    )
    .await;
    running.call(Method::GET, "groups", &[]).await;
    assert_eq!(running.sandbox.request_count(), 2);
}
