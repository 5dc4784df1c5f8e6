//! The sections read from the layered figment, with structural problems
//! (unknown keys, a table where a value belongs, a value serde refuses)
//! turned into `ConfigError`s that name the key and where it was set.

use figment::Figment;
use figment::value::{Dict, Value};
use serde::de::DeserializeOwned;

use super::Settings;
use super::error::{ConfigError, ConfigErrors, Problems, Refused};
use super::figment_errors::{annotate_origin, convert, join_key};
use super::secrets;
use super::text::Table;

/// The sections there are: any other top-level key is refused by name, so
/// a misspelt section is not silently ignored. Each section is read on its
/// own, so a mistake in one does not hide mistakes in another.
const SECTIONS: &str = "server database carehq accounts destinations sync staff captcha spam rate_limit sites \
                        status metrics retention alerts sentry log";

/// The sections as read plus the structural problems met while reading them.
#[derive(Default)]
pub(super) struct Extracted {
    /// Every section as read: what `validate` checks and completes.
    pub settings: Settings,
    /// The place in the file of each list entry read.
    pub places: Places,
    /// Keys that were refused or are missing (they hold their defaults).
    pub refused: Refused,
    pub problems: Problems,
    /// Key prefixes (`carehq`, `sites[1]`) whose content could not be read:
    /// they hold defaults, so validation problems under them are not real.
    pub unreadable: Vec<String>,
}

impl Extracted {
    /// A part that is not the shape it should be: named, and left unread.
    fn misshapen(&mut self, key: &str, message: String) {
        self.problems.push(key, message);
        self.unreadable.push(key.to_owned());
    }
}

/// Where each `[[sites]]`, `[[accounts]]` and `[[destinations]]` entry that
/// was read stands in the file, so problems name the right one.
#[derive(Default)]
pub(super) struct Places {
    pub sites: Vec<usize>,
    pub accounts: Vec<usize>,
    pub destinations: Vec<usize>,
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
    let mut out = Extracted::default();
    let sections: Vec<&str> = SECTIONS.split_whitespace().collect();
    for name in root.keys().filter(|k| !sections.contains(&k.as_str())) {
        let expected = sections.join(", ");
        let message = format!("unknown key; check the spelling (expected one of: {expected})");
        (out.problems.0).push(annotate_origin(ConfigError::new(name, message), figment));
    }
    macro_rules! read_sections {
        ($($name:ident),*) => {$(
            out.settings.$name = typed(&root, stringify!($name), figment, &mut out);
        )*};
    }
    read_sections!(
        server, database, carehq, sync, staff, captcha, spam, rate_limit, status, metrics,
        retention, alerts, sentry, log
    );
    let accounts = tables(&root, "accounts", figment, &mut out, |_| {});
    (out.places.accounts, out.settings.accounts) = accounts.into_iter().unzip();
    let destinations = tables(&root, "destinations", figment, &mut out, |_| {});
    (out.places.destinations, out.settings.destinations) = destinations.into_iter().unzip();
    let global_captcha = super::captcha::global_table(&root);
    let sites = tables(&root, "sites", figment, &mut out, |site| {
        if let Some(Value::Dict(_, own)) = site.get("captcha") {
            let merged = super::captcha::over(own, &global_captcha);
            site.insert("captcha".to_owned(), Value::from(merged));
        }
    });
    (out.places.sites, out.settings.sites) = sites.into_iter().unzip();
    Ok(out)
}

/// Each readable `[[name]]` table with its place in the file, after
/// `prepare` (for a site: its `[sites.captcha]` laid over `[captcha]`).
fn tables<T: DeserializeOwned + Table>(
    root: &Dict,
    name: &str,
    figment: &Figment,
    out: &mut Extracted,
    prepare: impl Fn(&mut Dict),
) -> Vec<(usize, T)> {
    let items = match root.get(name) {
        None => return Vec::new(),
        Some(Value::Array(_, items)) => items,
        Some(_) => {
            let message = format!(
                "expected a list of [[{name}]] tables; write each as its own [[{name}]] block"
            );
            out.misshapen(name, message);
            return Vec::new();
        }
    };
    let mut read_ones = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("{name}[{i}]");
        let Value::Dict(_, mut table) = item.clone() else {
            let message = format!("expected a [[{name}]] table of keys, not a single value");
            out.misshapen(&prefix, message);
            continue;
        };
        prepare(&mut table);
        if let Some(keys) = read(table, &prefix, figment, out) {
            read_ones.push((i, keys));
        }
    }
    read_ones
}

/// A typed section, or `T::default()` when it is not there or unreadable.
fn typed<T: DeserializeOwned + Default + Table>(
    root: &Dict,
    name: &str,
    figment: &Figment,
    out: &mut Extracted,
) -> T {
    match root.get(name) {
        None => T::default(),
        Some(Value::Dict(_, dict)) => read(dict.clone(), name, figment, out).unwrap_or_default(),
        Some(_) => {
            let message = format!("expected a [{name}] table of keys, not a single value");
            out.misshapen(name, message);
            T::default()
        }
    }
}

/// One table (a section, or a site, keys starting with `prefix`): each key
/// serde refuses is reported, taken out and the rest read again, so one run
/// names every bad key; then each required key that is unset. Blank strings
/// count as unset, as for the environment. `None` when nothing could be
/// read (`prefix` is then unreadable).
fn read<T: DeserializeOwned + Table>(
    mut dict: Dict,
    prefix: &str,
    figment: &Figment,
    out: &mut Extracted,
) -> Option<T> {
    drop_blanks(&mut dict);
    let mut files = Problems::default();
    secrets::inline_files(prefix, &mut dict, &mut files);
    (out.problems.0).extend(files.0.into_iter().map(|e| annotate_origin(e, figment)));
    loop {
        let error = match Value::from(dict.clone()).deserialize::<T>() {
            Ok(value) => {
                missing(&dict, T::REQUIRED, prefix, figment, out);
                return Some(value);
            }
            Err(error) => error,
        };
        let mut removed = false;
        for e in error.clone() {
            let path = bad_path(&e);
            let key = join_key(prefix, &path);
            if matches!(e.kind, figment::error::Kind::UnknownField(..)) {
                out.refused.unknown.push(key.clone());
            }
            out.refused.bad.push(key);
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

/// A required key that is unset: "missing; {hint}", unless its value was
/// refused (that problem is reported already) or a key of its table is
/// unknown (a misspelling of it: only the misspelling is named). Either way
/// it holds a placeholder, so it counts as refused for the rules after.
fn missing(
    dict: &Dict,
    required: &[(&str, &str)],
    prefix: &str,
    figment: &Figment,
    out: &mut Extracted,
) {
    let refused = &mut out.refused;
    for (field, hint) in required.iter().filter(|(f, _)| !dict.contains_key(*f)) {
        let key = format!("{prefix}.{field}");
        if !refused.any(&key) && !refused.misspelt(prefix) {
            let error = ConfigError::new(&key, format!("missing; {hint}"));
            out.problems.0.push(annotate_origin(error, figment));
        }
        refused.bad.push(key);
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
