//! A resource's `identifier` and the token search on it (FHIR search.html
//! "token"), which both the Bundle checks (`ifNoneExist`) and the store
//! (conditional create, `/_sandbox/resources?identifier=`) use.

use serde::Serialize;

/// One `Identifier` of a resource (only what matching needs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Identifier {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub value: String,
}

/// A token search on `identifier` (FHIR search.html "token").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentifierSearch {
    system: SystemMatch,
    value: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum SystemMatch {
    /// `value`: any system, or none.
    Any,
    /// `|value`: identifiers without a system only.
    Absent,
    /// `system|value`.
    Is(String),
}

impl IdentifierSearch {
    /// `system|value`, `|value` or `value`; None when the value is empty.
    pub fn token(text: &str) -> Option<IdentifierSearch> {
        let (system, value) = match text.split_once('|') {
            Some(("", value)) => (SystemMatch::Absent, value),
            Some((system, value)) => (SystemMatch::Is(system.to_owned()), value),
            None => (SystemMatch::Any, text),
        };
        (!value.is_empty()).then(|| IdentifierSearch {
            system,
            value: value.to_owned(),
        })
    }

    /// An `ifNoneExist` query the sandbox can run: one `identifier=<token>`
    /// parameter, percent-decoded as a server decodes a query string.
    pub fn if_none_exist(query: &str) -> Option<IdentifierSearch> {
        let mut parameters = form_urlencoded::parse(query.as_bytes());
        match (parameters.next(), parameters.next()) {
            (Some((name, token)), None) if name == "identifier" => IdentifierSearch::token(&token),
            _ => None,
        }
    }

    pub fn matches(&self, identifier: &Identifier) -> bool {
        let system = match &self.system {
            SystemMatch::Any => true,
            SystemMatch::Absent => identifier.system.is_none(),
            SystemMatch::Is(wanted) => identifier.system.as_deref() == Some(wanted.as_str()),
        };
        system && identifier.value == self.value
    }

    pub fn matches_any(&self, identifiers: &[Identifier]) -> bool {
        identifiers
            .iter()
            .any(|identifier| self.matches(identifier))
    }
}
