//! Secrets given inline or through a `<key>_file` (Docker/Kubernetes secrets
//! are mounted as files, so the value never sits in the environment).

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use figment::value::{Dict, Value};

use super::env_names::env_var_name;
use super::error::Problems;
use super::text::{SecretText, Text, text};

/// Secret keys of the typed sections, each of which may instead be given as
/// `<key>_file`.
const SECRET_KEYS: &[&str] = &[
    "database.url",
    "staff.token",
    "sentry.dsn",
    "alerts.webhook_url",
    "alerts.smtp_url",
    "spam.token_secret",
    "carehq.api_key",
    "carehq.api_secret",
];

/// In a typed section's table, replaces each `<secret>_file` with the file's
/// contents under `<secret>`, so the section reads a plain `SecretString`.
/// Problems are keyed as `resolve`'s; both set drops both.
pub(super) fn inline_files(section: &str, dict: &mut Dict, problems: &mut Problems) {
    let keys = SECRET_KEYS
        .iter()
        .filter_map(|k| k.strip_prefix(section)?.strip_prefix('.'));
    for key in keys {
        let full = format!("{section}.{key}");
        let Some(file) = dict.remove(&format!("{key}_file")) else {
            continue;
        };
        if dict.remove(key).is_some() {
            problems.push(&full, both_set(&full));
        } else if let Value::String(_, path) = file {
            let secret = read_secret_file(&format!("{full}_file"), Path::new(&path), problems);
            if let Some(secret) = secret {
                dict.insert(
                    key.to_owned(),
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

fn both_set(key: &str) -> String {
    format!("both {key} and {key}_file are set; keep one (the file is meant for Docker secrets)")
}

/// Resolves `key` from its inline value or its `_file` companion.
/// Blank inline values count as unset; both set is a problem, because which
/// one wins would be a guess. A problem is recorded and `None` returned when
/// the file cannot be used.
pub(super) fn resolve(
    key: &str,
    inline: Option<SecretText>,
    file: &Option<Text>,
    problems: &mut Problems,
) -> Option<SecretString> {
    let inline = inline
        .map(|s| s.0)
        .filter(|s| !s.expose_secret().trim().is_empty());
    let file_key = format!("{key}_file");
    match (inline, text(file)) {
        (Some(_), Some(_)) => {
            problems.push(key, both_set(key));
            None
        }
        (Some(value), None) => Some(value),
        (None, Some(path)) => read_secret_file(&file_key, Path::new(path), problems),
        (None, None) => None,
    }
}

/// Reads the whole file and strips one trailing newline, which editors and
/// `echo` add but which is never part of a key.
fn read_secret_file(file_key: &str, path: &Path, problems: &mut Problems) -> Option<SecretString> {
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
    if contents.ends_with('\n') {
        contents.pop();
        if contents.ends_with('\r') {
            contents.pop();
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(contents: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), contents).unwrap();
        file
    }

    fn path_text(file: &tempfile::NamedTempFile) -> Option<Text> {
        Some(Text(file.path().to_string_lossy().into_owned()))
    }

    #[test]
    fn reads_a_file_and_strips_one_trailing_newline() {
        let file = file_with("s3cret\n\n");
        let mut problems = Problems::default();
        let secret = resolve("carehq.api_secret", None, &path_text(&file), &mut problems).unwrap();
        assert_eq!(secret.expose_secret(), "s3cret\n");
        assert!(problems.is_empty());

        let file = file_with("s3cret\r\n");
        let secret = resolve("carehq.api_secret", None, &path_text(&file), &mut problems).unwrap();
        assert_eq!(secret.expose_secret(), "s3cret");
    }

    #[test]
    fn both_inline_and_file_is_a_problem() {
        let file = file_with("from-file");
        let mut problems = Problems::default();
        let inline = Some(SecretText(SecretString::from("inline")));
        let got = resolve("staff.token", inline, &path_text(&file), &mut problems);
        assert!(got.is_none());
        let errors = problems.into_errors();
        let error = errors.get("staff.token").unwrap();
        assert!(error.message.contains("staff.token_file"), "{error}");
        assert!(!error.message.contains("inline") && !error.message.contains("from-file"));
    }

    #[test]
    fn a_missing_or_empty_file_is_named() {
        let mut problems = Problems::default();
        let missing = Some(Text("/nonexistent/relay-secret".into()));
        assert!(resolve("captcha.secret", None, &missing, &mut problems).is_none());
        let empty = file_with("\n");
        assert!(resolve("captcha.secret", None, &path_text(&empty), &mut problems).is_none());
        let errors = problems.into_errors();
        assert_eq!(errors.0.len(), 2);
        assert!(errors.0[0].message.contains("/nonexistent/relay-secret"));
        assert_eq!(errors.0[1].key, "captcha.secret_file");
        assert!(errors.0[1].message.contains("is empty"));
    }

    #[test]
    fn blank_inline_counts_as_unset() {
        let mut problems = Problems::default();
        let blank = Some(SecretText(SecretString::from("  ")));
        assert!(resolve("carehq.api_key", blank, &None, &mut problems).is_none());
        assert!(problems.is_empty());
    }

    #[test]
    fn the_derived_token_key_is_stable_and_follows_the_carehq_secret() {
        let a = derive_time_token_key(&SecretString::from("a"));
        let b = derive_time_token_key(&SecretString::from("b"));
        assert_ne!(a.expose_secret(), b.expose_secret());
        // Pinned: databases created before keys were stored rely on it.
        assert_eq!(
            a.expose_secret(),
            "a1138b8cba5602102a745e0957f69ba3bad631611a91d966c8a242c3204d8728"
        );
    }
}
