//! `[sites.fields]` (and a webhook's own `fields`): `"their name" = "our
//! name"`, the site's own form's field names mapped onto ours. Read into a
//! `site_forms::FieldMap`; a mapping onto a field we do not have, or two of
//! the site's names onto one of ours, is refused naming the site's key.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::Error;

use super::fields;
use crate::site_forms::{FieldMap, is_target, targets};

/// The longest field name a site's form may use (Gravity Forms' `input_12.3`
/// or a dotted path into a webhook's JSON are far shorter).
const MAX_NAME_CHARS: usize = 200;

/// The table, checked: each target one of [`targets`], each used once.
pub(super) fn field_map<'de, D: serde::Deserializer<'de>>(d: D) -> Result<FieldMap, D::Error> {
    struct Target(String);
    impl<'de> Deserialize<'de> for Target {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            fields::text(d).map(|t| Target(t.trim().to_owned()))
        }
    }
    let table = BTreeMap::<String, Target>::deserialize(d)?;
    let mut entries: Vec<(String, String)> = Vec::with_capacity(table.len());
    for (their, Target(our)) in table {
        if their.trim().is_empty() || their.chars().count() > MAX_NAME_CHARS {
            return Err(D::Error::custom(format!(
                "\"{their}\": a field name of your form must be 1 to {MAX_NAME_CHARS} characters"
            )));
        }
        if !is_target(&our) {
            return Err(D::Error::custom(format!(
                "\"{their}\" = \"{our}\": \"{our}\" is not one of our fields; expected one of: {}",
                targets()
            )));
        }
        if let Some((earlier, _)) = entries.iter().find(|(_, o)| *o == our) {
            return Err(D::Error::custom(format!(
                "\"{earlier}\" and \"{their}\" both map onto {our}; map one field of your form onto each of ours (the other is kept as a labelled line if left unmapped)"
            )));
        }
        entries.push((their, our));
    }
    Ok(FieldMap::new(entries))
}
