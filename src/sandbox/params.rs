//! Parameter checking shared by the `/v1` handlers: unknown names, repeats,
//! required values, enums, booleans and Ids, collected into CareHQ-style
//! `arg_errors`; plus the list-call conventions (attributes, paging, envelope).

use serde_json::{Map, Value, json};

use super::error::{ArgErrors, SandboxError};
use super::state::is_carehq_id;

/// Checks one request's parameters, collecting every problem before answering.
pub struct Checker<'a> {
    params: &'a [(String, String)],
    errors: ArgErrors,
}

impl<'a> Checker<'a> {
    pub fn new(params: &'a [(String, String)]) -> Checker<'a> {
        Checker {
            params,
            errors: ArgErrors::new(),
        }
    }

    pub fn error(&mut self, name: &str, message: impl Into<String>) {
        self.errors
            .entry(name.to_owned())
            .or_default()
            .push(message.into());
    }

    /// Strict on purpose: a misspelt name is an error, not silently dropped.
    pub fn reject_unknown(&mut self, known: &[&str]) {
        let mut unknown: Vec<&str> = self
            .params
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !known.contains(k))
            .collect();
        unknown.dedup();
        for name in unknown {
            if !self.errors.contains_key(name) {
                self.error(
                    name,
                    "Unknown parameter: CareHQ does not accept it here. Remove it or correct its name.",
                );
            }
        }
    }

    /// Every value sent for `name`, in order.
    pub fn many(&self, name: &str) -> Vec<&'a str> {
        self.params
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The single value of `name`; sending it twice is an error.
    pub fn one(&mut self, name: &str) -> Option<&'a str> {
        let values = self.many(name);
        if values.len() > 1 {
            self.error(name, "Given more than once; send a single value.");
            return None;
        }
        values.first().copied()
    }

    /// Like `one`, but missing or blank is an error.
    pub fn required(&mut self, name: &str) -> Option<&'a str> {
        let value = self.one(name);
        match value {
            Some(v) if !v.trim().is_empty() => Some(v),
            _ if self.errors.contains_key(name) => None,
            _ => {
                self.error(name, "Required: send a non-empty value.");
                None
            }
        }
    }

    pub fn enumerated(&mut self, name: &str, allowed: &[&str]) -> Option<&'a str> {
        let value = self.one(name)?;
        if allowed.contains(&value) {
            Some(value)
        } else {
            self.error(name, not_one_of(value, allowed));
            None
        }
    }

    /// Booleans as CareHQ's official clients send them (an assumption: the API
    /// does not document it): `true`/`false` (JS, Ruby), `True`/`False`
    /// (Python), `1`/`0` and empty for false (PHP's form encoding).
    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        match self.one(name)? {
            "true" | "True" | "1" => Some(true),
            "false" | "False" | "0" | "" => Some(false),
            other => {
                self.error(
                    name,
                    format!(
                        "'{other}' is not a boolean; send true or false (True/False, 1/0 and an empty value for false are accepted too)."
                    ),
                );
                None
            }
        }
    }

    /// An optional Id (24 lowercase hex characters).
    pub fn id(&mut self, name: &str) -> Option<&'a str> {
        let value = self.one(name)?;
        if is_carehq_id(value) {
            Some(value)
        } else {
            self.error(
                name,
                "Not a CareHQ Id: expected 24 lowercase hex characters.",
            );
            None
        }
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Ok when nothing was wrong so far, else a 400 with every problem found.
    pub fn finish(&mut self) -> Result<(), SandboxError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(SandboxError::invalid(std::mem::take(&mut self.errors)))
        }
    }
}

pub fn not_one_of(value: &str, allowed: &[&str]) -> String {
    format!(
        "'{value}' is not allowed; use one of: {}.",
        allowed.join(", ")
    )
}

/// A list call's `attributes`, `page`, `per_page` and `sort` (docs/carehq-api.md,
/// "Lists: locations and groups").
pub struct ListQuery {
    pub attributes: Vec<String>,
    pub page: usize,
    pub per_page: usize,
    /// (attribute, descending), most significant first; empty keeps the natural order.
    pub sort: Vec<(String, bool)>,
}

pub const LIST_PARAMS: &[&str] = &["attributes", "page", "per_page", "sort"];
const DEFAULT_PER_PAGE: usize = 10;
const MAX_PER_PAGE: usize = 100;

impl ListQuery {
    /// Reads the list parameters; `_id` is always returned, and is the default.
    pub fn read(checker: &mut Checker<'_>, known_attributes: &[&str]) -> ListQuery {
        let mut attributes = vec!["_id".to_owned()];
        for name in checker.many("attributes") {
            if !known_attributes.contains(&name) {
                checker.error(
                    "attributes",
                    format!(
                        "Unknown attribute '{name}'; the sandbox knows: {}.",
                        known_attributes.join(", ")
                    ),
                );
            } else if !attributes.iter().any(|a| a == name) {
                attributes.push(name.to_owned());
            }
        }
        let page = number(checker, "page", 1, usize::MAX).unwrap_or(1);
        let per_page =
            number(checker, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE).unwrap_or(DEFAULT_PER_PAGE);
        let mut sort = Vec::new();
        // A list: repeated keys, as the clients send lists (a comma-separated value too).
        for value in checker.many("sort") {
            for field in value.split(',').map(str::trim) {
                let (name, descending) = match field.strip_prefix('-') {
                    Some(name) => (name, true),
                    None => (field, false),
                };
                if known_attributes.contains(&name) {
                    sort.push((name.to_owned(), descending));
                } else {
                    checker.error(
                        "sort",
                        format!(
                            "Cannot sort by '{field}'; use one of: {} (prefix - for descending).",
                            known_attributes.join(", ")
                        ),
                    );
                }
            }
        }
        ListQuery {
            attributes,
            page,
            per_page,
            sort,
        }
    }

    /// The page's items, sorted as asked, each reduced to the asked attributes,
    /// in CareHQ's envelope.
    pub fn envelope(&self, mut items: Vec<Map<String, Value>>) -> Value {
        if !self.sort.is_empty() {
            items.sort_by(|a, b| {
                self.sort
                    .iter()
                    .map(|(name, descending)| {
                        let order = compare(a.get(name), b.get(name));
                        if *descending { order.reverse() } else { order }
                    })
                    .find(|order| order.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
        }
        let item_count = items.len();
        let page_count = item_count.div_ceil(self.per_page);
        let page: Vec<Value> = items
            .into_iter()
            .skip((self.page - 1).saturating_mul(self.per_page))
            .take(self.per_page)
            .map(|item| Value::Object(self.project(&item)))
            .collect();
        json!({
            "items": page,
            "item_count": item_count,
            "page": self.page,
            "page_count": page_count,
            "per_page": self.per_page,
        })
    }

    pub fn project(&self, item: &Map<String, Value>) -> Map<String, Value> {
        self.attributes
            .iter()
            .map(|name| (name.clone(), item.get(name).cloned().unwrap_or(Value::Null)))
            .collect()
    }
}

/// Nulls (and missing) first, then booleans, numbers and strings in their own order.
fn compare(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    fn rank(v: Option<&Value>) -> u8 {
        match v {
            None | Some(Value::Null) => 0,
            Some(Value::Bool(_)) => 1,
            Some(Value::Number(_)) => 2,
            Some(Value::String(_)) => 3,
            Some(_) => 4,
        }
    }
    match (a, b) {
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(std::cmp::Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

fn number(checker: &mut Checker<'_>, name: &str, default: usize, max: usize) -> Option<usize> {
    let Some(text) = checker.one(name) else {
        return Some(default);
    };
    match text.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Some(n),
        _ => {
            let range = if max == usize::MAX {
                "a whole number from 1".to_owned()
            } else {
                format!("a whole number from 1 to {max}")
            };
            checker.error(name, format!("'{text}' is not valid; send {range}."));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn collects_every_problem_at_once() {
        let p = params(&[("a", "x"), ("a", "y"), ("flag", "yes"), ("typo", "1")]);
        let mut c = Checker::new(&p);
        c.reject_unknown(&["a", "flag", "need"]);
        assert_eq!(c.one("a"), None);
        assert_eq!(c.boolean("flag"), None);
        assert_eq!(c.required("need"), None);
        let Err(SandboxError::Invalid { arg_errors, .. }) = c.finish() else {
            panic!("expected a validation error");
        };
        let names: Vec<&str> = arg_errors.keys().map(String::as_str).collect();
        assert_eq!(names, ["a", "flag", "need", "typo"]);
    }

    #[test]
    fn list_query_defaults_and_paging() {
        let p = params(&[("attributes", "name"), ("per_page", "2"), ("page", "2")]);
        let mut c = Checker::new(&p);
        let q = ListQuery::read(&mut c, &["_id", "name"]);
        assert!(!c.has_errors());
        assert_eq!(q.attributes, ["_id", "name"]);
        let items: Vec<Map<String, Value>> = (0..5)
            .map(|i| {
                let mut m = Map::new();
                m.insert("_id".into(), json!(i.to_string()));
                m.insert("name".into(), json!("n"));
                m.insert("hidden".into(), json!(true));
                m
            })
            .collect();
        let page = q.envelope(items);
        assert_eq!(page["item_count"], 5);
        assert_eq!(page["page_count"], 3);
        assert_eq!(
            page["items"],
            json!([{"_id": "2", "name": "n"}, {"_id": "3", "name": "n"}])
        );
    }

    #[test]
    fn booleans_take_every_official_client_spelling() {
        for (value, expected) in [
            ("true", true),
            ("True", true),
            ("1", true),
            ("false", false),
            ("False", false),
            ("0", false),
            ("", false),
        ] {
            let p = params(&[("flag", value)]);
            let mut c = Checker::new(&p);
            assert_eq!(c.boolean("flag"), Some(expected), "{value:?}");
            assert!(!c.has_errors());
        }
        for value in ["yes", "TRUE", "on", " true", "2"] {
            let p = params(&[("flag", value)]);
            let mut c = Checker::new(&p);
            assert_eq!(c.boolean("flag"), None, "{value:?}");
            assert!(c.has_errors());
        }
    }

    #[test]
    fn sort_orders_by_fields_with_minus_for_descending() {
        let p = params(&[("sort", "-b"), ("sort", "a")]);
        let mut c = Checker::new(&p);
        let q = ListQuery::read(&mut c, &["_id", "a", "b"]);
        assert!(!c.has_errors());
        let items: Vec<Map<String, Value>> = [(1, "x", "1"), (2, "y", "1"), (3, "x", "2")]
            .iter()
            .map(|(id, a, b)| {
                let mut m = Map::new();
                m.insert("_id".into(), json!(id));
                m.insert("a".into(), json!(a));
                m.insert("b".into(), json!(b));
                m
            })
            .collect();
        let page = q.envelope(items);
        let ids: Vec<&Value> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &i["_id"])
            .collect();
        assert_eq!(ids, [&json!(3), &json!(1), &json!(2)]);

        let p = params(&[("sort", "-nope")]);
        let mut c = Checker::new(&p);
        ListQuery::read(&mut c, &["_id"]);
        assert!(c.has_errors());
    }

    #[test]
    fn per_page_over_100_is_refused() {
        let p = params(&[("per_page", "101")]);
        let mut c = Checker::new(&p);
        ListQuery::read(&mut c, &["_id"]);
        assert!(c.has_errors());
    }
}
