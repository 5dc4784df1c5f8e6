//! Where the configuration comes from: which file (or the built-in sandbox
//! defaults) and the `ENQUIRY_RELAY_*` environment on top. `extract` reads
//! the result.

use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::env_names::{CONFIG_ENV, ENV_PREFIX, LOG_FORMAT_ENV, env_var_name};
use super::error::ConfigErrors;
use super::{ConfigSource, sandbox_defaults};

/// `ENQUIRY_RELAY_*` variables that are not config keys. Any other variable
/// with the prefix is read as a key, and refused as unknown if it is not one,
/// so a typo in a deployment's environment is named rather than ignored.
const NOT_KEYS: &[&str] = &[CONFIG_ENV, LOG_FORMAT_ENV];

/// Name given to the environment layer, to tell its values apart.
pub(super) const ENV_LAYER: &str = "ENQUIRY_RELAY_* environment variables";

/// Keys whose environment value may be written as a TOML-like array
/// (`["10s", "1m"]`) or, for `sites`, an array of tables. Every other value is
/// kept as the exact string, so a secret that starts with `[` stays intact.
const STRUCTURED_KEYS: &[&str] = &[
    "trusted_proxies",
    "retry_schedule",
    "allowed_origins",
    "services",
    "sites",
];

/// `--config`, else `$ENQUIRY_RELAY_CONFIG`, else `default_file` if it
/// exists, else the built-in sandbox. A path that was asked for by name but
/// does not exist is an error: silently falling back would run the sandbox
/// where the operator expected production.
pub(super) fn locate(
    explicit: Option<&Path>,
    from_env: Option<PathBuf>,
    default_file: &Path,
) -> Result<ConfigSource, ConfigErrors> {
    let named = explicit
        .map(|p| ("--config", p.to_path_buf()))
        .or_else(|| from_env.map(|p| (CONFIG_ENV, p)));
    if let Some((origin, path)) = named {
        return if path.is_file() {
            Ok(ConfigSource::File(path))
        } else {
            Err(ConfigErrors::single(
                origin,
                format!(
                    "config file {} does not exist or is not a file; check the path (relative paths start from {})",
                    path.display(),
                    std::env::current_dir()
                        .map(|d| d.display().to_string())
                        .unwrap_or_else(|_| "the working directory".into()),
                ),
            ))
        };
    }
    if default_file.is_file() {
        Ok(ConfigSource::File(default_file.to_path_buf()))
    } else {
        Ok(ConfigSource::BuiltInSandbox)
    }
}

/// A config file, which must exist: a missing file is reported by figment.
pub(super) fn file_layer(path: &Path) -> Figment {
    Figment::from(Toml::file_exact(path))
}

/// The built-in sandbox defaults, used when there is no file at all.
pub(super) fn sandbox_layer() -> Figment {
    Figment::from(Toml::string(&sandbox_defaults::toml()))
}

/// TOML given as text (tests, `check`).
pub(super) fn text_layer(toml: &str) -> Figment {
    Figment::from(Toml::string(toml))
}

/// `base` with the `ENQUIRY_RELAY_*` environment merged over it.
pub(super) fn with_env(base: Figment) -> Figment {
    base.merge(EnvLayer)
}

/// The `ENQUIRY_RELAY_*` variables as a figment layer: prefix removed,
/// sections split on `__`, keys lower-cased, values kept as strings.
/// figment's own `Env` parses values, turning an API key of digits into a
/// number and an Id like `000000000000000000000001` into `1`; ours does not.
struct EnvLayer;

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENV_LAYER)
            .interpolater(|_: &Profile, keys: &[&str]| env_var_name(&keys.join(".")))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut root = Dict::new();
        for (name, value) in std::env::vars_os() {
            let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
                continue;
            };
            let head = name.get(..ENV_PREFIX.len());
            let Some(rest) = (head.filter(|h| h.eq_ignore_ascii_case(ENV_PREFIX)))
                .and_then(|_| name.get(ENV_PREFIX.len()..))
            else {
                continue;
            };
            // Blank means unset (`FOO=` in a compose file), as for every key.
            if value.trim().is_empty() {
                continue;
            }
            if NOT_KEYS.iter().any(|n| name.eq_ignore_ascii_case(n)) {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            if path.iter().any(String::is_empty) {
                continue;
            }
            let leaf = path.last().map(String::as_str).unwrap_or_default();
            let trimmed = value.trim_start();
            let parsed = if STRUCTURED_KEYS.contains(&leaf) && trimmed.starts_with(['[', '{']) {
                value
                    .parse::<Value>()
                    .unwrap_or_else(|never| match never {})
            } else {
                Value::from(value.to_owned())
            };
            insert_path(&mut root, &path, parsed);
        }
        Ok(Profile::Default.collect(root))
    }
}

fn insert_path(dict: &mut Dict, path: &[String], value: Value) {
    match path {
        [] => {}
        [leaf] => {
            dict.insert(leaf.clone(), value);
        }
        [head, rest @ ..] => {
            let entry = dict
                .entry(head.clone())
                .or_insert_with(|| Value::from(Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}
