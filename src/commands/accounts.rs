//! `--account NAME`: which CareHQ accounts a command works on (all of them
//! when it is not given, each labelled), and how to label one.

use crate::config::{AccountSettings, DEFAULT_ACCOUNT, Settings};

/// The accounts `name` selects: that one, or every account.
pub(super) fn selected<'a>(
    settings: &'a Settings,
    name: Option<&str>,
) -> anyhow::Result<Vec<&'a AccountSettings>> {
    let Some(name) = name else {
        return Ok(settings.accounts.iter().collect());
    };
    match settings.account(name) {
        Some(account) => Ok(vec![account]),
        None => {
            let known: Vec<&str> = settings.accounts.iter().map(|a| a.name.as_str()).collect();
            Err(UsageError(format!(
                "no CareHQ account is named \"{name}\"; use one of: {} (\"{DEFAULT_ACCOUNT}\" is [carehq])",
                known.join(", ")
            ))
            .into())
        }
    }
}

/// A command line naming something that is not there: exit code 2, as for
/// other bad arguments.
#[derive(Debug)]
pub(super) struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Where an account's credentials are set, for messages: `carehq.` or the
/// `[[accounts]]` entry.
pub(super) fn keys_of(account: &AccountSettings) -> String {
    match account.name.as_str() {
        DEFAULT_ACCOUNT => "carehq.account_id, carehq.api_key and carehq.api_secret".to_owned(),
        name => {
            format!("account_id, api_key and api_secret of the [[accounts]] entry named \"{name}\"")
        }
    }
}
