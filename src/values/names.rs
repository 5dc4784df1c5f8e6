//! Names operators give things in the config: slugs (sites, accounts,
//! destinations), CareHQ service values, form field names. Each refuses
//! with a message that says what to write.

use crate::domain::FORM_FIELDS;

/// Longest slug; slugs appear in URLs (`/forms/{slug}`).
const MAX_SLUG: usize = 64;

super::checked! {
    /// Lower-case letters, digits and hyphens: a site's slug, an account's or a
    /// destination's name.
    Slug(String) = |text| match (1..=MAX_SLUG).contains(&text.len())
        && (text.bytes()).all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        true => Ok(text.to_owned()),
        false => Err(format!(
            "\"{text}\" is not a valid name; use 1 to {MAX_SLUG} lower-case letters, digits and hyphens, e.g. \"{}\"",
            suggest_slug(text)
        )),
    };

    /// A CareHQ service value looks like `residential_home`; catching
    /// "Residential Home" here beats a 400 from CareHQ on every enquiry.
    Service(String) = |value| match (1..=64).contains(&value.len())
        && (value.bytes()).all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        true => Ok(value.to_owned()),
        false => Err(format!(
            "\"{value}\" is not a CareHQ service value; use lower case and underscores, e.g. \"residential_home\""
        )),
    };

    /// A form field of the site's own (the honeypot's name).
    FieldName(String) = |name| match name.len() <= 64
        && !name.starts_with('_')
        && !FORM_FIELDS.contains(&name)
        && (name.bytes()).all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        true => Ok(name.to_owned()),
        false => Err(format!(
            "\"{name}\" is not usable as a form field name; use letters, digits, - and _ (not a field the form already has), e.g. \"website\""
        )),
    };
}

/// "Upton Court!" → "upton-court": what the operator most likely meant.
fn suggest_slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed: String = out.trim_matches('-').chars().take(MAX_SLUG).collect();
    if trimmed.is_empty() {
        "my-care-home".to_owned()
    } else {
        trimmed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_checked_and_a_fix_is_suggested() {
        assert!("upton-court-2".parse::<Slug>().is_ok());
        for bad in ["Upton", "", &"a".repeat(65)] {
            assert!(bad.parse::<Slug>().is_err(), "{bad}");
        }
        assert_eq!(suggest_slug("Upton Court!"), "upton-court");
        assert_eq!(suggest_slug("!!"), "my-care-home");
    }
}
