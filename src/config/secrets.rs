//! Secrets given inline or through a `<key>_file` (Docker/Kubernetes secrets
//! are mounted as files, so the value never sits in the environment), the
//! parsers of secret values (checked without echoing them), and the derived
//! time token key.

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use figment::value::{Dict, Value};

use serde::de::{Deserializer, Error};

use super::env_names::env_var_name;
use super::error::Problems;
use super::fields;

/// Keys that hold a secret, each of which may instead be given as
/// `<key>_file`; `[]` stands for any entry of a list of tables.
const SECRET_KEYS: &[&str] = &[
    "database.url",
    "staff.token",
    "sentry.dsn",
    "alerts.webhook_url",
    "alerts.smtp_url",
    "spam.token_secret",
    "carehq.api_key",
    "carehq.api_secret",
    "captcha.secret",
    "sites[].captcha.secret",
    "sites[].partners.helparound.token",
    "sites[].partners.helparound.signing_secret",
    "accounts[].api_key",
    "accounts[].api_secret",
    "accounts[].staff_token",
    "destinations[].client_secret",
];

/// In a section's (or a site's) table, keys starting with `prefix`,
/// replaces each `<secret>_file` with the file's contents under `<secret>`,
/// so the table reads a plain `SecretString`. Both set drops both: which one
/// wins would be a guess.
pub(super) fn inline_files(prefix: &str, dict: &mut Dict, problems: &mut Problems) {
    // `sites[2]` → `sites[]`.
    let table = match prefix.split_once('[') {
        Some((list, _)) => format!("{list}[]."),
        None => format!("{prefix}."),
    };
    let keys = SECRET_KEYS.iter().filter_map(|k| k.strip_prefix(&table));
    for key in keys {
        // The table holding the key, however deep (`partners.helparound.token`).
        let (path, leaf) = key.rsplit_once('.').unwrap_or(("", key));
        let Some(table) = table_at(dict, path) else {
            continue;
        };
        let full = format!("{prefix}.{key}");
        let Some(file) = table.remove(&format!("{leaf}_file")) else {
            continue;
        };
        if table.remove(leaf).is_some() {
            problems.push(
                &full,
                format!("both {full} and {full}_file are set; keep one (the file is meant for Docker secrets)"),
            );
        } else if let Value::String(_, path) = file {
            if let Some(secret) =
                read_secret_file(&format!("{full}_file"), Path::new(&path), problems)
            {
                table.insert(
                    leaf.to_owned(),
                    Value::from(secret.expose_secret().to_owned()),
                );
            }
        } else {
            problems.push(
                format!("{full}_file"),
                "expected the path of a file holding the secret",
            );
        }
    }
}

/// The table at a dotted `path` inside `dict` (`""` is `dict` itself).
fn table_at<'a>(dict: &'a mut Dict, path: &str) -> Option<&'a mut Dict> {
    if path.is_empty() {
        return Some(dict);
    }
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    match dict.get_mut(head) {
        Some(Value::Dict(_, inner)) => table_at(inner, rest),
        _ => None,
    }
}

/// Reads the whole file and strips one trailing newline, which editors and
/// `echo` add but which is never part of a key.
pub(super) fn read_secret_file(
    file_key: &str,
    path: &Path,
    problems: &mut Problems,
) -> Option<SecretString> {
    let mut contents = match std::fs::read_to_string(path) {
        Ok(contents) => contents,
        Err(err) => {
            problems.push(
                file_key,
                format!(
                    "cannot read {}: {err}; check the path and that this user may read it",
                    path.display()
                ),
            );
            return None;
        }
    };
    let line = contents
        .strip_suffix('\n')
        .map(|c| c.strip_suffix('\r').unwrap_or(c));
    contents.truncate(line.map_or(contents.len(), str::len));
    let secret = SecretString::from(contents);
    if secret.expose_secret().trim().is_empty() {
        problems.push(
            file_key,
            format!("{} is empty; put the secret in it", path.display()),
        );
        return None;
    }
    Some(secret)
}

/// The sentence telling an operator every way to provide a secret `key`.
pub(super) fn how_to_set(key: &str) -> String {
    format!(
        "set {key} in the config file, or the environment variable {}, or put it in a file named by {key}_file / {}",
        env_var_name(key),
        env_var_name(&format!("{key}_file")),
    )
}

/// The time token key a database without one starts with when
/// `spam.token_secret` is unset: derived from the CareHQ secret, as every key
/// was before keys were stored, so forms open across the upgrade stay valid.
/// Once stored it no longer follows the CareHQ secret.
pub fn derive_time_token_key(carehq_api_secret: &SecretString) -> SecretString {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(carehq_api_secret.expose_secret().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"enquiry-relay time token v1");
    SecretString::from(hex::encode(mac.finalize().into_bytes()))
}

/// A secret that `check` accepts, kept; its message never echoes the value.
type Checked<E> = Result<Option<SecretString>, E>;

fn checked<'de, D: Deserializer<'de>>(
    d: D,
    check: fn(&str) -> Option<String>,
) -> Checked<D::Error> {
    let secret: SecretString = fields::secret(d)?;
    match check(secret.expose_secret()) {
        Some(problem) => Err(D::Error::custom(problem)),
        None => Ok(Some(secret)),
    }
}

/// A staff token, long enough that guessing it from many addresses is
/// hopeless (wrong tokens are throttled per address). Only its length is shown.
pub(super) fn staff_token<'de, D: Deserializer<'de>>(d: D) -> Checked<D::Error> {
    const MIN_CHARS: usize = 32;
    checked(d, |token| {
        let n = token.chars().count();
        (n < MIN_CHARS).then(|| format!("is {n} characters long; use at least {MIN_CHARS} random characters so it cannot be guessed, e.g. the output of `openssl rand -hex 32` (64 characters)"))
    })
}

/// A Sentry DSN, checked so a typo stops start-up instead of silently
/// reporting nothing.
pub(super) fn sentry_dsn<'de, D: Deserializer<'de>>(d: D) -> Checked<D::Error> {
    checked(d, |dsn| {
        let bad = dsn.parse::<::sentry::types::Dsn>().is_err();
        bad.then(|| "is not a Sentry DSN (value hidden: it is a secret); copy it from the project's Client Keys page, e.g. \"https://<key>@o123.ingest.sentry.io/456\"".into())
    })
}

/// An http(s) URL kept secret (chat webhooks carry their token in it).
pub(super) fn secret_http_url<'de, D: Deserializer<'de>>(d: D) -> Checked<D::Error> {
    checked(d, |url| {
        let http = reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        (!http).then(|| "is not an http(s) URL (value hidden: it is a secret); expected e.g. \"https://hooks.example.com/services/…\"".into())
    })
}
