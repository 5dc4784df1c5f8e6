//! `[[accounts]]`: the further CareHQ accounts one deployment delivers to (an
//! agency's care providers), and the rules tying sites to them. `[carehq]`
//! stays the default account, named [`DEFAULT_ACCOUNT`].

use secrecy::{ExposeSecret, SecretString};

use super::error::{Names, Problems, Refused};
use super::fields;
use super::sections::CareHqSettings;
use super::text::Table;
use crate::values::{BaseUrl, Slug};

/// The name of the `[carehq]` account, in `/status`, alerts and `--account`.
pub const DEFAULT_ACCOUNT: &str = "default";

fields::section! {
    /// One CareHQ account deliveries go to: `[carehq]` or an `[[accounts]]` entry.
    #[derive(Clone, Debug)]
    pub struct AccountSettings {
        /// `default` for `[carehq]`, else the entry's `name`.
        pub name: String ["fields::via::<_, Slug, _>"] = String::new()
            => required("name the account (sites refer to it by `account = \"…\"`), e.g. \"marshall-care\""),
        pub account_id: String ["fields::parsed"] = String::new()
            => required("set this provider's CareHQ account Id (CareHQ: Account > API keys)"),
        pub api_key: SecretString ["fields::secret"] = SecretString::from("")
            => required("set this website's CareHQ API key, or put it in a file named by api_key_file"),
        pub api_secret: SecretString ["fields::secret"] = SecretString::from("")
            => required("set the API key's secret, or put it in a file named by api_secret_file"),
        /// Without a trailing `/`; the client appends `/v1/…`. `[carehq]`'s when unset.
        pub base_url: String ["fields::via::<_, BaseUrl, _>"] = String::new(),
        /// This provider's staff token: it sees only this account's sites.
        pub staff_token: Option<SecretString> ["super::secrets::staff_token"] = None,
    }
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

/// Checks every `[[accounts]]` entry (`(place in the file, keys)`) against
/// the sites that name them (`site_accounts`: each site's place in the file
/// and its `account`). `defaults`: `[carehq]`'s base URL and the
/// global `staff.token`.
pub(super) fn accounts(
    raw: Vec<(usize, AccountSettings)>,
    site_accounts: &[(usize, &str)],
    defaults: (&str, Option<&SecretString>),
    refused: &Refused,
    p: &mut Problems,
) -> Vec<AccountSettings> {
    let (default_base_url, global_token) = defaults;
    let mut accounts: Vec<(usize, AccountSettings)> = Vec::with_capacity(raw.len());
    let mut names = Names::new("accounts", "account name");
    for (i, mut account) in raw {
        let key = |field: &str| format!("accounts[{i}].{field}");
        let name = account.name.clone();
        if !name.is_empty() {
            if name == DEFAULT_ACCOUNT {
                p.push(
                    key("name"),
                    format!("\"{DEFAULT_ACCOUNT}\" is the name of the [carehq] account; name this one after the provider, e.g. \"marshall-care\""),
                );
            }
            names.add(i, &key("name"), &name, p);
        }
        // Without its required keys there is no account to check further.
        if (AccountSettings::REQUIRED.iter()).any(|(field, _)| refused.any(&key(field))) {
            continue;
        }
        if !site_accounts.iter().any(|(_, used)| *used == name) {
            p.push(
                key("name"),
                format!("no site uses account \"{name}\"; set `account = \"{name}\"` on its [[sites]], or remove this account"),
            );
        }
        if account.base_url.is_empty() {
            account.base_url = default_base_url.to_owned();
        }
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
