//! TEMPORARY stub until the search-terms branch lands.
use super::Store;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TermQuery(pub Vec<Vec<String>>);

impl Store {
    pub(super) fn term_query(&self, _text: &str) -> Option<TermQuery> {
        None
    }
}
