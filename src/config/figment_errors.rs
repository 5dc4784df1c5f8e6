//! figment's errors in our words: each keyed by the config key it concerns,
//! on one line, never echoing a value, and saying when the environment set it.

use figment::Figment;

use super::env_names::env_var_name;
use super::error::ConfigError;
use super::sources::ENV_LAYER;

/// figment's errors in our words, keyed by the config key they concern.
pub(super) fn convert(error: figment::Error, prefix: &str, figment: &Figment) -> Vec<ConfigError> {
    error
        .into_iter()
        .map(|e| {
            let mut key = join_key(prefix, &e.path);
            let message = match &e.kind {
                figment::error::Kind::UnknownField(field, expected) => {
                    // Nested errors already end with the field; top-level ones do not.
                    if e.path.last().is_none_or(|last| last != field) {
                        key = join_key(&key, std::slice::from_ref(field));
                    }
                    format!(
                        "unknown key; check the spelling (expected one of: {})",
                        expected.join(", ")
                    )
                }
                figment::error::Kind::InvalidType(actual, expected) => {
                    // `actual` is only the kind of value (map, sequence): the
                    // scalar types read everything else as text, so no value,
                    // secret or not, is echoed here.
                    format!("found {}, expected {expected}", kind_of(actual))
                }
                other if key.is_empty() => {
                    // Reading or parsing the file itself failed.
                    key = e
                        .metadata
                        .as_ref()
                        .and_then(|m| m.source.as_ref())
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "config".into());
                    format!(
                        "{}; fix the file and try again",
                        one_line(&other.to_string())
                    )
                }
                other => one_line(&other.to_string()),
            };
            annotate_origin(ConfigError::new(key, message), figment)
        })
        .collect()
}

/// The TOML parser's message without its source snippet, on one line, since
/// `ConfigErrors` prints one line per problem.
pub(super) fn one_line(message: &str) -> String {
    let is_snippet = |line: &str| {
        let line = line.trim_start();
        line.starts_with('|')
            || line
                .split_once(" |")
                .is_some_and(|(n, _)| n.bytes().all(|b| b.is_ascii_digit()))
    };
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !is_snippet(line))
        .collect::<Vec<_>>()
        .join("; ")
}

fn kind_of(actual: &figment::error::Actual) -> &'static str {
    use figment::error::Actual;
    match actual {
        Actual::Map => "a table",
        Actual::Seq => "a list",
        Actual::Bool(_) => "a boolean",
        Actual::Str(_) | Actual::Char(_) => "a string",
        Actual::Unsigned(_) | Actual::Signed(_) | Actual::Float(_) => "a number",
        _ => "a value of another type",
    }
}

pub(super) fn join_key(prefix: &str, path: &[String]) -> String {
    let mut key = prefix.to_owned();
    for part in path {
        if part.bytes().all(|b| b.is_ascii_digit()) {
            key.push_str(&format!("[{part}]"));
            continue;
        }
        if !key.is_empty() {
            key.push('.');
        }
        key.push_str(part);
    }
    key
}

/// Adds "(from ENQUIRY_RELAY_…)" when the value came from the environment:
/// an override nobody remembers setting is a classic source of confusion.
pub(super) fn annotate_origin(mut error: ConfigError, figment: &Figment) -> ConfigError {
    // `sites[1].location` → `sites`; `sync.retry_schedule[2]` → `sync.retry_schedule`.
    let lookup = error.key.split('[').next().unwrap_or_default();
    if !lookup.is_empty()
        && let Some(metadata) = figment.find_metadata(lookup)
        && metadata.name == ENV_LAYER
    {
        let variable = env_var_name(lookup);
        error.message.push_str(&format!(" (set by {variable})"));
    }
    error
}
