//! `check [--remote]`: the config is valid (it was loaded to get here); with
//! `--remote`, CareHQ accepts the credentials and knows every site's Ids, each
//! of the right kind: a site's `referrer` must be a referrer group and its
//! `sales_channel` a sales-channel group (CareHQ would refuse the swap); and
//! a warning when the key can read care enquiries, which it should not.

use std::process::ExitCode;

use super::accounts::{keys_of, selected};
use crate::carehq::{CareHqClient, CareHqError};
use crate::config::{AccountSettings, DEFAULT_ACCOUNT, Settings};
use crate::startup::client_settings;

/// (Id, name, group_type) of a CareHQ item.
type Named = (String, String, String);

pub async fn check(
    settings: &Settings,
    remote: bool,
    account: Option<&str>,
) -> anyhow::Result<ExitCode> {
    println!(
        "config OK: {} site(s), source {:?}",
        settings.sites.len(),
        settings.source
    );
    // Valid but risky settings: said here so they are seen before deploying.
    for warning in settings.warnings() {
        println!("warning: {warning}");
    }
    // The key file is read at start-up; a bad one is better found now.
    if let Some(file) = &settings.database.encryption_key_file {
        match crate::storage::KeyRing::from_file(file) {
            Ok(keys) => println!(
                "encryption at rest: {} key(s), new values sealed with `{}`",
                keys.ids().len(),
                keys.newest()
            ),
            Err(e) => {
                eprintln!("{e}");
                return Ok(ExitCode::from(2));
            }
        }
    }
    if !remote {
        return Ok(ExitCode::SUCCESS);
    }
    anyhow::ensure!(
        !settings.sandbox_mode(),
        "check --remote needs a real CareHQ; sandbox mode has nothing to check"
    );
    let accounts = selected(settings, account)?;
    if let [only] = accounts.as_slice()
        && settings.accounts.len() == 1
    {
        // One account: its refusal is the command's error, as it always was.
        return Ok(exit(check_account(settings, only).await?));
    }
    // Several: each is checked and labelled; one refusing its credentials
    // does not hide what the others say.
    let mut ok = true;
    for account in accounts {
        println!("account {}:", account.name);
        match check_account(settings, account).await {
            Ok(good) => ok &= good,
            Err(e) => {
                println!("  {e:#}");
                ok = false;
            }
        }
    }
    Ok(exit(ok))
}

fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One account's credentials and its sites' Ids; false when an Id is wrong.
async fn check_account(settings: &Settings, account: &AccountSettings) -> anyhow::Result<bool> {
    let client = CareHqClient::new(client_settings(settings, account, settings.server.listen))?;
    let explain = |e| explain(e, account);
    let locations = list_names(&client, "locations", &[], &["name"])
        .await
        .map_err(explain)?;
    let groups = list_names(
        &client,
        "groups",
        &[
            ("filters-group_type", "referrer"),
            ("filters-group_type", "sales_channel"),
        ],
        &["name", "group_type"],
    )
    .await
    .map_err(explain)?;
    println!(
        "CareHQ accepted the credentials ({} locations, {} referrer/sales channel groups visible)",
        locations.len(),
        groups.len()
    );
    println!("{}", read_access(&client).await);
    let mut ok = true;
    for site in settings.sites.iter().filter(|s| s.account == account.name) {
        let slug = site.slug.as_str();
        ok &= report(slug, "location", &site.location, &locations, None);
        if let Some(id) = &site.referrer {
            ok &= report(slug, "referrer", id, &groups, Some("referrer"));
        }
        if let Some(id) = &site.sales_channel {
            ok &= report(slug, "sales_channel", id, &groups, Some("sales_channel"));
        }
    }
    if !ok {
        println!(
            "fix the Ids above in [[sites]]: `enquiry-relay carehq locations` and `enquiry-relay carehq groups --type referrer|sales_channel` list the right ones"
        );
    }
    Ok(ok)
}

/// Whether the key can read care enquiries, in words. It should not: a
/// website's key only creates them, and one that can read exposes every
/// family's enquiry if it leaks. A warning, not a failure: delivery works.
async fn read_access(client: &CareHqClient) -> String {
    let probe = [
        ("attributes".to_owned(), "_id".to_owned()),
        ("per_page".to_owned(), "1".to_owned()),
    ];
    match client.get("care-enquiries", &probe).await {
        Ok(_) => "warning: this API key can READ care enquiries (GET care-enquiries answered 200). \
                  CareHQ's guidance: \"your API key only needs to be able to create care enquiries, not read them. \
                  Giving the API key permission to read care enquiries would expose data for all care enquiries \
                  if the key was compromised.\" Give the key only Care enquiries > Create, Groups > Read and \
                  Locations > Read (and Home visits > Create when visits are on): Accounts > API keys in CareHQ"
            .to_owned(),
        Err(CareHqError::Status { status: 403, .. }) => {
            "the API key cannot read care enquiries, as CareHQ advises".to_owned()
        }
        Err(e) => format!(
            "could not tell whether the API key can read care enquiries ({}); it should not: see Accounts > API keys in CareHQ",
            e.summary()
        ),
    }
}

/// Print one site key's line; false when the Id is unknown or of another kind.
fn report(slug: &str, key: &str, id: &str, known: &[Named], kind: Option<&str>) -> bool {
    match known.iter().find(|(k, _, _)| k == id) {
        Some((_, name, group_type)) if kind.is_none_or(|k| k == group_type) => {
            println!("  {slug}: {key} {id} = {name}");
            true
        }
        Some((_, name, group_type)) => {
            println!(
                "  {slug}: {key} {id} = {name} is a {group_type} group, NOT a {key}: CareHQ would refuse it"
            );
            false
        }
        None => {
            println!("  {slug}: {key} {id} NOT FOUND in CareHQ");
            false
        }
    }
}

/// Turn CareHQ's refusal of the credentials into what to do about it.
fn explain(e: anyhow::Error, account: &AccountSettings) -> anyhow::Error {
    let (keys, base_url) = match account.name.as_str() {
        DEFAULT_ACCOUNT => (keys_of(account), "carehq.base_url".to_owned()),
        name => (
            keys_of(account),
            format!("the base_url of the [[accounts]] entry named \"{name}\""),
        ),
    };
    match e.downcast_ref::<CareHqError>() {
        Some(CareHqError::Status {
            status: 401 | 403, ..
        }) => e.context(format!(
            "CareHQ refused the credentials: check {keys} (and that the key may read locations and groups), then run `enquiry-relay check --remote` again"
        )),
        Some(CareHqError::Status { status: 404, .. }) => e.context(format!(
            "CareHQ does not know this address or account: check {base_url} and the account Id"
        )),
        Some(CareHqError::Connect(_) | CareHqError::Timeout | CareHqError::Transport(_)) => e
            .context(format!(
                "could not reach CareHQ: check {base_url} and the network, then try again"
            )),
        _ => e,
    }
}

/// Every (Id, name, group_type) of a CareHQ list, following pages.
async fn list_names(
    client: &CareHqClient,
    resource: &str,
    filters: &[(&str, &str)],
    attributes: &[&str],
) -> anyhow::Result<Vec<Named>> {
    let items = super::carehq::list(client, resource, filters, attributes).await?;
    Ok(items
        .iter()
        .map(|item| {
            let text = |key| {
                item.get(key)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            (text("_id"), text("name"), text("group_type"))
        })
        .collect())
}
