//! `FieldMap`: a site's `"their name" = "our name"` entries, applied to a
//! submission before it is validated, and used again afterwards so every
//! validation message names the field the site's own form has.

use crate::domain::{FORM_FIELDS, FieldErrors, RawSubmission};

/// The visit request's fields, which a site's field may be mapped onto
/// beside the family's own ([`FORM_FIELDS`]).
const VISIT_FIELDS: &[&str] = &["visit_date_time", "visit_type"];

/// Whether a site's field may be mapped onto `name`: one of the fields
/// `Enquiry::parse` and the visit request read.
pub fn is_target(name: &str) -> bool {
    FORM_FIELDS.contains(&name) || VISIT_FIELDS.contains(&name)
}

/// Every name a site's field may be mapped onto, for a message.
pub fn targets() -> String {
    (FORM_FIELDS.iter().chain(VISIT_FIELDS))
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

/// `their name → our name`, in the order written. Built by the config
/// (which refuses an unknown target or two names onto one target) or by a
/// preset; an empty map changes nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldMap {
    entries: Vec<(String, String)>,
}

impl FieldMap {
    pub fn new(entries: Vec<(String, String)>) -> Self {
        Self { entries }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `(their name, our name)` pairs, in the order written.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(t, o)| (t.as_str(), o.as_str()))
    }

    /// Our name for the site's field `their`, when it is mapped.
    pub fn ours(&self, their: &str) -> Option<&str> {
        self.entries().find(|(t, _)| *t == their).map(|(_, o)| o)
    }

    /// The site's field mapped onto our `field`, when there is one.
    pub fn theirs(&self, field: &str) -> Option<&str> {
        self.entries().find(|(_, o)| *o == field).map(|(t, _)| t)
    }

    /// `self`, with `defaults`' entries for every target `self` leaves
    /// unmapped (a preset's defaults under a hook's own map).
    pub fn over(&self, defaults: &FieldMap) -> FieldMap {
        let mut entries = self.entries.clone();
        for (their, our) in defaults.entries() {
            if self.theirs(our).is_none() && self.ours(their).is_none() {
                entries.push((their.to_owned(), our.to_owned()));
            }
        }
        FieldMap { entries }
    }

    /// A browser post with each mapped field renamed to ours, in place and
    /// in order. A mapped field the post lacks is added blank: blank is "not
    /// given" to the parser, and the field is there to name (a single `name`
    /// box left out is still a single name box, so its error goes on it).
    /// Unmapped fields keep their names and become labelled lines, as on
    /// any form.
    pub fn apply(&self, raw: &RawSubmission) -> RawSubmission {
        if self.is_empty() {
            return raw.clone();
        }
        let mut pairs: Vec<(String, String)> = (raw.pairs().iter())
            .map(|(name, value)| (self.ours(name).unwrap_or(name).to_owned(), value.clone()))
            .collect();
        for (their, our) in self.entries() {
            if !raw.has_field(their) {
                pairs.push((our.to_owned(), String::new()));
            }
        }
        RawSubmission::new(pairs)
    }

    /// The site's field a message about our `field` belongs on: its mapped
    /// field, or for a name half the site's single name box, or for the
    /// message its message box; `None` when the site maps nothing there.
    pub fn their_field(&self, field: &str) -> Option<&str> {
        let alias = match field {
            "first_name" | "last_name" => "name",
            "message" => "care_requirements",
            _ => field,
        };
        self.theirs(field).or_else(|| self.theirs(alias))
    }

    /// `errors` keyed by the site's own field names (for a JSON answer, or
    /// a webhook's): a field the site does not map keeps our name.
    pub fn their_errors(&self, errors: &FieldErrors) -> FieldErrors {
        let mut renamed = FieldErrors::default();
        for (field, messages) in errors.iter() {
            let name = self.their_field(field).unwrap_or(field);
            for message in messages {
                renamed.add(name, message.as_str());
            }
        }
        renamed
    }

    /// `errors` on our fields still (the 422 page is the hosted form, and
    /// shows each message beside our box), each message saying which field
    /// of the site's own form it is about.
    pub fn annotated(&self, errors: &FieldErrors) -> FieldErrors {
        let mut annotated = FieldErrors::default();
        for (field, messages) in errors.iter() {
            for message in messages {
                match self.their_field(field) {
                    Some(their) => annotated.add(
                        field,
                        format!("{message} (the field “{their}” on your form)"),
                    ),
                    None => annotated.add(field, message.as_str()),
                }
            }
        }
        annotated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Enquiry, IntakeRules};

    fn map(entries: &[(&str, &str)]) -> FieldMap {
        FieldMap::new(
            (entries.iter())
                .map(|(t, o)| ((*t).to_owned(), (*o).to_owned()))
                .collect(),
        )
    }

    fn post(pairs: &[(&str, &str)]) -> RawSubmission {
        RawSubmission::new(
            (pairs.iter())
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn cf7() -> FieldMap {
        map(&[
            ("your-name", "name"),
            ("your-email", "email"),
            ("your-message", "care_requirements"),
        ])
    }

    #[test]
    fn a_contact_form_7_post_becomes_an_enquiry_with_its_other_fields_as_lines() {
        let raw = post(&[
            ("_wpcf7", "12"),
            ("your-name", "Ann Smith"),
            ("your-email", "ann@example.com"),
            ("your-subject", "A room"),
            ("your-message", "Is there a room?"),
        ]);
        let enquiry = Enquiry::parse(&cf7().apply(&raw), &IntakeRules::default()).unwrap();
        assert_eq!(enquiry.first_name.to_string(), "Ann");
        assert_eq!(enquiry.last_name.to_string(), "Smith");
        assert_eq!(
            enquiry.email.as_ref().unwrap().to_string(),
            "ann@example.com"
        );
        assert_eq!(
            enquiry.care_requirements_text().unwrap(),
            "Is there a room?\n\nYour subject: A room"
        );
    }

    #[test]
    fn gravity_forms_input_names_map_onto_first_and_last_name() {
        let map = map(&[
            ("input_1.3", "first_name"),
            ("input_1.6", "last_name"),
            ("input_2", "phone"),
        ]);
        let raw = post(&[
            ("input_1.3", "Ann"),
            ("input_1.6", "Smith"),
            ("input_2", "01632 960001"),
        ]);
        let enquiry = Enquiry::parse(&map.apply(&raw), &IntakeRules::default()).unwrap();
        assert_eq!(enquiry.first_name.to_string(), "Ann");
        assert_eq!(enquiry.phone.as_ref().unwrap().to_string(), "01632 960001");
        assert_eq!(enquiry.care_requirements_text(), None);
    }

    #[test]
    fn a_missing_mapped_field_is_named_by_the_sites_own_name() {
        let raw = post(&[("your-message", "Hello")]);
        let errors = Enquiry::parse(&cf7().apply(&raw), &IntakeRules::default()).unwrap_err();
        let theirs = cf7().their_errors(&errors);
        let fields: Vec<&str> = theirs.iter().map(|(f, _)| f).collect();
        // The single name box is the site's, so is the email box; the phone
        // the site has no box for keeps our name.
        assert_eq!(fields, ["phone", "your-email", "your-name"]);
        let annotated = cf7().annotated(&errors);
        let email = annotated.get("email").unwrap();
        assert!(
            email[0].ends_with("(the field “your-email” on your form)"),
            "{email:?}"
        );
        assert_eq!(annotated.get("phone"), errors.get("phone"));
    }

    #[test]
    fn separate_name_boxes_are_named_each_by_its_own_field() {
        let map = map(&[
            ("fname", "first_name"),
            ("lname", "last_name"),
            ("mail", "email"),
        ]);
        let errors = Enquiry::parse(
            &map.apply(&post(&[("mail", "a@example.com")])),
            &IntakeRules::default(),
        )
        .unwrap_err();
        let theirs = map.their_errors(&errors);
        let fields: Vec<&str> = theirs.iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["fname", "lname"]);
    }

    #[test]
    fn our_own_names_still_work_beside_a_map() {
        // The 422 page is the hosted form: sent again, it posts our names.
        let raw = post(&[
            ("first_name", "Ann"),
            ("last_name", "Smith"),
            ("email", "ann@example.com"),
        ]);
        let mapped = cf7().apply(&raw);
        let enquiry = Enquiry::parse(&mapped, &IntakeRules::default()).unwrap();
        assert_eq!(enquiry.first_name.to_string(), "Ann");
        assert_eq!(enquiry.care_requirements_text(), None);
    }

    #[test]
    fn an_empty_map_changes_nothing() {
        let raw = post(&[("your-name", "Ann Smith")]);
        assert_eq!(FieldMap::default().apply(&raw), raw);
    }

    #[test]
    fn a_hooks_own_entries_win_over_a_presets_defaults() {
        let preset = map(&[("1.3", "first_name"), ("2", "email")]);
        let own = map(&[("4", "email")]);
        let merged = own.over(&preset);
        assert_eq!(merged.ours("4"), Some("email"));
        assert_eq!(merged.ours("2"), None);
        assert_eq!(merged.ours("1.3"), Some("first_name"));
    }
}
