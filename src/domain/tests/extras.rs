//! Extra fields: labels, order, limits, and the text sent as `care_requirements`.

use serde_json::json;

use super::super::*;
use super::*;

#[test]
fn other_fields_become_labelled_lines_in_submission_order() {
    let enquiry = parse(&[
        ("how_did_you_hear", "Friend"),
        ("name", "Ann Lee"),
        ("visit_date_time", "2025-07-01T10:00"),
        ("rooms[]", "Single"),
        ("visit-type", "In person"),
        ("empty_one", "  "),
        ("rooms[]", "En-suite"),
        CONTACT,
        ("message", "Can we visit?"),
    ])
    .unwrap();
    let got: Vec<(&str, &str)> = enquiry
        .extra_fields
        .iter()
        .map(|f| (f.label.as_str(), f.value.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("How did you hear", "Friend"),
            ("Visit date time", "2025-07-01T10:00"),
            ("Rooms", "Single, En-suite"),
            ("Visit type", "In person"),
        ]
    );
    assert_eq!(
        enquiry.care_requirements_text().unwrap(),
        "Can we visit?\n\nHow did you hear: Friend\nVisit date time: 2025-07-01T10:00\n\
         Rooms: Single, En-suite\nVisit type: In person"
    );
}

#[test]
fn care_requirements_text_covers_each_combination() {
    let base = [("name", "Ann Lee"), CONTACT];
    let text = |more: &[(&'static str, &'static str)]| {
        let pairs: Vec<_> = base.iter().chain(more).copied().collect();
        parse(&pairs).unwrap().care_requirements_text()
    };
    assert_eq!(text(&[]), None);
    assert_eq!(text(&[("message", "Hi")]), Some("Hi".to_owned()));
    assert_eq!(text(&[("room", "Single")]), Some("Room: Single".to_owned()));
    assert_eq!(
        text(&[("message", "Hi"), ("room", "Single")]),
        Some("Hi\n\nRoom: Single".to_owned())
    );
}

#[test]
fn at_most_twenty_extra_fields() {
    let names: Vec<String> = (1..=21).map(|i| format!("q{i}")).collect();
    let mut pairs = vec![("name", "Ann Lee"), CONTACT];
    pairs.extend(names.iter().take(20).map(|n| (n.as_str(), "a")));
    assert_eq!(parse(&pairs).unwrap().extra_fields.len(), 20);

    pairs.push(("q21", "a"));
    let errors = errors_of(&pairs, &IntakeRules::default());
    assert_eq!(errors.iter().count(), 1);
    assert!(errors.get("q21").unwrap()[0].starts_with("Too many fields"));
}

#[test]
fn an_overlong_extra_value_is_refused_on_its_own_field() {
    let long = "x".repeat(1001);
    let errors = errors_of(
        &[("name", "Ann Lee"), CONTACT, ("notes", &long)],
        &IntakeRules::default(),
    );
    assert_eq!(
        errors.get("notes").unwrap(),
        ["Shorten this to 1000 characters or fewer (it has 1001)"]
    );
}

#[test]
fn a_json_body_parses_like_a_form() {
    let raw = RawSubmission::from_json(&json!({
        "name": "Ann Lee",
        "phone": 1632960123,
        "consent": true,
        "enquiring_for_self": false,
        "interests": ["Garden", "Music"],
        "_k": "key",
    }))
    .unwrap();
    let rules = IntakeRules {
        require_consent: true,
        ..IntakeRules::default()
    };
    let enquiry = Enquiry::parse(&raw, &rules).unwrap();
    assert_eq!(enquiry.phone.unwrap().as_str(), "1632960123");
    assert!(enquiry.consent);
    assert_eq!(enquiry.enquiring_for_self, Some(false));
    assert_eq!(enquiry.extra_fields[0].value.as_str(), "Garden, Music");
}

/// Caught by the property test in `http::submission_props`: the enquiry takes
/// the first answer to each of its own fields, and a second, different one
/// (a form with two `phone` boxes) used to vanish. It is appended instead.
#[test]
fn a_second_different_answer_to_an_own_field_is_appended() {
    let enquiry = parse(&[
        ("name", "Ann Lee"),
        ("phone", "01632 960001"),
        ("phone", "07700 900123"),
        ("email", "ann@example.com"),
        ("email", "ann@example.com"),
        ("email", " "),
    ])
    .unwrap();
    assert_eq!(enquiry.phone.as_ref().unwrap().as_str(), "01632 960001");
    let got: Vec<(&str, &str)> = enquiry
        .extra_fields
        .iter()
        .map(|f| (f.label.as_str(), f.value.as_str()))
        .collect();
    // The repeated email says nothing new, the blank one nothing at all.
    assert_eq!(got, [("Phone", "07700 900123")]);
    assert_eq!(
        enquiry.care_requirements_text().as_deref(),
        Some("Phone: 07700 900123")
    );
}

#[test]
fn a_consent_value_that_is_neither_yes_nor_no_keeps_its_words() {
    let enquiry = parse(&[("name", "Ann Lee"), CONTACT, ("consent", "I agree")]).unwrap();
    assert!(!enquiry.consent);
    assert_eq!(
        enquiry.care_requirements_text().as_deref(),
        Some("Consent: I agree")
    );
    let ticked = parse(&[("name", "Ann Lee"), CONTACT, ("consent", "yes")]).unwrap();
    assert!(ticked.consent);
    assert_eq!(ticked.care_requirements_text(), None);
}

#[test]
fn extra_inputs_carry_a_second_answer_under_its_own_name() {
    let raw = raw(&[
        ("first_name", "Ann"),
        ("first_name", "Anne"),
        ("last_name", "Lee"),
        ("room", "Single"),
    ]);
    assert_eq!(
        Enquiry::extra_inputs(&raw, &IntakeRules::default()),
        [
            ("first_name".to_owned(), "Anne".to_owned()),
            ("room".to_owned(), "Single".to_owned())
        ]
    );
}
