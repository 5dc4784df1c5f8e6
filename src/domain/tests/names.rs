//! The name fields: separate boxes, one `name` box split, and where errors go.

use super::super::*;
use super::*;

#[test]
fn a_single_name_box_is_split_at_the_first_space() {
    let cases = [
        ("Ann Lee", "Ann", "Lee"),
        ("  Mary   Ann  Smith ", "Mary", "Ann Smith"),
        ("José María García", "José", "María García"),
    ];
    for (name, first, last) in cases {
        let enquiry = parse(&[("name", name), CONTACT]).unwrap();
        assert_eq!(enquiry.first_name.as_str(), first, "{name:?}");
        assert_eq!(enquiry.last_name.as_str(), last, "{name:?}");
        assert!(enquiry.extra_fields.is_empty(), "{name:?}");
    }
}

#[test]
fn name_errors_go_on_the_box_the_family_sees() {
    let first_and_last = "Enter your first and last name";
    let cases: [(Pairs, &str, &str); 7] = [
        (&[("name", "Ann"), CONTACT], "name", first_and_last),
        (&[("name", "  "), CONTACT], "name", first_and_last),
        // Blank separate boxes beside a `name` box: the family used `name`.
        (
            &[("first_name", ""), ("last_name", ""), ("name", ""), CONTACT],
            "name",
            first_and_last,
        ),
        (
            &[("name", "Ann 42"), CONTACT],
            "name",
            "Enter a name using letters",
        ),
        (
            &[("first_name", "Ann"), CONTACT],
            "last_name",
            "Enter your last name",
        ),
        (
            &[("last_name", "Lee"), ("name", "Ann Lee"), CONTACT],
            "first_name",
            "Enter your first name",
        ),
        (
            &[("first_name", "1"), ("last_name", "Lee"), CONTACT],
            "first_name",
            "Enter a name using letters",
        ),
    ];
    for (pairs, field, message) in cases {
        let errors = errors_of(pairs, &IntakeRules::default());
        assert_eq!(
            errors.get(field),
            Some(&[message.to_owned()][..]),
            "{pairs:?}"
        );
        assert_eq!(errors.iter().count(), 1, "{pairs:?}: {errors:?}");
    }
}

#[test]
fn no_name_field_at_all_asks_for_first_and_last_name() {
    let errors = errors_of(&[CONTACT], &IntakeRules::default());
    assert_eq!(errors.get("first_name").unwrap(), ["Enter your first name"]);
    assert_eq!(errors.get("last_name").unwrap(), ["Enter your last name"]);
    assert_eq!(errors.get("name"), None);
}

#[test]
fn an_unused_name_box_is_kept_as_an_extra_field() {
    let enquiry = parse(&[
        ("first_name", "Ann"),
        ("last_name", "Lee"),
        ("name", "Mum: Joan Lee"),
        CONTACT,
    ])
    .unwrap();
    assert_eq!(enquiry.extra_fields.len(), 1);
    assert_eq!(enquiry.extra_fields[0].label, "Name");
    assert_eq!(enquiry.extra_fields[0].value.as_str(), "Mum: Joan Lee");
}
