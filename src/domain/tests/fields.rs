//! The other CareHQ fields, the email-or-phone rule and collecting every error.

use super::super::*;
use super::*;

#[test]
fn a_full_submission_is_parsed_and_normalised() {
    let enquiry = parse(&[
        ("first_name", " Ann "),
        ("last_name", "Lee  Smith"),
        ("email", "Ann@Example.COM"),
        ("phone", "01632  960123"),
        ("care_requirements", "Mum needs a room.\r\nSoon.  "),
        ("service", "Nursing-Home"),
        ("funding_type", "local-authority"),
        ("enquiring_for_self", "someone_else"),
        ("consent", "on"),
    ])
    .unwrap();
    assert_eq!(enquiry.first_name.as_str(), "Ann");
    assert_eq!(enquiry.last_name.as_str(), "Lee Smith");
    assert_eq!(enquiry.email.unwrap().as_str(), "Ann@example.com");
    assert_eq!(enquiry.phone.unwrap().as_str(), "01632 960123");
    assert_eq!(
        enquiry.care_requirements.unwrap().as_str(),
        "Mum needs a room.\nSoon."
    );
    assert_eq!(enquiry.service.unwrap().as_str(), "nursing_home");
    assert_eq!(enquiry.funding_type, Some(FundingType::LocalAuthority));
    assert_eq!(enquiry.enquiring_for_self, Some(false));
    assert!(enquiry.consent);
    assert!(enquiry.extra_fields.is_empty());
}

#[test]
fn optional_fields_left_blank_are_absent() {
    let enquiry = parse(&[
        ("first_name", "Ann"),
        ("last_name", "Lee"),
        ("phone", "01632 960123"),
        ("email", " "),
        ("care_requirements", ""),
        ("service", ""),
        ("funding_type", ""),
        ("enquiring_for_self", ""),
    ])
    .unwrap();
    assert_eq!(enquiry.email, None);
    assert_eq!(enquiry.care_requirements, None);
    assert_eq!(enquiry.service, None);
    assert_eq!(enquiry.funding_type, None);
    assert_eq!(enquiry.enquiring_for_self, None);
    assert!(!enquiry.consent);
    assert_eq!(enquiry.care_requirements_text(), None);
}

#[test]
fn email_or_phone_is_required() {
    let either = "Give an email address or a phone number so the home can reply";
    let like = "Enter an email address like name@example.com";
    let name = [("first_name", "Ann"), ("last_name", "Lee")];
    let with = |more: &[(&'static str, &'static str)]| -> Vec<(&str, &str)> {
        name.iter().chain(more).copied().collect()
    };

    for ok in [
        with(&[("email", "ann@example.com")]),
        with(&[("phone", "01632 960123")]),
        with(&[("email", "ann@example.com"), ("phone", "01632 960123")]),
    ] {
        assert!(parse(&ok).is_ok(), "{ok:?}");
    }

    let cases: [(Vec<Pair>, Option<&str>, Option<&str>); 4] = [
        (with(&[]), Some(either), Some(either)),
        (
            with(&[("email", " "), ("phone", "")]),
            Some(either),
            Some(either),
        ),
        // Given but wrong: say what is wrong, not that it is missing.
        (with(&[("email", "ann@")]), Some(like), None),
        (
            with(&[("email", "ann@example.com"), ("phone", "12")]),
            None,
            Some("Enter a phone number with 7 to 15 digits, like 01632 960123"),
        ),
    ];
    for (pairs, email, phone) in cases {
        let errors = errors_of(&pairs, &IntakeRules::default());
        let one = |m: Option<&str>| m.map(|m| vec![m.to_owned()]);
        assert_eq!(
            errors.get("email").map(<[String]>::to_vec),
            one(email),
            "{pairs:?}"
        );
        assert_eq!(
            errors.get("phone").map(<[String]>::to_vec),
            one(phone),
            "{pairs:?}"
        );
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let rules = IntakeRules {
        require_consent: true,
        ..IntakeRules::default()
    };
    let errors = errors_of(
        &[
            ("name", "Ann"),
            ("email", "ann"),
            ("phone", "call me"),
            ("service", "spa"),
            ("funding_type", "NHS"),
            ("enquiring_for_self", "perhaps"),
            ("care_requirements", &"x".repeat(5001)),
        ],
        &rules,
    );
    let fields: Vec<&str> = errors.iter().map(|(field, _)| field).collect();
    assert_eq!(
        fields,
        [
            "care_requirements",
            "consent",
            "email",
            "enquiring_for_self",
            "funding_type",
            "name",
            "phone",
            "service"
        ]
    );
    assert_eq!(
        errors.get("service").unwrap(),
        ["Choose the kind of care from the list"]
    );
    assert_eq!(
        errors.get("enquiring_for_self").unwrap(),
        ["Choose whether the care is for you or for someone else"]
    );
}

#[test]
fn enquiring_for_self_is_a_yes_no_answer() {
    let cases = [
        ("yes", Some(true)),
        ("myself", Some(true)),
        ("true", Some(true)),
        ("someone_else", Some(false)),
        ("other", Some(false)),
        ("0", Some(false)),
        ("", None),
    ];
    for (value, want) in cases {
        let enquiry =
            parse(&[("name", "Ann Lee"), CONTACT, ("enquiring_for_self", value)]).unwrap();
        assert_eq!(enquiry.enquiring_for_self, want, "{value:?}");
    }
}

#[test]
fn consent_is_required_only_where_the_site_says_so() {
    let required = IntakeRules {
        require_consent: true,
        ..IntakeRules::default()
    };
    let cases = [
        (None, false, Ok(false)),
        (Some("on"), false, Ok(true)),
        (Some("no"), false, Ok(false)),
        (Some("on"), true, Ok(true)),
        (Some("YES"), true, Ok(true)),
        (Some("1"), true, Ok(true)),
        (Some(""), true, Err(())),
        (Some("off"), true, Err(())),
        (Some("maybe"), true, Err(())),
        (None, true, Err(())),
    ];
    for (value, require, want) in cases {
        let mut pairs = vec![("name", "Ann Lee"), CONTACT];
        pairs.extend(value.map(|v| ("consent", v)));
        let rules = if require {
            required
        } else {
            IntakeRules::default()
        };
        let got = Enquiry::parse(&raw(&pairs), &rules).map(|e| e.consent);
        match (got, want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{value:?}"),
            (Err(errors), Err(())) => assert_eq!(
                errors.get("consent").unwrap(),
                ["Tick the consent box, then send the form again"]
            ),
            (got, want) => panic!("{value:?} required={require}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn service_must_be_one_the_site_offers() {
    let offered = vec!["residential_home".to_owned(), "respite_care".to_owned()];
    let rules = IntakeRules {
        allowed_services: &offered,
        ..IntakeRules::default()
    };
    let base = [("name", "Ann Lee"), CONTACT];
    let with = |service| {
        let mut pairs = base.to_vec();
        pairs.push(("service", service));
        Enquiry::parse(&raw(&pairs), &rules).map(|e| e.service.map(|s| s.to_string()))
    };
    assert_eq!(with("Respite_Care"), Ok(Some("respite_care".to_owned())));
    assert!(with("nursing_home").is_err());
    // Without a site list the built-in one applies.
    let enquiry = parse(&[("name", "Ann Lee"), CONTACT, ("service", "nursing_home")]).unwrap();
    assert_eq!(enquiry.service.unwrap().as_str(), "nursing_home");
}

#[test]
fn message_is_an_alias_and_both_are_kept() {
    let enquiry = parse(&[("name", "Ann Lee"), CONTACT, ("message", "Hello")]).unwrap();
    assert_eq!(enquiry.care_requirements.unwrap().as_str(), "Hello");

    let enquiry = parse(&[
        ("name", "Ann Lee"),
        ("message", "First"),
        CONTACT,
        ("care_requirements", "Second"),
    ])
    .unwrap();
    assert_eq!(
        enquiry.care_requirements.unwrap().as_str(),
        "First\n\nSecond"
    );
    assert!(enquiry.extra_fields.is_empty());

    let errors = errors_of(
        &[("name", "Ann Lee"), CONTACT, ("message", &"x".repeat(5001))],
        &IntakeRules::default(),
    );
    assert!(errors.get("message").is_some());
}

#[test]
fn meta_and_ignored_fields_are_neither_parsed_nor_appended() {
    let ignored = vec![
        "website".to_owned(),
        "cf-turnstile-response".to_owned(),
        "email".to_owned(),
    ];
    let rules = IntakeRules {
        ignored_fields: &ignored,
        ..IntakeRules::default()
    };
    let enquiry = Enquiry::parse(
        &raw(&[
            ("name", "Ann Lee"),
            ("_k", "0190f3b4-key"),
            ("_t", "signed.token"),
            ("_anything", "x"),
            ("website", "http://spam.example"),
            ("cf-turnstile-response", "XXXX.DUMMY.TOKEN"),
            // An ignored name is ignored even when it is one the parser knows.
            ("email", "not an email"),
            ("phone", "01632 960123"),
        ]),
        &rules,
    )
    .unwrap();
    assert_eq!(enquiry.email, None);
    assert!(enquiry.extra_fields.is_empty());
}
