//! `check [--remote]`: the config is valid (it was loaded to get here); with
//! `--remote`, CareHQ accepts the credentials and knows every site's Ids.

use std::process::ExitCode;

use crate::carehq::CareHqClient;
use crate::config::Settings;
use crate::startup::client_settings;

pub async fn check(settings: &Settings, remote: bool) -> anyhow::Result<ExitCode> {
    println!(
        "config OK: {} site(s), source {:?}",
        settings.sites.len(),
        settings.source
    );
    if !remote {
        return Ok(ExitCode::SUCCESS);
    }
    anyhow::ensure!(
        !settings.sandbox_mode(),
        "check --remote needs a real CareHQ; sandbox mode has nothing to check"
    );
    let client = CareHqClient::new(client_settings(settings, settings.server.listen))?;
    let mut ok = true;
    let locations = list_names(&client, "locations", &[]).await?;
    let groups = list_names(
        &client,
        "groups",
        &[
            ("filters-group_type", "referrer"),
            ("filters-group_type", "sales_channel"),
        ],
    )
    .await?;
    println!(
        "CareHQ accepted the credentials ({} locations, {} referrer/sales channel groups visible)",
        locations.len(),
        groups.len()
    );
    for site in &settings.sites {
        let mut line = |kind: &str, id: &str, known: &[(String, String)]| match known
            .iter()
            .find(|(k, _)| k == id)
        {
            Some((_, name)) => println!("  {}: {kind} {id} = {name}", site.slug),
            None => {
                ok = false;
                println!("  {}: {kind} {id} NOT FOUND in CareHQ", site.slug);
            }
        };
        line("location", &site.location, &locations);
        if let Some(id) = &site.referrer {
            line("referrer", id, &groups);
        }
        if let Some(id) = &site.sales_channel {
            line("sales_channel", id, &groups);
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every (Id, name) of a CareHQ list, following pages.
async fn list_names(
    client: &CareHqClient,
    resource: &str,
    filters: &[(&str, &str)],
) -> anyhow::Result<Vec<(String, String)>> {
    let items = super::carehq::list(client, resource, filters, &["name"]).await?;
    Ok(items
        .iter()
        .map(|item| {
            let text = |key| {
                item.get(key)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            (text("_id"), text("name"))
        })
        .collect())
}
