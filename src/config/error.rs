//! The configuration's error types: one problem per key, collected into a list
//! so an operator fixes every mistake in one pass instead of one per start-up.

use std::fmt;

/// One problem with one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the problem is, e.g. `sites[1].location` or `carehq.api_secret`.
    pub key: String,
    /// What is wrong and what is expected instead. Never holds a secret's value.
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in one load, in the order the keys were checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// The problems collected while the settings are read and checked.
pub(super) type Problems = ConfigErrors;

impl std::error::Error for ConfigErrors {}

impl ConfigErrors {
    pub fn single(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![ConfigError::new(key, message)])
    }

    /// The problem reported for `key`, if any (handy for callers and tests).
    pub fn get(&self, key: &str) -> Option<&ConfigError> {
        self.0.iter().find(|e| e.key == key)
    }

    pub(super) fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError::new(key, message));
    }

    pub(super) fn extend(&mut self, errors: ConfigErrors) {
        self.0.extend(errors.0);
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One line per problem, so the list reads well on a terminal and in logs.
impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ConfigError::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

/// Keys `extract` refused or found missing, which hold their defaults so
/// later rules do not blame them again.
#[derive(Default)]
pub(super) struct Refused {
    /// Every key whose value serde refused, and every required one unset.
    pub bad: Vec<String>,
    /// Of those, the unknown ones: each may be a misspelt required key.
    pub unknown: Vec<String>,
}

impl Refused {
    /// A refused key at or under `prefix` (`carehq.timeout`, `sites[0].`).
    pub(super) fn any(&self, prefix: &str) -> bool {
        self.bad.iter().any(|k| k.starts_with(prefix))
    }

    /// An unknown key in `table` (`sites[0]`, `accounts[1]`).
    pub(super) fn misspelt(&self, table: &str) -> bool {
        let prefix = format!("{table}.");
        self.unknown.iter().any(|k| k.starts_with(&prefix))
    }
}

/// The names given so far in a list of tables (`sites[i].slug`,
/// `accounts[i].name`): a second use of one is refused at its key.
pub(super) struct Names<'a> {
    table: &'a str,
    what: &'a str,
    seen: Vec<(String, usize)>,
}

impl<'a> Names<'a> {
    /// `table`: `sites`; `what`: `slug`, `account name`.
    pub(super) fn new(table: &'a str, what: &'a str) -> Self {
        Self {
            table,
            what,
            seen: Vec::new(),
        }
    }

    pub(super) fn add(&mut self, i: usize, key: &str, name: &str, p: &mut Problems) {
        let (table, what) = (self.table, self.what);
        match self.seen.iter().find(|(seen, _)| seen == name) {
            Some((_, first)) => p.push(
                key,
                format!("duplicate {what} \"{name}\" (also used by {table}[{first}]); give each its own {what}"),
            ),
            None => self.seen.push((name.to_owned(), i)),
        }
    }

    pub(super) fn contains(&self, name: &str) -> bool {
        self.seen.iter().any(|(seen, _)| seen == name)
    }

    pub(super) fn list(&self) -> Vec<&str> {
        self.seen.iter().map(|(seen, _)| seen.as_str()).collect()
    }
}
