//! A form builder's webhook body, read into one tree whatever it was sent
//! as: JSON as it is; url-encoded with PHP's bracket names nested as PHP
//! reads them (`fields[email][value]=…` is `fields.email.value`, `rooms[]`
//! a list). A field is found by its literal key first (Gravity Forms keys
//! its entry by input id, `1.3`), else by a dotted path into nested data.

use serde_json::{Map, Value};

use super::field_map::FieldMap;
use crate::domain::RawSubmission;

/// Keys the builders use for the visitor's address and browser, written
/// lower-case without `_`, `-` or spaces (`remote_ip`, `ipAddress`, `User
/// Agent`): never copied into the enquiry (the home needs neither to call a
/// family back).
const VISITOR_KEYS: &[&str] = &[
    "ip",
    "ipaddress",
    "remoteip",
    "remoteaddr",
    "userip",
    "clientip",
    "useragent",
    "httpuseragent",
];

/// `key` as [`VISITOR_KEYS`] are written.
fn visitor_key(key: &str) -> bool {
    let squashed: String = (key.chars())
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    VISITOR_KEYS.contains(&squashed.as_str())
}

/// Why a body could not be read; each says what to send instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the JSON body could not be read; send the form's fields as one JSON object")]
    Unreadable,
    #[error("the JSON body is not an object; send the form's fields as one JSON object")]
    NotAnObject,
}

/// A webhook body as a tree of JSON values.
#[derive(Clone, PartialEq)]
pub struct Payload {
    tree: Map<String, Value>,
}

impl Payload {
    pub fn from_json(bytes: &[u8]) -> Result<Payload, PayloadError> {
        match serde_json::from_slice(bytes) {
            Ok(Value::Object(tree)) => Ok(Payload { tree }),
            Ok(_) => Err(PayloadError::NotAnObject),
            Err(_) => Err(PayloadError::Unreadable),
        }
    }

    /// url-encoded pairs, bracket names nested (`a[b][]=1` → `{"a": {"b": ["1"]}}`).
    pub fn from_form(bytes: &[u8]) -> Payload {
        let mut tree = Map::new();
        for (name, value) in form_urlencoded::parse(bytes) {
            insert(
                &mut tree,
                &segments(&name),
                Value::String(value.into_owned()),
            );
        }
        Payload { tree }
    }

    /// The value at `key`: the literal key first, else a dotted path
    /// (`__submission.id`, `fields.email.value`, `fields.0.value`).
    pub fn lookup(&self, key: &str) -> Option<&Value> {
        find_in_map(&self.tree, key).map(|(value, _)| value)
    }

    /// The text at `key` when it is a non-blank scalar (an entry id).
    pub fn text(&self, key: &str) -> Option<String> {
        self.lookup(key)
            .and_then(scalar_text)
            .filter(|t| !t.trim().is_empty())
    }

    /// The submission the enquiry is parsed from: each mapped field under
    /// our name (blank when the body lacks it, so the message names it),
    /// then every other answer under its path (or, for a builder's field
    /// object with a `value`, under its `title`/`label`), for the labelled
    /// lines. Paths matching `ignore` (`meta`, `_wpcf7*`) and the visitor's
    /// address and browser are left out.
    pub fn submission(&self, map: &FieldMap, ignore: &[&str]) -> RawSubmission {
        let mut pairs = Vec::new();
        let mut taken: Vec<Vec<String>> = Vec::new();
        let mut targets: Vec<&str> = Vec::new();
        for (_, our) in map.entries() {
            if !targets.contains(&our) {
                targets.push(our);
            }
        }
        // Several names for one of ours (a preset's alternatives): the
        // first the body has is the answer.
        for our in targets {
            let found = (map.entries())
                .filter(|(_, o)| *o == our)
                .find_map(|(their, _)| find_in_map(&self.tree, their));
            let before = pairs.len();
            if let Some((value, path)) = found {
                push_values(&mut pairs, our, value);
                taken.push(path);
            }
            if pairs.len() == before {
                pairs.push((our.to_owned(), String::new()));
            }
        }
        let mut rest = Walk {
            ignore,
            taken: &taken,
            pairs: &mut pairs,
        };
        for (key, value) in &self.tree {
            rest.visit(&mut vec![key.clone()], value);
        }
        RawSubmission::new(pairs)
    }
}

/// The rest of the body, leaf by leaf.
struct Walk<'a> {
    ignore: &'a [&'a str],
    taken: &'a [Vec<String>],
    pairs: &'a mut Vec<(String, String)>,
}

impl Walk<'_> {
    fn visit(&mut self, path: &mut Vec<String>, value: &Value) {
        if self.taken.iter().any(|t| path.starts_with(t)) || self.ignored(path) {
            return;
        }
        match value {
            Value::Object(map) => {
                if let Some(inner) = map.get("value").filter(|v| !v.is_object()) {
                    // A builder's field object is one answer: mapped by its
                    // value's path, it is taken whole.
                    if self.taken.iter().any(|t| t.starts_with(path)) {
                        return;
                    }
                    let label = ["title", "label"]
                        .iter()
                        .filter_map(|k| map.get(*k).and_then(Value::as_str))
                        .find(|l| !l.trim().is_empty());
                    let name = label.map_or_else(|| path.join("."), str::to_owned);
                    push_values(self.pairs, &name, inner);
                    return;
                }
                for (key, inner) in map {
                    path.push(key.clone());
                    self.visit(path, inner);
                    path.pop();
                }
            }
            Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
                for (index, inner) in items.iter().enumerate() {
                    path.push(index.to_string());
                    self.visit(path, inner);
                    path.pop();
                }
            }
            other => push_values(self.pairs, &path.join("."), other),
        }
    }

    fn ignored(&self, path: &[String]) -> bool {
        if path.last().is_some_and(|key| visitor_key(key)) {
            return true;
        }
        let joined = path.join(".");
        self.ignore
            .iter()
            .any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => joined.starts_with(prefix),
                None => {
                    joined == *pattern
                        || (joined.starts_with(pattern) && joined[pattern.len()..].starts_with('.'))
                }
            })
    }
}

/// `name` = each scalar of `value` (a list gives one pair per item, as a
/// multi-select posts); a field object gives its `value`.
fn push_values(pairs: &mut Vec<(String, String)>, name: &str, value: &Value) {
    match value {
        Value::Array(items) => {
            for item in items {
                push_values(pairs, name, item);
            }
        }
        Value::Object(map) => {
            if let Some(inner) = map.get("value").filter(|v| !v.is_object()) {
                push_values(pairs, name, inner);
            }
        }
        scalar => {
            if let Some(text) = scalar_text(scalar) {
                pairs.push((name.to_owned(), text));
            }
        }
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// The value at `key` in `map` and its path: the literal key, else the
/// longest-first split at a dot whose head is a key and whose rest is found
/// below it.
fn find_in_map<'v>(map: &'v Map<String, Value>, key: &str) -> Option<(&'v Value, Vec<String>)> {
    if let Some(value) = map.get(key) {
        return Some((value, vec![key.to_owned()]));
    }
    for (at, _) in key.match_indices('.') {
        let (head, rest) = (&key[..at], &key[at + 1..]);
        if let Some((value, mut path)) = map.get(head).and_then(|child| find(child, rest)) {
            path.insert(0, head.to_owned());
            return Some((value, path));
        }
    }
    None
}

fn find<'v>(node: &'v Value, key: &str) -> Option<(&'v Value, Vec<String>)> {
    match node {
        Value::Object(map) => find_in_map(map, key),
        Value::Array(items) => {
            let (head, rest) = key
                .split_once('.')
                .map_or((key, None), |(h, r)| (h, Some(r)));
            let item = items.get(head.parse::<usize>().ok()?)?;
            let (value, mut path) = match rest {
                None => (item, Vec::new()),
                Some(rest) => find(item, rest)?,
            };
            path.insert(0, head.to_owned());
            Some((value, path))
        }
        _ => None,
    }
}

/// `fields[email][value]` → `["fields", "email", "value"]`; `rooms[]` →
/// `["rooms", ""]` (append). A name without brackets is one literal key.
fn segments(name: &str) -> Vec<String> {
    let Some(open) = name.find('[').filter(|&i| i > 0 && name.ends_with(']')) else {
        return vec![name.to_owned()];
    };
    let mut parts = vec![name[..open].to_owned()];
    for part in name[open + 1..name.len() - 1].split("][") {
        parts.push(part.to_owned());
    }
    parts
}

fn insert(map: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((head, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        map.insert(head.clone(), value);
        return;
    }
    if rest[0].is_empty() {
        // `head[]`: a list of the values posted under it.
        let entry = map
            .entry(head.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = entry {
            items.push(value);
        }
        return;
    }
    let entry = map
        .entry(head.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Value::Object(inner) = entry {
        insert(inner, rest, value);
    }
}

/// Keys only: the values are what a family typed.
impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload")
            .field("keys", &self.tree.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(entries: &[(&str, &str)]) -> FieldMap {
        FieldMap::new(
            (entries.iter())
                .map(|(t, o)| ((*t).to_owned(), (*o).to_owned()))
                .collect(),
        )
    }

    fn json_payload(value: Value) -> Payload {
        Payload::from_json(value.to_string().as_bytes()).unwrap()
    }

    fn pairs(raw: &RawSubmission) -> Vec<(&str, &str)> {
        raw.pairs()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn a_literal_key_wins_over_a_dotted_path() {
        let payload = json_payload(json!({"1.3": "Ann", "1": {"3": "Not this"}}));
        assert_eq!(payload.text("1.3").as_deref(), Some("Ann"));
        let nested = json_payload(json!({"fields": {"email": {"value": "a@example.com"}}}));
        assert_eq!(
            nested.text("fields.email.value").as_deref(),
            Some("a@example.com")
        );
        let listed = json_payload(json!({"fields": [{"value": "x"}, {"value": "y"}]}));
        assert_eq!(listed.text("fields.1.value").as_deref(), Some("y"));
        // A key with a dot inside a nested object is found too.
        let dotted = json_payload(json!({"entry": {"1.3": "Ann"}}));
        assert_eq!(dotted.text("entry.1.3").as_deref(), Some("Ann"));
        assert_eq!(dotted.text("entry.2"), None);
    }

    #[test]
    fn mapped_fields_come_first_and_the_rest_become_lines_by_path() {
        let payload = json_payload(json!({
            "names": {"first_name": "Ann", "last_name": "Smith", "middle_name": "May"},
            "email": "ann@example.com",
            "rooms": ["single", "double"],
            "ip": "203.0.113.9",
            "__submission": {"id": 7, "user_agent": "Mozilla"},
        }));
        let fields = map(&[
            ("names.first_name", "first_name"),
            ("names.last_name", "last_name"),
            ("email", "email"),
            ("phone", "phone"),
        ]);
        let raw = payload.submission(&fields, &["__submission"]);
        assert_eq!(
            pairs(&raw),
            [
                ("first_name", "Ann"),
                ("last_name", "Smith"),
                ("email", "ann@example.com"),
                ("phone", ""),
                ("names.middle_name", "May"),
                ("rooms", "single"),
                ("rooms", "double"),
            ]
        );
    }

    #[test]
    fn bracket_names_nest_as_php_reads_them() {
        let body = "form%5Bid%5D=abc&fields%5Bemail%5D%5Bvalue%5D=a%40example.com\
                    &fields%5Bemail%5D%5Btitle%5D=Email&fields%5Bcall%5D%5Btitle%5D=Best+time\
                    &fields%5Bcall%5D%5Bvalue%5D=Mornings&rooms%5B%5D=a&rooms%5B%5D=b&1.3=Ann\
                    &meta%5Bremote_ip%5D%5Bvalue%5D=203.0.113.9";
        let payload = Payload::from_form(body.as_bytes());
        assert_eq!(
            payload.text("fields.email.value").as_deref(),
            Some("a@example.com")
        );
        assert_eq!(payload.text("1.3").as_deref(), Some("Ann"));
        assert_eq!(payload.lookup("rooms"), Some(&json!(["a", "b"])));
        let raw = payload.submission(&map(&[("fields.email.value", "email")]), &["form"]);
        // A builder's field object is one answer, labelled by its title; the
        // visitor's address is never copied.
        assert_eq!(
            pairs(&raw),
            [
                ("email", "a@example.com"),
                ("Best time", "Mornings"),
                ("rooms", "a"),
                ("rooms", "b"),
                ("1.3", "Ann"),
            ]
        );
    }

    #[test]
    fn ignore_patterns_match_a_path_its_subtree_or_a_prefix() {
        let payload = json_payload(json!({
            "_wpcf7": "1", "_wpcf7_version": "5.9", "meta": {"date": "x"}, "metadata": "kept",
        }));
        let raw = payload.submission(&FieldMap::default(), &["_wpcf7*", "meta"]);
        assert_eq!(pairs(&raw), [("metadata", "kept")]);
    }

    #[test]
    fn the_visitors_address_and_browser_are_never_copied_however_spelt() {
        let payload = json_payload(json!({
            "ip": "1", "ipAddress": "2", "remote_ip": "3", "User Agent": "4", "user-agent": "5",
            "metadata": {"clientIp": "6", "HTTP_USER_AGENT": "7"}, "zip": "kept", "tip": "kept",
        }));
        let raw = payload.submission(&FieldMap::default(), &[]);
        assert_eq!(pairs(&raw), [("zip", "kept"), ("tip", "kept")]);
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused() {
        assert_eq!(Payload::from_json(b"[1]"), Err(PayloadError::NotAnObject));
        assert_eq!(Payload::from_json(b"{"), Err(PayloadError::Unreadable));
    }
}
