//! The sections read from the layered figment, with structural problems
//! (unknown keys, a table where a value belongs, a value serde refuses)
//! turned into `ConfigError`s that name the key and where it was set.

use figment::Figment;
use figment::value::{Dict, Value};
use serde::de::DeserializeOwned;

use super::env_names::env_var_name;
use super::error::{ConfigError, ConfigErrors, Problems};
use super::secrets;
use super::sites::SiteKeys;
use super::sources::ENV_LAYER;

/// The sections there are: any other top-level key is refused by name, so
/// a misspelt section is not silently ignored. Each section is read on its
/// own, so a mistake in one does not hide mistakes in another.
const SECTIONS: &[&str] = &[
    "server",
    "database",
    "carehq",
    "sync",
    "staff",
    "captcha",
    "spam",
    "rate_limit",
    "sites",
    "status",
    "metrics",
    "retention",
    "alerts",
    "sentry",
    "log",
];

/// The raw sections plus the structural problems met while reading them.
pub(super) struct Extracted {
    pub raw: RawSettings,
    pub problems: Problems,
    /// Key prefixes (`carehq`, `sites[1]`) whose content could not be read:
    /// they hold defaults, so validation problems under them are not real.
    pub unreadable: Vec<String>,
}

/// Every section, as extracted.
#[derive(Default)]
pub(super) struct RawSettings {
    /// Keys that were refused (they hold their defaults).
    pub bad_keys: Vec<String>,
    /// Of those, the unknown ones (each may be a misspelt required key).
    pub unknown_keys: Vec<String>,
    pub server: super::server::ServerSettings,
    pub database: super::sections::DatabaseSettings,
    pub carehq: super::sections::CareHqSettings,
    pub sync: super::delivery::SyncKeys,
    pub staff: super::sections::StaffSettings,
    pub captcha: super::captcha::CaptchaSettings,
    pub spam: super::sections::SpamSettings,
    pub rate_limit: super::rate::RateLimitSettings,
    /// Each readable site with its place in the file.
    pub sites: Vec<(usize, SiteKeys)>,
    pub status: super::operations::StatusSettings,
    pub metrics: super::operations::MetricsSettings,
    pub retention: super::operations::RetentionSettings,
    pub alerts: super::operations::AlertSettings,
    pub sentry: super::sentry::SentrySettings,
    pub log: super::log::LogSettings,
}

/// True when a validation problem about `key` concerns a part that could not
/// be read (or, for `sites`, a list that lost an unreadable entry).
pub(super) fn under_unreadable(unreadable: &[String], key: &str) -> bool {
    unreadable.iter().any(|prefix| {
        key == prefix
            || key.starts_with(&format!("{prefix}."))
            || key.starts_with(&format!("{prefix}["))
            || (key == "sites" && prefix.starts_with("sites"))
    })
}

/// Extracts every section, collecting structural problems from all of them.
/// Only a file that cannot be read or parsed at all is an immediate error.
pub(super) fn extract(figment: &Figment) -> Result<Extracted, ConfigErrors> {
    let root: Dict = figment
        .extract()
        .map_err(|e| ConfigErrors(convert(e, "", figment)))?;
    let mut out = Extracted {
        raw: RawSettings::default(),
        problems: Problems::default(),
        unreadable: Vec::new(),
    };
    for name in root.keys().filter(|k| !SECTIONS.contains(&k.as_str())) {
        let expected = SECTIONS.join(", ");
        let message = format!("unknown key; check the spelling (expected one of: {expected})");
        let mut error = ConfigError::new(name, message);
        annotate_origin(&mut error, figment);
        out.problems.extend(ConfigErrors(vec![error]));
    }
    out.raw.server = typed(&root, "server", figment, &mut out);
    out.raw.database = typed(&root, "database", figment, &mut out);
    out.raw.carehq = typed(&root, "carehq", figment, &mut out);
    out.raw.sync = typed(&root, "sync", figment, &mut out);
    out.raw.staff = typed(&root, "staff", figment, &mut out);
    out.raw.captcha = typed(&root, "captcha", figment, &mut out);
    out.raw.spam = typed(&root, "spam", figment, &mut out);
    out.raw.rate_limit = typed(&root, "rate_limit", figment, &mut out);
    out.raw.status = typed(&root, "status", figment, &mut out);
    out.raw.metrics = typed(&root, "metrics", figment, &mut out);
    out.raw.retention = typed(&root, "retention", figment, &mut out);
    out.raw.alerts = typed(&root, "alerts", figment, &mut out);
    out.raw.sentry = typed(&root, "sentry", figment, &mut out);
    out.raw.log = typed(&root, "log", figment, &mut out);
    match root.get("sites") {
        None => {}
        Some(Value::Array(_, items)) => {
            let global_captcha = super::captcha::global_table(&root);
            for (i, item) in items.iter().enumerate() {
                let prefix = format!("sites[{i}]");
                let Value::Dict(_, mut site) = item.clone() else {
                    out.problems.push(
                        &prefix,
                        "expected a [[sites]] table of keys, not a single value",
                    );
                    out.unreadable.push(prefix);
                    continue;
                };
                if let Some(Value::Dict(_, own)) = site.get("captcha") {
                    let merged = super::captcha::over(own, &global_captcha);
                    site.insert("captcha".to_owned(), Value::from(merged));
                }
                if let Some(keys) = read(site, &prefix, figment, &mut out) {
                    out.raw.sites.push((i, keys));
                }
            }
        }
        Some(_) => {
            out.problems.push(
                "sites",
                "expected a list of [[sites]] tables; write each site as its own [[sites]] block",
            );
            out.unreadable.push("sites".into());
        }
    }
    Ok(out)
}

fn section<T: DeserializeOwned + Default>(
    root: &Dict,
    name: &str,
    figment: &Figment,
    out: &mut Extracted,
) -> T {
    let Some(value) = root.get(name) else {
        return T::default();
    };
    let result = if matches!(value, Value::Dict(..)) {
        value
            .deserialize::<T>()
            .map_err(|e| ConfigErrors(convert(e, name, figment)))
    } else {
        Err(ConfigErrors::single(
            name,
            format!("expected a [{name}] table of keys, not a single value"),
        ))
    };
    result.unwrap_or_else(|errors| {
        out.problems.extend(errors);
        out.unreadable.push(name.to_owned());
        T::default()
    })
}

/// A typed section, or `T::default()` when it is not there or unreadable.
fn typed<T: DeserializeOwned + Default>(
    root: &Dict,
    name: &str,
    figment: &Figment,
    out: &mut Extracted,
) -> T {
    match root.get(name) {
        None => T::default(),
        Some(Value::Dict(_, dict)) => read(dict.clone(), name, figment, out).unwrap_or_default(),
        Some(_) => section(root, name, figment, out),
    }
}

/// One table (a section, or a site, keys starting with `prefix`): each key
/// serde refuses is reported, taken out and the rest read again, so one run
/// names every bad key. Blank strings count as unset, as for the environment.
/// `None` when nothing could be read (`prefix` is then unreadable).
fn read<T: DeserializeOwned>(
    mut dict: Dict,
    prefix: &str,
    figment: &Figment,
    out: &mut Extracted,
) -> Option<T> {
    drop_blanks(&mut dict);
    let mut files = Problems::default();
    secrets::inline_files(prefix, &mut dict, &mut files);
    for mut error in files.into_errors().0 {
        annotate_origin(&mut error, figment);
        out.problems.extend(ConfigErrors(vec![error]));
    }
    loop {
        let error = match Value::from(dict.clone()).deserialize::<T>() {
            Ok(value) => return Some(value),
            Err(error) => error,
        };
        let mut removed = false;
        for e in error.clone() {
            let path = bad_path(&e);
            let key = join_key(prefix, &path);
            if matches!(e.kind, figment::error::Kind::UnknownField(..)) {
                out.raw.unknown_keys.push(key.clone());
            }
            out.raw.bad_keys.push(key);
            removed |= remove(&mut dict, &path);
        }
        out.problems
            .extend(ConfigErrors(convert(error, prefix, figment)));
        if !removed {
            out.unreadable.push(prefix.to_owned());
            return None;
        }
    }
}

/// Blank strings, at any depth, are unset.
fn drop_blanks(dict: &mut Dict) {
    dict.retain(|_, v| !matches!(v, Value::String(_, s) if s.trim().is_empty()));
    for value in dict.values_mut() {
        if let Value::Dict(_, inner) = value {
            drop_blanks(inner);
        }
    }
}

/// The path of the key an error is about (an unknown key names itself).
fn bad_path(error: &figment::Error) -> Vec<String> {
    let mut path = error.path.clone();
    if let figment::error::Kind::UnknownField(field, _) = &error.kind
        && path.last() != Some(field)
    {
        path.push(field.clone());
    }
    path
}

/// Takes the key at `path` out of `dict`; a list goes as a whole.
fn remove(dict: &mut Dict, path: &[String]) -> bool {
    match path {
        [] => false,
        [leaf] => dict.remove(leaf).is_some(),
        [head, rest @ ..] => match dict.get_mut(head) {
            Some(Value::Dict(_, inner)) => remove(inner, rest),
            Some(_) => dict.remove(head).is_some(),
            None => false,
        },
    }
}

/// figment's errors in our words, keyed by the config key they concern.
fn convert(error: figment::Error, prefix: &str, figment: &Figment) -> Vec<ConfigError> {
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
            let mut error = ConfigError::new(key, message);
            annotate_origin(&mut error, figment);
            error
        })
        .collect()
}

/// The TOML parser's message without its source snippet, on one line, since
/// `ConfigErrors` prints one line per problem.
fn one_line(message: &str) -> String {
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

fn join_key(prefix: &str, path: &[String]) -> String {
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
pub(super) fn annotate_origin(error: &mut ConfigError, figment: &Figment) {
    // `sites[1].location` → `sites`; `sync.retry_schedule[2]` → `sync.retry_schedule`.
    let lookup = error.key.split('[').next().unwrap_or_default();
    if lookup.is_empty() {
        return;
    }
    let from_env = figment
        .find_metadata(lookup)
        .is_some_and(|m| m.name == ENV_LAYER);
    if from_env {
        error
            .message
            .push_str(&format!(" (set by {})", env_var_name(lookup)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_messages_are_flattened_to_one_line() {
        let toml_error = "TOML parse error at line 1, column 8\n  |\n1 | [server\n  |        ^\ninvalid table header\nexpected `.`, `]`\n";
        assert_eq!(
            one_line(toml_error),
            "TOML parse error at line 1, column 8; invalid table header; expected `.`, `]`"
        );
    }
}
