//! The honeypot: a field people never see, so anything typed into it came
//! from a program filling in every input it finds.

use crate::domain::RawSubmission;

/// True when the hidden field holds anything but whitespace.
pub fn tripped(raw: &RawSubmission, field: &str) -> bool {
    raw.values(field).any(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawSubmission {
        RawSubmission::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        )
    }

    #[test]
    fn only_a_filled_honeypot_trips() {
        assert!(tripped(&raw(&[("website", "http://spam")]), "website"));
        assert!(!tripped(&raw(&[("website", "  ")]), "website"));
        assert!(!tripped(&raw(&[("first_name", "Ann")]), "website"));
        assert!(!tripped(&raw(&[("website", "x")]), "homepage"));
    }
}
