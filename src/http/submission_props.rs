//! Property tests of the intake's first two steps: [`read_submission`] (the
//! body, urlencoded, JSON or multipart) and [`Enquiry::parse`].
//!
//! For any body they never panic, and nothing a family typed is lost: every
//! non-blank answer that is not reserved (`_…`), a CAPTCHA widget field, a
//! visit field or the honeypot is either held by the enquiry's own field or
//! appears in the `care_requirements` text sent to CareHQ, unless the parse
//! refuses the post with field errors (the family is then shown the form
//! again with what they typed). Well-formed bodies also decode to exactly the
//! pairs that were encoded, so the second half tests what was really sent.
//!
//! The schemathesis run in `.ci/fuzz` fuzzes the same route over HTTP; these
//! cases are cheaper, so they explore more of the field names the parser
//! treats specially.

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::submission_body::read_submission;
use crate::captcha::WIDGET_FIELDS;
use crate::domain::{
    EmailAddress, Enquiry, FreeText, FundingType, IntakeRules, PersonName, PhoneNumber,
    RawSubmission, Service, parse_yes_no,
};
use crate::visits::{VISIT_DATE_TIME, VISIT_TYPE};

const LIMIT: usize = 64 * 1024;
const HONEYPOT: &str = "website";
const BOUNDARY: &str = "prop7f3c9a1e5b2d4c6a8e0f";

/// Names the parser reads, skips or treats specially, and some it does not.
const NAMES: &[&str] = &[
    "first_name",
    "last_name",
    "name",
    "email",
    "phone",
    "care_requirements",
    "message",
    "service",
    "funding_type",
    "enquiring_for_self",
    "consent",
    "_k",
    "_t",
    "_embed",
    HONEYPOT,
    VISIT_DATE_TIME,
    VISIT_TYPE,
    "cf-turnstile-response",
    "altcha",
    "how_did_you_hear",
    "rooms[]",
];

/// Values that pass the checks, so enquiries are often accepted and the
/// "nothing lost" half has something to check.
const VALUES: &[&str] = &[
    "Ann Lee",
    "Ann",
    "Lee",
    "ann@example.com",
    "01632 960001",
    "+44 7700 900123",
    "Is there a room from March?",
    "residential_home",
    "nursing_home",
    "private",
    "local-authority",
    "yes",
    "no",
    "true",
    "on",
    "I agree",
    "A friend",
    "  Ann  ",
    "",
];

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(NAMES).prop_map(str::to_owned),
        1 => "[a-z_\\[\\]-]{0,12}",
        1 => "\\PC{0,8}",
        1 => ".{0,8}",
    ]
}

fn field_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(VALUES).prop_map(str::to_owned),
        2 => "[ \\t\\r\\n]{0,2}[A-Za-z0-9@.+' -]{0,24}[ \\t\\r\\n]{0,2}",
        1 => ".{0,40}",
        1 => "[\\x00-\\x20\\x7f\\u{85}\\u{a0}\\u{2028}]{1,4}",
    ]
}

/// What a family's post could hold: often a valid enquiry first (so the
/// parse accepts it and there is something to check), then anything, which
/// may answer the same fields again.
fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let valid = || {
        [("name", "Ann Lee"), ("email", "ann@example.com")]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .to_vec()
    };
    let anything = || proptest::collection::vec((field_name(), field_value()), 0..14);
    prop_oneof![
        anything(),
        (anything(), 0..8usize).prop_map(move |(more, keep)| {
            let mut pairs = valid();
            pairs.extend(more.into_iter().take(keep));
            pairs
        }),
    ]
}

#[derive(Clone, Copy, Debug)]
enum Encoding {
    Urlencoded,
    Json,
    Multipart,
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![
        Just(Encoding::Urlencoded),
        Just(Encoding::Json),
        Just(Encoding::Multipart)
    ]
}

/// A name multipart can carry in `name="…"` as browsers write it: they
/// escape quotes and line breaks, and a part header holds no control
/// characters (a raw one is malformed, refused with a 400).
fn multipart_safe(name: &str) -> bool {
    !name.contains(['"', '\\']) && !name.chars().any(char::is_control)
}

/// The body and content type for `pairs`, and the pairs it carries (the
/// multipart encoding drops names it cannot carry).
fn encode(
    encoding: Encoding,
    pairs: &[(String, String)],
) -> (String, Vec<u8>, Vec<(String, String)>) {
    match encoding {
        Encoding::Urlencoded => {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            (
                "application/x-www-form-urlencoded".into(),
                body.into_bytes(),
                pairs.to_vec(),
            )
        }
        Encoding::Json => {
            // A repeated name becomes a list, as the hosted form's script sends it.
            let mut object = serde_json::Map::new();
            for (name, value) in pairs {
                match object.get_mut(name) {
                    Some(serde_json::Value::Array(items)) => items.push(value.clone().into()),
                    Some(first) => {
                        let first = first.take();
                        object.insert(name.clone(), vec![first, value.clone().into()].into());
                    }
                    None => {
                        object.insert(name.clone(), value.clone().into());
                    }
                }
            }
            let body = serde_json::to_vec(&object).unwrap_or_default();
            ("application/json".into(), body, pairs.to_vec())
        }
        Encoding::Multipart => {
            let sent: Vec<(String, String)> = pairs
                .iter()
                .filter(|(name, _)| multipart_safe(name))
                .cloned()
                .collect();
            let mut body = String::new();
            for (name, value) in &sent {
                body.push_str(&format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                ));
            }
            body.push_str(&format!("--{BOUNDARY}--\r\n"));
            // A part's text is decoded as UTF-8 with a leading byte-order
            // mark taken off (it is invisible; nothing typed is lost).
            let sent = sent
                .into_iter()
                .map(|(name, value)| {
                    let value = value.strip_prefix('\u{feff}').unwrap_or(&value).to_owned();
                    (name, value)
                })
                .collect();
            (
                format!("multipart/form-data; boundary={BOUNDARY}"),
                body.into_bytes(),
                sent,
            )
        }
    }
}

fn read(content_type: &str, body: Vec<u8>) -> Result<RawSubmission, super::HttpError> {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(CONTENT_TYPE, value);
    }
    // Reading a body held in memory never waits: a one-thread runtime is enough.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    runtime.block_on(read_submission(&headers, Body::from(body), LIMIT))
}

fn ignored() -> Vec<String> {
    WIDGET_FIELDS
        .iter()
        .chain([&VISIT_DATE_TIME, &VISIT_TYPE, &HONEYPOT])
        .map(|f| (*f).to_owned())
        .collect()
}

/// Whether `value`, typed into `name`, survives in `enquiry`.
fn kept(enquiry: &Enquiry, single_name: bool, name: &str, value: &str) -> bool {
    let text = enquiry.care_requirements_text().unwrap_or_default();
    let appended = || match FreeText::parse_with_limit(value, usize::MAX) {
        Ok(words) => text.contains(words.as_str()),
        // Nothing visible (control characters only): nothing to keep.
        Err(_) => true,
    };
    let held = match name {
        "first_name" => PersonName::parse(value).ok().as_ref() == Some(&enquiry.first_name),
        "last_name" => PersonName::parse(value).ok().as_ref() == Some(&enquiry.last_name),
        "name" if single_name => {
            let words = value.split_whitespace().collect::<Vec<_>>().join(" ");
            words == format!("{} {}", enquiry.first_name, enquiry.last_name)
        }
        "email" => EmailAddress::parse(value).ok() == enquiry.email,
        "phone" => PhoneNumber::parse(value).ok() == enquiry.phone,
        "care_requirements" | "message" => {
            let message = enquiry.care_requirements.as_ref().map(FreeText::as_str);
            match FreeText::parse_with_limit(value, usize::MAX) {
                Ok(words) => message.is_some_and(|m| m.contains(words.as_str())),
                Err(_) => true,
            }
        }
        "service" => Service::parse(value, &[]).ok() == enquiry.service,
        "funding_type" => FundingType::parse(value).ok() == enquiry.funding_type,
        "enquiring_for_self" => parse_yes_no(value) == enquiry.enquiring_for_self,
        "consent" => parse_yes_no(value) == Some(enquiry.consent),
        _ => false,
    };
    held || appended()
}

/// Parse `raw` as the intake does and check that nothing typed was lost.
fn check_nothing_lost(raw: &RawSubmission, require_consent: bool) -> Result<(), TestCaseError> {
    let ignored = ignored();
    let rules = IntakeRules {
        allowed_services: &[],
        require_consent,
        ignored_fields: &ignored,
    };
    let Ok(enquiry) = Enquiry::parse(raw, &rules) else {
        // Refused with field errors: the family sees the form again.
        return Ok(());
    };
    let visible: Vec<&(String, String)> = raw
        .pairs()
        .iter()
        .filter(|(name, _)| !name.starts_with('_') && !ignored.contains(name))
        .collect();
    let given = |field: &str| {
        visible
            .iter()
            .any(|(name, value)| name == field && !value.trim().is_empty())
    };
    let single_name =
        !given("first_name") && !given("last_name") && visible.iter().any(|(n, _)| n == "name");
    for (name, value) in visible {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        prop_assert!(
            kept(&enquiry, single_name, name, value),
            "{name:?} = {value:?} is neither held by the enquiry nor in care_requirements: {:?}",
            enquiry.care_requirements_text()
        );
    }
    Ok(())
}

proptest! {
    // A failure found here becomes a named regression test beside the code
    // it fixed, so no seed files are written into the source tree.
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn well_formed_bodies_decode_and_lose_nothing(
        pairs in pairs(),
        encoding in encoding(),
        require_consent in any::<bool>(),
    ) {
        let (content_type, body, sent) = encode(encoding, &pairs);
        let raw = read(&content_type, body);
        prop_assert!(raw.is_ok(), "{encoding:?} body of {sent:?} refused: {:?}", raw.err());
        let raw = raw.unwrap_or_default();
        // JSON groups a repeated name into one list, so order only holds per name.
        let (mut got, mut want) = (raw.pairs().to_vec(), sent);
        if matches!(encoding, Encoding::Json) {
            got.sort();
            want.sort();
        }
        prop_assert_eq!(got, want);
        check_nothing_lost(&raw, require_consent)?;
    }

    #[test]
    fn arbitrary_bodies_never_panic(
        content_type in proptest::sample::select(&[
            "application/x-www-form-urlencoded",
            "application/json",
            "application/json; charset=utf-8",
            "multipart/form-data; boundary=prop7f3c9a1e5b2d4c6a8e0f",
            "multipart/form-data",
            "text/plain",
            "",
        ][..]),
        body in proptest::collection::vec(any::<u8>(), 0..300),
        require_consent in any::<bool>(),
    ) {
        // Any answer (an error is fine); a panic fails the test.
        if let Ok(raw) = read(content_type, body) {
            check_nothing_lost(&raw, require_consent)?;
        }
    }

    #[test]
    fn mangled_multipart_never_panics(
        pairs in pairs(),
        cut in 0usize..400,
        junk in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        // A well-formed multipart body cut short and followed by junk: the
        // parser must refuse or read it, never panic.
        let (content_type, mut body, _) = encode(Encoding::Multipart, &pairs);
        body.truncate(cut.min(body.len()));
        body.extend(junk);
        if let Ok(raw) = read(&content_type, body) {
            check_nothing_lost(&raw, false)?;
        }
    }
}
