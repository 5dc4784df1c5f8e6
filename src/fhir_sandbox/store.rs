//! The resources the FHIR sandbox holds, one list per resource type, as a
//! FHIR server keeps them: each with its server id and identifiers.
//!
//! A transaction is applied entry by entry, as FHIR R4 processes one
//! (http.html "Transaction Processing Rules", "Conditional Create"): an
//! entry with `ifNoneExist` that finds one resource of its type creates
//! nothing and is answered with that resource; one without always creates a
//! new resource. So a re-sent bundle whose entries are not all conditional
//! duplicates them here, as it would on a real server, and tests can count
//! the copies. More than one match refuses the whole transaction (412), and
//! nothing of it is created.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use super::identifier::{Identifier, IdentifierSearch};
use super::validate::{CheckedEntry, RESOURCE_TYPES};

/// A resource the sandbox holds.
#[derive(Clone, Debug, Serialize)]
pub struct StoredResource {
    pub id: String,
    #[serde(rename = "identifier")]
    pub identifiers: Vec<Identifier>,
    /// The index, in the accepted bundles, of the one that created it.
    pub bundle: usize,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// What one entry of an applied transaction came to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub resource_type: String,
    pub id: String,
    /// False: its `ifNoneExist` found this existing resource.
    pub created: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified: OffsetDateTime,
}

/// An `ifNoneExist` that found more than one resource: the transaction fails.
#[derive(Debug, PartialEq, Eq)]
pub struct MultipleMatches {
    /// The entry's index in the bundle.
    pub entry: usize,
    pub resource_type: String,
    pub count: usize,
}

#[derive(Default)]
pub struct Store {
    by_type: BTreeMap<String, Vec<StoredResource>>,
}

impl Store {
    /// Applies one transaction's entries, all or nothing. `bundle` is the
    /// index it will have among the accepted bundles; `new_id` gives server ids.
    pub fn transaction(
        &mut self,
        entries: &[CheckedEntry],
        bundle: usize,
        now: OffsetDateTime,
        mut new_id: impl FnMut() -> String,
    ) -> Result<Vec<Outcome>, MultipleMatches> {
        // Every search runs before anything is created, as each runs
        // against the server's state before the transaction.
        let mut found = Vec::with_capacity(entries.len());
        for (entry, checked) in entries.iter().enumerate() {
            let Some(search) = &checked.if_none_exist else {
                found.push(None);
                continue;
            };
            let matches = self.find(&checked.resource_type, search);
            match matches.as_slice() {
                [] => found.push(None),
                [one] => found.push(Some(Outcome {
                    resource_type: checked.resource_type.clone(),
                    id: one.id.clone(),
                    created: false,
                    last_modified: one.created_at,
                })),
                more => {
                    return Err(MultipleMatches {
                        entry,
                        resource_type: checked.resource_type.clone(),
                        count: more.len(),
                    });
                }
            }
        }
        let outcomes = entries
            .iter()
            .zip(found)
            .map(|(checked, found)| {
                found.unwrap_or_else(|| {
                    let id = new_id();
                    self.by_type
                        .entry(checked.resource_type.clone())
                        .or_default()
                        .push(StoredResource {
                            id: id.clone(),
                            identifiers: checked.identifiers.clone(),
                            bundle,
                            created_at: now,
                        });
                    Outcome {
                        resource_type: checked.resource_type.clone(),
                        id,
                        created: true,
                        last_modified: now,
                    }
                })
            })
            .collect();
        Ok(outcomes)
    }

    /// The resources of `resource_type` that `search` finds, oldest first.
    pub fn find(&self, resource_type: &str, search: &IdentifierSearch) -> Vec<&StoredResource> {
        self.of_type(resource_type)
            .iter()
            .filter(|resource| search.matches_any(&resource.identifiers))
            .collect()
    }

    /// Every resource of `resource_type`, oldest first.
    pub fn of_type(&self, resource_type: &str) -> &[StoredResource] {
        self.by_type
            .get(resource_type)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Resource type → its resources `search` finds (all when None); every
    /// type of an enquiry bundle is listed, even with none.
    pub fn listing(
        &self,
        search: Option<&IdentifierSearch>,
    ) -> BTreeMap<String, Vec<StoredResource>> {
        RESOURCE_TYPES
            .iter()
            .map(|kind| {
                let held = match search {
                    Some(search) => self.find(kind, search).into_iter().cloned().collect(),
                    None => self.of_type(kind).to_vec(),
                };
                ((*kind).to_owned(), held)
            })
            .collect()
    }

    /// Resource type → how many the sandbox holds.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        RESOURCE_TYPES
            .iter()
            .map(|kind| ((*kind).to_owned(), self.of_type(kind).len()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSTEM: &str = "urn:enquiry-relay:enquiry";

    fn identified(kind: &str, value: &str, conditional: bool) -> CheckedEntry {
        CheckedEntry {
            resource_type: kind.to_owned(),
            identifiers: vec![Identifier {
                system: Some(SYSTEM.to_owned()),
                value: value.to_owned(),
            }],
            if_none_exist: conditional
                .then(|| IdentifierSearch::token(&format!("{SYSTEM}|{value}")))
                .flatten(),
        }
    }

    fn apply(store: &mut Store, entries: &[CheckedEntry]) -> Result<Vec<Outcome>, MultipleMatches> {
        let mut next = store.counts().values().sum::<usize>();
        store.transaction(entries, 0, OffsetDateTime::UNIX_EPOCH, || {
            next += 1;
            next.to_string()
        })
    }

    #[test]
    fn a_conditional_create_finds_the_first_copy_and_a_plain_one_makes_another() {
        let mut store = Store::default();
        let entries = [
            identified("Patient", "e-1/patient", false),
            identified("ServiceRequest", "e-1", true),
        ];
        let first = apply(&mut store, &entries).unwrap();
        assert!(first.iter().all(|o| o.created));
        let again = apply(&mut store, &entries).unwrap();
        assert_eq!(
            again.iter().map(|o| o.created).collect::<Vec<_>>(),
            [true, false]
        );
        assert_eq!(again[1].id, first[1].id, "the existing ServiceRequest");
        assert_eq!(store.of_type("Patient").len(), 2, "a second Patient");
        assert_eq!(store.of_type("ServiceRequest").len(), 1);
        assert_eq!(store.counts()["Appointment"], 0);
    }

    #[test]
    fn two_matches_refuse_the_whole_transaction_and_create_nothing() {
        let mut store = Store::default();
        let plain = [identified("ServiceRequest", "e-1", false)];
        apply(&mut store, &plain).unwrap();
        apply(&mut store, &plain).unwrap();
        let conditional = [
            identified("Patient", "e-1/patient", true),
            identified("ServiceRequest", "e-1", true),
        ];
        let refused = apply(&mut store, &conditional).unwrap_err();
        assert_eq!(
            refused,
            MultipleMatches {
                entry: 1,
                resource_type: "ServiceRequest".into(),
                count: 2
            }
        );
        assert!(store.of_type("Patient").is_empty(), "nothing was created");
    }

    #[test]
    fn a_search_is_by_resource_type_and_token() {
        let mut store = Store::default();
        apply(
            &mut store,
            &[
                identified("Patient", "e-1", false),
                identified("ServiceRequest", "e-1", false),
            ],
        )
        .unwrap();
        let search = |token: &str| IdentifierSearch::token(token).unwrap();
        assert_eq!(
            store
                .find("Patient", &search(&format!("{SYSTEM}|e-1")))
                .len(),
            1
        );
        assert_eq!(store.find("Patient", &search("e-1")).len(), 1, "any system");
        assert!(
            store.find("Patient", &search("|e-1")).is_empty(),
            "no system only"
        );
        assert!(store.find("Patient", &search("urn:other|e-1")).is_empty());
        assert!(store.find("Appointment", &search("e-1")).is_empty());
        let listed = store.listing(Some(&search("e-1")));
        assert_eq!(listed["ServiceRequest"].len(), 1);
        assert!(listed["RelatedPerson"].is_empty());
    }

    #[test]
    fn only_one_identifier_parameter_is_an_if_none_exist_the_sandbox_runs() {
        let decoded = IdentifierSearch::if_none_exist("identifier=urn%3Aa%7Cx%2F1").unwrap();
        assert_eq!(decoded, IdentifierSearch::token("urn:a|x/1").unwrap());
        for unsupported in [
            "",
            "identifier=",
            "identifier=urn:a|",
            "name=Ada",
            "identifier=urn:a|1&name=Ada",
            "Patient?identifier=urn:a|1",
        ] {
            assert_eq!(
                IdentifierSearch::if_none_exist(unsupported),
                None,
                "{unsupported}"
            );
        }
    }
}
