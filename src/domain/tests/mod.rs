//! Tests of `Enquiry::parse` as a whole, one file per concern, sharing the
//! helpers below. Each value type's own accepted/refused tables sit beside
//! the type.

mod extras;
mod fields;
mod names;
mod stored;

use super::*;

pub(super) fn raw(pairs: &[(&str, &str)]) -> RawSubmission {
    RawSubmission::new(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

pub(super) fn parse(pairs: &[(&str, &str)]) -> Result<Enquiry, FieldErrors> {
    Enquiry::parse(&raw(pairs), &IntakeRules::default())
}

pub(super) fn errors_of(pairs: &[(&str, &str)], rules: &IntakeRules) -> FieldErrors {
    match Enquiry::parse(&raw(pairs), rules) {
        Ok(_) => panic!("expected errors for {pairs:?}"),
        Err(errors) => errors,
    }
}

pub(super) type Pair = (&'static str, &'static str);
pub(super) type Pairs = &'static [Pair];

pub(super) const CONTACT: (&str, &str) = ("email", "ann@example.com");
