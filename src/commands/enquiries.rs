//! `enquiries list|show|retry|release|purge` (and `erase|export`, in
//! `erasure`): staff fix what is stuck without
//! touching the database. Each works on the configured database, beside a
//! running server: changes are single statements the worker picks up on its
//! next poll. Exit 1 when the enquiry is not found or there was nothing to do
//! for it; 2 for a bad argument.

use std::process::ExitCode;

use serde_json::Value;

use super::erasure;
use super::table::{render, when};
use crate::cli::EnquiriesCommand;
use crate::config::Settings;
use crate::startup::open_store;
use crate::storage::{
    DeliveryStatus, EnquiryFilter, EnquiryId, EnquiryRecord, Step, Store, now_ms,
};
use crate::values::parse_duration;

pub async fn run(settings: &Settings, action: EnquiriesCommand) -> anyhow::Result<ExitCode> {
    let store = open_store(settings).await?;
    let code = match action {
        EnquiriesCommand::List {
            status,
            site,
            account,
            since,
            limit,
        } => match account_sites(settings, account.as_deref()) {
            Ok(sites) => list(&store, status, site, sites, since, limit).await?,
            Err(problem) => usage(&problem),
        },
        EnquiriesCommand::Show { id } => show(&store, &id).await?,
        EnquiriesCommand::Retry { id, failed } => retry(&store, id, failed).await?,
        EnquiriesCommand::Release { id } => release(&store, &id).await?,
        EnquiriesCommand::Erase {
            id,
            email,
            phone,
            yes,
            reason,
        } => {
            let request = erasure::Request {
                id: id.as_deref(),
                email: email.as_deref(),
                phone: phone.as_deref(),
            };
            erasure::erase(&store, settings, &request, yes, reason.as_deref()).await?
        }
        EnquiriesCommand::Export {
            email,
            phone,
            account,
        } => match account_sites(settings, account.as_deref()) {
            Ok(sites) => {
                let request = erasure::Request {
                    id: None,
                    email: email.as_deref(),
                    phone: phone.as_deref(),
                };
                erasure::export(&store, &request, sites.as_deref()).await?
            }
            Err(problem) => usage(&problem),
        },
        EnquiriesCommand::Rekey { batch } => {
            let report = store.rekey(batch).await?;
            println!(
                "rekeyed with key {}: {} enquiries, {} attempts, {} audit records sealed again; {} already current; {} changed meanwhile (run rekey again)",
                report.key_id,
                report.enquiries,
                report.attempts,
                report.audit_records,
                report.current,
                report.skipped
            );
            if !report.still_required.is_empty() {
                println!(
                    "older keys still required (values sealed with them were met during this run): {}; run rekey again once every instance runs with key {} first",
                    report.still_required.join(", "),
                    report.key_id
                );
            }
            if report.skipped > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        EnquiriesCommand::Purge => {
            let report = crate::ops::retention::purge_now(&store, &settings.retention).await?;
            println!(
                "scrubbed {} synced and {} spam enquiries; expired {} held enquiries nobody released within retention.held and {} with a failed step older than retention.failed; deleted {} idempotency keys older than 24 h",
                report.synced_scrubbed,
                report.spam_scrubbed,
                report.held_expired,
                report.failed_expired,
                report.idempotency_keys_deleted
            );
            ExitCode::SUCCESS
        }
    };
    store.close().await;
    Ok(code)
}

/// The site slugs of `--account NAME` (`None` without it: every site), or
/// what to type instead, naming the accounts there are.
fn account_sites(
    settings: &Settings,
    account: Option<&str>,
) -> Result<Option<Vec<String>>, String> {
    let Some(name) = account else {
        return Ok(None);
    };
    super::accounts::selected(settings, Some(name)).map_err(|e| e.to_string())?;
    Ok(Some(
        (settings.sites.iter())
            .filter(|s| s.account == name)
            .map(|s| s.slug.clone())
            .collect(),
    ))
}

fn usage(message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::from(2)
}

async fn list(
    store: &Store,
    status: Option<String>,
    site: Option<String>,
    sites: Option<Vec<String>>,
    since: Option<String>,
    limit: i64,
) -> anyhow::Result<ExitCode> {
    if let Some(s) = &status
        && s.parse::<DeliveryStatus>().is_err()
    {
        return Ok(usage(&format!(
            "--status \"{s}\" is not a state; use pending, sending, synced, failed, held, waiting (a home visit waiting for its enquiry) or expired (held past retention.held, never sent)"
        )));
    }
    let since = match since.as_deref().map(parse_duration) {
        None => None,
        Some(Ok(d)) => Some(now_ms() - i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)),
        Some(Err(e)) => return Ok(usage(&format!("--since: {e}"))),
    };
    let filter = EnquiryFilter {
        status,
        site,
        since,
        limit: limit.max(1),
        sites,
    };
    let rows = store.list_enquiries(&filter).await?;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|e| {
            vec![
                e.id.clone(),
                e.site.clone(),
                when(e.received_at),
                e.status.clone(),
                e.visit_status.clone().unwrap_or_else(|| "-".into()),
                e.attempts.to_string(),
                e.remote_id.clone().unwrap_or_else(|| "-".into()),
                if e.scrubbed { "scrubbed" } else { "" }.into(),
            ]
        })
        .collect();
    print!(
        "{}",
        render(
            &[
                "ID",
                "SITE",
                "RECEIVED (UTC)",
                "STATUS",
                "VISIT",
                "ATTEMPTS",
                "CAREHQ ID",
                "DATA"
            ],
            &cells
        )
    );
    println!("{} enquiries", rows.len());
    Ok(ExitCode::SUCCESS)
}

/// The enquiry with the Id as typed, and that Id; `None` when there is none
/// (text that is no Id finds none, as it did when looked up as typed).
async fn existing(store: &Store, id: &str) -> anyhow::Result<Option<(EnquiryId, EnquiryRecord)>> {
    let Ok(id) = id.parse::<EnquiryId>() else {
        return Ok(None);
    };
    Ok(store.enquiry(&id).await?.map(|enquiry| (id, enquiry)))
}

async fn show(store: &Store, id: &str) -> anyhow::Result<ExitCode> {
    let Some((id, enquiry)) = existing(store, id).await? else {
        eprintln!("no enquiry {id}; `enquiry-relay enquiries list` shows the Ids");
        return Ok(ExitCode::FAILURE);
    };
    println!("enquiry   {}", enquiry.id);
    println!("site      {}", enquiry.site);
    println!("received  {} UTC", when(enquiry.received_at));
    println!("spam      {}", enquiry.spam_verdict);
    println!("came in   {}", enquiry.came_in());
    if let Some(consent) = &enquiry.consent {
        println!(
            "consent   version {}, wording SHA-256 {}",
            consent.version, consent.sha256
        );
    }
    match (&enquiry.payload, enquiry.scrubbed_at) {
        (Some(payload), _) => {
            println!("\nfields");
            match serde_json::from_str::<Value>(payload) {
                Ok(Value::Object(fields)) => {
                    for (key, value) in fields {
                        let text = match value {
                            Value::String(s) => s,
                            Value::Null => continue,
                            other => other.to_string(),
                        };
                        println!("  {key}: {}", text.replace('\n', "\n    "));
                    }
                }
                _ => println!("  {payload}"),
            }
        }
        (None, Some(at)) => println!(
            "\nfields    scrubbed {} UTC (retention); only this audit record remains",
            when(at)
        ),
        (None, None) => println!("\nfields    (none stored)"),
    }
    let events = store.partner_events_of(&id).await?;
    if !events.is_empty() {
        println!("\npartner events");
    }
    for event in events {
        println!(
            "  {} UTC  {} {}{}",
            when(event.sent_at),
            event.partner,
            event.event_name,
            event.action.map(|a| format!(" ({a})")).unwrap_or_default()
        );
    }
    for delivery in store.deliveries_of(&id).await? {
        println!(
            "\ndelivery {} ({}): {}, {} attempt(s), {} ambiguous{}",
            delivery.id,
            delivery.step_name,
            delivery.status,
            delivery.attempts,
            delivery.ambiguous,
            delivery
                .remote_id
                .as_deref()
                .map(|r| format!(", CareHQ Id {r}"))
                .unwrap_or_default()
        );
        match delivery.status {
            DeliveryStatus::Pending => {
                println!("  next attempt {} UTC", when(delivery.next_attempt_at))
            }
            DeliveryStatus::Waiting => println!(
                "  waits for the enquiry step to be synced; it is sent right after (`enquiries retry {id}` if the enquiry failed)"
            ),
            DeliveryStatus::Synced if delivery.step == Step::FallbackEmail => println!(
                "  sent by email to the home's fallback_email: CareHQ had not received it within sync.fallback_after"
            ),
            _ => {}
        }
        if let Some(error) = &delivery.last_error {
            println!("  last error: {error}");
        }
        for attempt in store.attempts_of(&delivery.id).await? {
            println!(
                "  - {} UTC  {}  {}ms{}",
                when(attempt.started_at),
                attempt.outcome,
                attempt.duration_ms,
                attempt
                    .http_status
                    .map(|s| format!("  HTTP {s}"))
                    .unwrap_or_default()
            );
            if let Some(hint) = &attempt.hint {
                println!("      CareHQ: {hint}");
            }
            if let Some(args) = &attempt.arg_errors {
                println!("      CareHQ arg_errors: {args}");
            }
            if let Some(error) = &attempt.error {
                println!("      {error}");
            }
        }
    }
    let audit = store.audit_of(&id).await?;
    if !audit.is_empty() {
        println!("\naudit (staff console)");
        for entry in audit {
            println!(
                "  - {} UTC  {}  by {}{}{}",
                when(entry.at),
                entry.action,
                entry.actor,
                entry
                    .reason
                    .map(|r| format!("  reason: {r}"))
                    .unwrap_or_default(),
                entry.detail.map(|d| format!("  ({d})")).unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn retry(store: &Store, id: Option<String>, all: bool) -> anyhow::Result<ExitCode> {
    if all {
        let retried = store.retry_all_failed().await?;
        match retried.len() {
            0 => println!("no failed delivery to retry"),
            1 => println!("1 failed delivery is pending again and will be sent now:"),
            n => println!("{n} failed deliveries are pending again and will be sent now:"),
        }
        // The step as `enquiries show` names it (enquiry, home_visit).
        for (enquiry_id, step) in &retried {
            println!("  {enquiry_id}  {step}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(id) = id else {
        return Ok(usage(
            "give an enquiry Id, or --failed for every failed enquiry",
        ));
    };
    let Some((id, _)) = existing(store, &id).await? else {
        eprintln!(
            "no enquiry {id}; `enquiry-relay enquiries list --status failed` shows the failed ones"
        );
        return Ok(ExitCode::FAILURE);
    };
    // Which steps (the enquiry, the home visit) are retried, to say so.
    let failed_steps: Vec<&str> = store
        .deliveries_of(&id)
        .await?
        .into_iter()
        .filter(|d| d.status == DeliveryStatus::Failed)
        .map(|d| d.step.as_str())
        .collect();
    match store.retry_failed(&id).await? {
        0 => {
            eprintln!(
                "enquiry {id} has no failed delivery; `enquiry-relay enquiries show {id}` shows where it stands"
            );
            Ok(ExitCode::FAILURE)
        }
        _ => {
            println!(
                "enquiry {id}: {} pending again and will be sent now",
                failed_steps.join(" and ")
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn release(store: &Store, id: &str) -> anyhow::Result<ExitCode> {
    let Some((id, _)) = existing(store, id).await? else {
        eprintln!(
            "no enquiry {id}; `enquiry-relay enquiries list --status held` shows the held ones"
        );
        return Ok(ExitCode::FAILURE);
    };
    match store.release_held(&id).await? {
        0 => {
            eprintln!(
                "enquiry {id} is not held; `enquiry-relay enquiries show {id}` shows where it stands"
            );
            Ok(ExitCode::FAILURE)
        }
        _ => {
            println!("enquiry {id} is released and will be sent now");
            Ok(ExitCode::SUCCESS)
        }
    }
}
