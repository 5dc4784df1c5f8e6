//! `carehq locations|groups [--toml]`: what the CareHQ account has, so staff
//! can fill in `[[sites]]` without copying Ids from CareHQ's screens.

use std::process::ExitCode;

use serde_json::Value;

use super::accounts::{keys_of, selected};
use super::table::render;
use crate::carehq::CareHqClient;
use crate::cli::CarehqCommand;
use crate::config::{AccountSettings, DEFAULT_ACCOUNT, Settings};
use crate::startup::client_settings;

pub async fn run(
    settings: &Settings,
    account: Option<&str>,
    action: CarehqCommand,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        !settings.sandbox_mode(),
        "this asks a real CareHQ account: set carehq.base_url, account_id, api_key and api_secret (sandbox mode has none)"
    );
    let accounts = selected(settings, account)?;
    let labelled = accounts.len() > 1;
    for account in accounts {
        if labelled {
            match action.toml() {
                true => println!("# account {}", account.name),
                false => println!("account {}:", account.name),
            }
        }
        let client = CareHqClient::new(client_settings(settings, account, settings.server.listen))?;
        list_one(&client, account, &action).await.map_err(|e| {
            e.context(format!(
                "CareHQ did not list them for account {}: check {}",
                account.name,
                keys_of(account)
            ))
        })?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One account's locations or groups, as a table or TOML.
async fn list_one(
    client: &CareHqClient,
    account: &AccountSettings,
    action: &CarehqCommand,
) -> anyhow::Result<()> {
    match action {
        CarehqCommand::Locations { toml } => {
            let items = list(client, "locations", &[], &["name"]).await?;
            if *toml {
                // Sites of a further account name it.
                let account_line = match account.name.as_str() {
                    DEFAULT_ACCOUNT => String::new(),
                    name => format!("account = \"{name}\"\n"),
                };
                for item in &items {
                    println!(
                        "[[sites]]\nslug = \"{}\"\nname = {}\nlocation = \"{}\"\n{account_line}",
                        slug(text(item, "name")),
                        quoted(text(item, "name")),
                        text(item, "_id")
                    );
                }
            } else {
                let rows = items
                    .iter()
                    .map(|i| vec![text(i, "_id").to_owned(), text(i, "name").to_owned()])
                    .collect::<Vec<_>>();
                print!("{}", render(&["ID", "NAME"], &rows));
            }
        }
        CarehqCommand::Groups { group_type, toml } => {
            let types: Vec<&str> = match group_type.as_deref() {
                Some(t) => vec![t],
                None => vec!["referrer", "sales_channel"],
            };
            let filters: Vec<(&str, &str)> =
                types.iter().map(|t| ("filters-group_type", *t)).collect();
            let items = list(client, "groups", &filters, &["name", "group_type"]).await?;
            if *toml {
                for item in &items {
                    println!(
                        "{} = \"{}\"  # {}",
                        text(item, "group_type"),
                        text(item, "_id"),
                        text(item, "name")
                    );
                }
            } else {
                let rows = items
                    .iter()
                    .map(|i| {
                        vec![
                            text(i, "_id").to_owned(),
                            text(i, "group_type").to_owned(),
                            text(i, "name").to_owned(),
                        ]
                    })
                    .collect::<Vec<_>>();
                print!("{}", render(&["ID", "TYPE", "NAME"], &rows));
            }
        }
    }
    Ok(())
}

fn text<'a>(item: &'a Value, key: &str) -> &'a str {
    item.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A slug suggestion from a name: lower case, words joined by `-`.
fn slug(name: &str) -> String {
    name.to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// Every item of a CareHQ list, following pages (also used by `check --remote`).
pub(super) async fn list(
    client: &CareHqClient,
    resource: &str,
    filters: &[(&str, &str)],
    attributes: &[&str],
) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    for page in 1..=50 {
        let mut params: Vec<(String, String)> = filters
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        params.extend(
            attributes
                .iter()
                .map(|a| ("attributes".into(), (*a).into())),
        );
        params.extend([
            ("page".into(), page.to_string()),
            ("per_page".into(), "100".into()),
        ]);
        let reply = client.get(resource, &params).await?;
        let items = reply
            .body
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let done = items.is_empty()
            || i64::from(page)
                >= reply
                    .body
                    .get("page_count")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
        out.extend(items);
        if done {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lower_case_words() {
        assert_eq!(slug("Upton Court (Care Home)"), "upton-court-care-home");
        assert_eq!(quoted("A \"B\""), "\"A \\\"B\\\"\"");
    }
}
