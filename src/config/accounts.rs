//! `[[accounts]]`: the further CareHQ accounts one deployment delivers to (an
//! agency's care providers), and the rules tying sites to them. `[carehq]`
//! stays the default account, named [`DEFAULT_ACCOUNT`].

use secrecy::{ExposeSecret, SecretString};

use super::error::{Names, Problems, Refused};
use super::fields;
use super::sections::CareHqSettings;
use crate::values::{BaseUrl, Slug};

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

fields::section! {
    /// One `[[accounts]]` table as written.
    pub(super) struct AccountKeys {
        name: Option<String> ["fields::some_via::<_, Slug, _>"] = None,
        account_id: Option<String> ["fields::some"] = None,
        api_key: Option<SecretString> ["fields::some_secret"] = None,
        api_secret: Option<SecretString> ["fields::some_secret"] = None,
        base_url: Option<String> ["fields::some_via::<_, BaseUrl, _>"] = None,
        staff_token: Option<SecretString> ["super::secrets::staff_token"] = None,
    }
}

/// Checks every `[[accounts]]` entry (`(place in the file, keys)`) against
/// the sites that name them (`site_accounts`: each site's place in the file
/// and its `account`). `defaults`: `[carehq]`'s base URL and the
/// global `staff.token`.
pub(super) fn accounts(
    raw: Vec<(usize, AccountKeys)>,
    site_accounts: &[(usize, &str)],
    defaults: (&str, Option<&SecretString>),
    refused: &Refused,
    p: &mut Problems,
) -> Vec<AccountSettings> {
    let (default_base_url, global_token) = defaults;
    let mut accounts: Vec<(usize, AccountSettings)> = Vec::with_capacity(raw.len());
    let mut names = Names::new("accounts", "account name");
    for (i, keys) in raw {
        let key = |field: &str| format!("accounts[{i}].{field}");
        if let Some(name) = &keys.name {
            if name == DEFAULT_ACCOUNT {
                p.push(
                    key("name"),
                    format!("\"{DEFAULT_ACCOUNT}\" is the name of the [carehq] account; name this one after the provider, e.g. \"marshall-care\""),
                );
            }
            names.add(i, &key("name"), name, p);
        }
        #[rustfmt::skip]
        let required = [
            ("name", keys.name.is_some(), "name the account (sites refer to it by `account = \"…\"`), e.g. \"marshall-care\""),
            ("account_id", keys.account_id.is_some(), "set this provider's CareHQ account Id (CareHQ: Account > API keys)"),
            ("api_key", keys.api_key.is_some(), "set this website's CareHQ API key, or put it in a file named by api_key_file"),
            ("api_secret", keys.api_secret.is_some(), "set the API key's secret, or put it in a file named by api_secret_file"),
        ];
        for (field, set, hint) in required {
            p.require(refused, &key(field), set, hint);
        }
        let (Some(name), Some(account_id), Some(api_key), Some(api_secret)) =
            (keys.name, keys.account_id, keys.api_key, keys.api_secret)
        else {
            continue;
        };
        if !site_accounts.iter().any(|(_, account)| *account == name) {
            p.push(
                key("name"),
                format!("no site uses account \"{name}\"; set `account = \"{name}\"` on its [[sites]], or remove this account"),
            );
        }
        let base_url = keys.base_url.unwrap_or_else(|| default_base_url.to_owned());
        #[rustfmt::skip]
        let account = AccountSettings { name, base_url, account_id, api_key, api_secret, staff_token: keys.staff_token };
        accounts.push((i, account));
    }
    for (i, account) in site_accounts {
        if *account != DEFAULT_ACCOUNT && !names.contains(account) {
            let listed = [vec![DEFAULT_ACCOUNT], names.list()].concat().join(", ");
            p.push(
                format!("sites[{i}].account"),
                format!("no account is named \"{account}\"; add an [[accounts]] entry with that name, or use one of: {listed}"),
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
