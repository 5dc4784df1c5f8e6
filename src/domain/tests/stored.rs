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

/// What intake wrote before `StoredEnquiry`: the enquiry as a JSON object,
/// with `consent_version` spliced in last when the family ticked consent.
fn spliced_as_before(enquiry: &Enquiry, consent_version: Option<&str>) -> String {
    let mut value = serde_json::to_value(enquiry).unwrap();
    if let (Some(version), true) = (consent_version, enquiry.consent) {
        (value.as_object_mut().unwrap()).insert("consent_version".into(), version.into());
    }
    serde_json::to_string(&value).unwrap()
}

#[test]
fn a_stored_enquiry_is_written_byte_for_byte_as_before() {
    let ticked = sample();
    let mut unticked = sample();
    unticked.consent = false;
    for (enquiry, version) in [
        (&ticked, Some("2024-03")),
        (&ticked, None),
        (&unticked, Some("2024-03")),
    ] {
        let stored = StoredEnquiry::new(enquiry.clone(), version);
        assert_eq!(
            serde_json::to_string(&stored).unwrap(),
            spliced_as_before(enquiry, version),
            "consent {}, version {version:?}",
            enquiry.consent
        );
    }
}

/// A row written by the code before `StoredEnquiry`, as the database holds
/// it (a literal, as the splice above wrote it for `sample()`, not made by
/// today's code): it reads back, version and all, and writes back to the
/// same text.
#[test]
fn a_row_written_in_the_old_shape_still_reads() {
    let row = r#"{"first_name":"Ann","last_name":"Leeworth","email":"ann.leeworth@example.com","phone":"01632 960123","care_requirements":"My mother Joan needs nursing care","service":"nursing_home","funding_type":"chc","enquiring_for_self":false,"consent":true,"extra_fields":[{"label":"Room","value":"Ground floor"}],"consent_version":"2024-03"}"#;
    let stored: StoredEnquiry = serde_json::from_str(row).unwrap();
    assert_eq!(stored.consent_version.as_deref(), Some("2024-03"));
    assert_eq!(stored.enquiry.first_name.as_str(), "Ann");
    assert!(stored.enquiry.consent);
    assert_eq!(serde_json::to_string(&stored).unwrap(), row);
    // Without a version (no consent statement, or not ticked), as before.
    let without = row.replace(r#","consent_version":"2024-03""#, "");
    let stored: StoredEnquiry = serde_json::from_str(&without).unwrap();
    assert_eq!(stored.consent_version, None);
    assert_eq!(serde_json::to_string(&stored).unwrap(), without);
    // A stored value that no longer passes the checks still fails to load.
    let tampered = row.replace("ann.leeworth@example.com", "no-at-sign");
    assert!(serde_json::from_str::<StoredEnquiry>(&tampered).is_err());
}
