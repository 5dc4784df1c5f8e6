//! `[[accounts]]`: the further CareHQ accounts one deployment delivers to (an
//! agency's care providers), and the rules tying sites to them. `[carehq]`
//! stays the default account, named [`DEFAULT_ACCOUNT`].

use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::error::Problems;
use super::fields;
use super::sections::CareHqSettings;

/// The name of the `[carehq]` account, in `/status`, alerts and `--account`.
pub const DEFAULT_ACCOUNT: &str = "default";

/// One CareHQ account deliveries go to: `[carehq]` or an `[[accounts]]` entry.
#[derive(Clone, Debug)]
pub struct AccountSettings {
    /// `default` for `[carehq]`, else the entry's `name`.
    pub name: String,
    /// Without a trailing `/`; the client appends `/v1/…`.
    pub base_url: String,
    pub account_id: String,
    pub api_key: SecretString,
    pub api_secret: SecretString,
    /// This provider's staff token: it sees only this account's sites.
    pub staff_token: Option<SecretString>,
}

impl AccountSettings {
    /// The default account, from `[carehq]`.
    pub fn from_carehq(carehq: &CareHqSettings) -> AccountSettings {
        AccountSettings {
            name: DEFAULT_ACCOUNT.to_owned(),
            base_url: carehq.base_url.clone(),
            account_id: carehq.account_id.clone(),
            api_key: carehq.api_key.clone(),
            api_secret: carehq.api_secret.clone(),
            staff_token: None,
        }
    }
}

/// One `[[accounts]]` table as written.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct AccountKeys {
    #[serde(deserialize_with = "fields::some")]
    name: Option<AccountName>,
    #[serde(deserialize_with = "fields::some")]
    account_id: Option<String>,
    #[serde(deserialize_with = "fields::some_secret")]
    api_key: Option<SecretString>,
    #[serde(deserialize_with = "fields::some_secret")]
    api_secret: Option<SecretString>,
    #[serde(deserialize_with = "fields::some_carehq_url")]
    base_url: Option<String>,
    #[serde(deserialize_with = "super::secrets::staff_token")]
    staff_token: Option<SecretString>,
}

/// Checks every `[[accounts]]` entry (`(place in the file, keys)`) against
/// the sites that name them (`site_accounts`: each site's place in the file
/// and its `account`). `defaults`: `[carehq]`'s base URL and the
/// global `staff.token`.
pub(super) fn accounts(
    raw: Vec<(usize, AccountKeys)>,
    site_accounts: &[(usize, &str)],
    defaults: (&str, Option<&SecretString>),
    bad_keys: &[String],
    p: &mut Problems,
) -> Vec<AccountSettings> {
    let (default_base_url, global_token) = defaults;
    let mut accounts: Vec<(usize, AccountSettings)> = Vec::with_capacity(raw.len());
    let mut names: Vec<(String, usize)> = Vec::new();
    for (i, keys) in raw {
        let key = |field: &str| format!("accounts[{i}].{field}");
        let refused = |field: &str| bad_keys.iter().any(|k| k.starts_with(&key(field)));
        if let Some(name) = &keys.name {
            if let Some((_, first)) = names.iter().find(|(n, _)| *n == name.0) {
                p.push(
                    key("name"),
                    format!(
                        "duplicate account name \"{}\" (also used by accounts[{first}]); give each account its own name",
                        name.0
                    ),
                );
            }
            names.push((name.0.clone(), i));
        }
        let mut missing = |field: &str, set: bool, hint: &str| {
            if !set && !refused(field) {
                p.push(key(field), format!("missing; {hint}"));
            }
        };
        missing(
            "name",
            keys.name.is_some(),
            "name the account (sites refer to it by `account = \"…\"`), e.g. \"marshall-care\"",
        );
        missing(
            "account_id",
            keys.account_id.is_some(),
            "set this provider's CareHQ account Id (CareHQ: Account > API keys)",
        );
        missing(
            "api_key",
            keys.api_key.is_some(),
            "set this website's CareHQ API key, or put it in a file named by api_key_file",
        );
        missing(
            "api_secret",
            keys.api_secret.is_some(),
            "set the API key's secret, or put it in a file named by api_secret_file",
        );
        let (Some(name), Some(account_id), Some(api_key), Some(api_secret)) =
            (keys.name, keys.account_id, keys.api_key, keys.api_secret)
        else {
            continue;
        };
        if !site_accounts.iter().any(|(_, account)| *account == name.0) {
            p.push(
                key("name"),
                format!(
                    "no site uses account \"{}\"; set `account = \"{}\"` on its [[sites]], or remove this account",
                    name.0, name.0
                ),
            );
        }
        accounts.push((
            i,
            AccountSettings {
                name: name.0,
                base_url: keys.base_url.unwrap_or_else(|| default_base_url.to_owned()),
                account_id,
                api_key,
                api_secret,
                staff_token: keys.staff_token,
            },
        ));
    }
    let known = |name: &str| name == DEFAULT_ACCOUNT || names.iter().any(|(n, _)| n == name);
    for (i, account) in site_accounts {
        if !known(account) {
            let listed: Vec<&str> = std::iter::once(DEFAULT_ACCOUNT)
                .chain(names.iter().map(|(n, _)| n.as_str()))
                .collect();
            p.push(
                format!("sites[{i}].account"),
                format!(
                    "no account is named \"{}\"; add an [[accounts]] entry with that name, or use one of: {}",
                    account,
                    listed.join(", ")
                ),
            );
        }
    }
    tokens_distinct(global_token, &accounts, p);
    accounts.into_iter().map(|(_, account)| account).collect()
}

/// A staff token shared by two accounts would show one provider's homes to
/// the other: refused by key, without echoing either token.
fn tokens_distinct(
    global: Option<&SecretString>,
    accounts: &[(usize, AccountSettings)],
    p: &mut Problems,
) {
    let mut seen: Vec<(String, &SecretString)> = Vec::new();
    if let Some(global) = global {
        seen.push(("staff.token".to_owned(), global));
    }
    for (i, account) in accounts {
        let Some(token) = &account.staff_token else {
            continue;
        };
        if let Some((other, _)) = seen
            .iter()
            .find(|(_, t)| t.expose_secret() == token.expose_secret())
        {
            p.push(
                format!("accounts[{i}].staff_token"),
                format!("is the same as {other}; give each account its own token (e.g. `openssl rand -hex 32`)"),
            );
        }
        seen.push((format!("accounts[{i}].staff_token"), token));
    }
}

/// An account's name: lower-case letters, digits and hyphens, as slugs;
/// `default` is `[carehq]`'s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct AccountName(pub String);

impl FromStr for AccountName {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let valid = (1..=64).contains(&text.len())
            && (text.bytes()).all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(format!(
                "\"{text}\" is not a valid name; use 1 to 64 lower-case letters, digits and hyphens, e.g. \"marshall-care\""
            ));
        }
        if text == DEFAULT_ACCOUNT {
            return Err(format!(
                "\"{DEFAULT_ACCOUNT}\" is the name of the [carehq] account; name this one after the provider, e.g. \"marshall-care\""
            ));
        }
        Ok(Self(text.to_owned()))
    }
}
