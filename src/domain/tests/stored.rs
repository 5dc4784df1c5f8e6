//! Stored enquiries: the serde round trip, tampered values, and redacted `Debug`.

use serde_json::json;

use super::super::*;
use super::*;

fn sample() -> Enquiry {
    parse(&[
        ("first_name", "Ann"),
        ("last_name", "Leeworth"),
        ("email", "ann.leeworth@example.com"),
        ("phone", "01632 960123"),
        ("message", "My mother Joan needs nursing care"),
        ("service", "nursing_home"),
        ("funding_type", "chc"),
        ("enquiring_for_self", "no"),
        ("consent", "yes"),
        ("room", "Ground floor"),
    ])
    .unwrap()
}

#[test]
fn serde_round_trip_keeps_everything() {
    let enquiry = sample();
    let stored = serde_json::to_string(&enquiry).unwrap();
    let back: Enquiry = serde_json::from_str(&stored).unwrap();
    assert_eq!(back, enquiry);
    let value: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(value["funding_type"], "chc");
    assert_eq!(value["email"], "ann.leeworth@example.com");
}

#[test]
fn a_tampered_stored_enquiry_fails_to_load() {
    let good = serde_json::to_value(sample()).unwrap();
    let tampered = [
        ("email", json!("no-at-sign")),
        ("phone", json!("12")),
        ("first_name", json!("   ")),
        ("funding_type", json!("nhs")),
        ("service", json!("Nursing Home")),
        ("care_requirements", json!("x".repeat(5001))),
    ];
    for (field, bad) in tampered {
        let mut value = good.clone();
        value[field] = bad;
        assert!(serde_json::from_value::<Enquiry>(value).is_err(), "{field}");
    }
    let mut value = good.clone();
    value["extra_fields"][0]["value"] = json!("");
    assert!(serde_json::from_value::<Enquiry>(value).is_err());
}

#[test]
fn debug_output_names_nobody() {
    let shown = format!("{:?}", sample());
    for secret in [
        "Ann",
        "Leeworth",
        "example.com",
        "960123",
        "Joan",
        "Ground floor",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("nursing_home"), "{shown}");
}
