//! A site's hosted-form keys (intro text, the consent statement and its
//! version, which optional fields the form leaves out, field labels): what
//! they may be and how the form reads them; and its `[sites.defaults]`, the
//! values sent when the family gave none.

use serde::Deserialize;

use super::error::Problems;
use super::fields;
use crate::domain::FundingType;
use crate::values::Service;

/// Fields a site may leave off its hosted form (names, email-or-phone and
/// consent are what every enquiry needs, so they cannot be hidden together).
pub const OPTIONAL_FIELDS: &[&str] = &[
    "email",
    "phone",
    "care_requirements",
    "enquiring_for_self",
    "service",
    "funding_type",
];

/// Fields whose wording `[sites.labels]` may replace.
const LABELLED: &[&str] = &[
    "first_name",
    "last_name",
    "email",
    "phone",
    "care_requirements",
    "enquiring_for_self",
    "service",
    "funding_type",
    "submit",
];

/// `[sites.labels]`: field name → wording; a name not in `LABELLED` is
/// refused as an unknown key, as in any other table.
#[derive(Clone, Debug, Default)]
pub struct Labels(pub(super) Vec<(String, String)>);

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Label(String);
        impl<'de> Deserialize<'de> for Label {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                fields::parsed(d).map(Label)
            }
        }
        let table = std::collections::BTreeMap::<String, Label>::deserialize(d)?;
        match table.keys().find(|k| !LABELLED.contains(&k.as_str())) {
            Some(unknown) => Err(serde::de::Error::unknown_field(unknown, LABELLED)),
            None => Ok(Self(table.into_iter().map(|(k, v)| (k, v.0)).collect())),
        }
    }
}

/// The consent wording and its version go together, and the home must be
/// left a way to reply. A hidden field named twice is kept once.
pub(super) fn check(
    i: usize,
    consent: (&Option<String>, &Option<String>),
    hidden_fields: &mut Vec<String>,
    p: &mut Problems,
) {
    let key = |field: &str| format!("sites[{i}].{field}");
    match consent {
        (Some(_), None) => p.push(
            key("consent_version"),
            "missing; set a version for the consent wording (e.g. \"2026-11\") so each enquiry records which wording the family agreed to",
        ),
        (None, Some(_)) => p.push(
            key("consent_text"),
            "missing; consent_version is set but there is no consent_text to show; set both or neither",
        ),
        _ => {}
    }
    for (j, field) in std::mem::take(hidden_fields).into_iter().enumerate() {
        if !OPTIONAL_FIELDS.contains(&field.as_str()) {
            p.push(
                key(&format!("hidden_fields[{j}]")),
                format!(
                    "\"{field}\" cannot be hidden; expected one of: {}",
                    OPTIONAL_FIELDS.join(", ")
                ),
            );
        } else if !hidden_fields.contains(&field) {
            hidden_fields.push(field);
        }
    }
    if ["email", "phone"]
        .iter()
        .all(|f| hidden_fields.iter().any(|h| h == f))
    {
        p.push(
            key("hidden_fields"),
            "hides both email and phone, so the home could not reply; keep at least one",
        );
    }
}

fields::section! {
    /// `[sites.defaults]`: values sent when the family gave none.
    #[derive(Clone, Debug)]
    pub struct SiteDefaults {
        pub service: Option<String> ["fields::some_via::<_, Service, _>"] = None,
        pub funding_type: Option<String> ["funding_type"] = None,
        pub enquiring_for_self: Option<bool> ["fields::boolean"] = None,
    }
}

/// One of CareHQ's funding types, exactly as CareHQ writes it.
fn funding_type<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value: String = fields::parsed(d)?;
    match FundingType::ALL.iter().any(|f| f.as_str() == value) {
        true => Ok(Some(value)),
        false => Err(serde::de::Error::custom(format!(
            "\"{value}\" is not a CareHQ funding type; expected one of: {}",
            FundingType::ALL.map(FundingType::as_str).join(", ")
        ))),
    }
}
