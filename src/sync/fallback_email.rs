//! The human fallback: an enquiry not in CareHQ within `sync.fallback_after`
//! is emailed to its site's `fallback_email` (over `alerts.smtp_url`, from
//! `alerts.email_from`), so a family is not left waiting while a CRM is
//! down. The email is its own outbox step (`fallback_email`, made by
//! `storage::fallback`): retried when the mail server is down, once per
//! enquiry, and delivery to CareHQ carries on beside it.

use std::time::{Duration, Instant};

use lettre::Message;
use tracing::{error, info};

use super::mailer::{FallbackMailer, MailFailure};
use super::outcome::{Delivered, record, retry_or_give_up, unless_lease_fits};
use super::shared::Shared;
use super::stored::{Stored, stored_enquiry};
use crate::config::SiteSettings;
use crate::domain::Enquiry;
use crate::storage::{AttemptOutcome, AttemptRecord, ClaimedDelivery, StoreError, Transition};
use crate::values::format_duration;

/// Send one claimed fallback email and record the outcome.
pub(super) async fn send(
    shared: &Shared,
    mailer: &FallbackMailer,
    row: &ClaimedDelivery,
) -> Result<Delivered, StoreError> {
    let started_at = crate::storage::now_ms();
    let clock = Instant::now();
    let message = match compose(shared, mailer, row).await? {
        Ok(message) => message,
        Err(problem) => {
            error!(delivery_id = %row.id, enquiry_id = %row.enquiry_id, problem = %problem, "fallback email not sent");
            let attempt = AttemptRecord {
                error: Some(problem.clone()),
                ..AttemptRecord::new(AttemptOutcome::Failed, started_at)
            };
            let failed = Transition::Failed {
                ambiguous: false,
                error: problem,
            };
            return record(shared, row, &attempt, &failed, Delivered::Failed).await;
        }
    };
    if let Some(deferred) = unless_lease_fits(shared, row, mailer.timeout(), started_at).await {
        return deferred;
    }
    let sent = mailer.send(message).await;
    let duration_ms = clock.elapsed().as_millis() as i64;
    let base = |outcome| AttemptRecord {
        duration_ms,
        ..AttemptRecord::new(outcome, started_at)
    };
    let e = match sent {
        Ok(_) => {
            info!(delivery_id = %row.id, enquiry_id = %row.enquiry_id, duration_ms, "enquiry sent by email to its home's fallback_email");
            let synced = Transition::Synced { remote_id: None };
            return record(
                shared,
                row,
                &base(AttemptOutcome::Synced),
                &synced,
                Delivered::Synced,
            )
            .await;
        }
        Err(e) => e,
    };
    // The server's answer can quote the address: kept where retention
    // clears it (the attempt's hint), never logged.
    let detail = Some(e.detail().to_owned());
    if matches!(e, MailFailure::Refused { .. }) {
        let summary = "the mail server refused the fallback email for good (a 5xx answer); check the site's fallback_email and alerts.email_from, then `enquiry-relay enquiries retry ID`".to_owned();
        error!(delivery_id = %row.id, enquiry_id = %row.enquiry_id, "the mail server refused the fallback email; marked failed for staff");
        let attempt = AttemptRecord {
            hint: detail,
            error: Some(summary.clone()),
            ..base(AttemptOutcome::Failed)
        };
        let failed = Transition::Failed {
            ambiguous: false,
            error: summary,
        };
        return record(shared, row, &attempt, &failed, Delivered::Failed).await;
    }
    // A timeout may come after the server took the message: counted as
    // ambiguous, as for CareHQ, and the email may then arrive twice.
    let ambiguous = matches!(e, MailFailure::MaybeSent { .. });
    let summary = match ambiguous {
        true => "the mail server did not answer in time (the email may have gone)".to_owned(),
        false => "the mail server could not be reached or asked to try later".to_owned(),
    };
    let attempt = |outcome| AttemptRecord {
        hint: detail.clone(),
        error: Some(summary.clone()),
        ..base(outcome)
    };
    retry_or_give_up(
        shared,
        row,
        attempt,
        (summary.clone(), ambiguous),
        "fallback email",
    )
    .await
}

/// The email for this row's enquiry. The inner `Err` is a permanent problem
/// with the row: a message for staff, free of personal data.
async fn compose(
    shared: &Shared,
    mailer: &FallbackMailer,
    row: &ClaimedDelivery,
) -> Result<Result<Message, String>, StoreError> {
    let id = row.enquiry_id.as_str();
    let Stored {
        site: slug,
        enquiry,
    } = match stored_enquiry(shared, row).await? {
        Ok(stored) => stored,
        Err(problem) => return Ok(Err(problem)),
    };
    let Some(site) = shared.settings.site(&slug) else {
        return Ok(Err(format!(
            "site `{slug}` is no longer in the config; add it back, then retry this email"
        )));
    };
    let Some(to) = site.fallback_email.clone() else {
        return Ok(Err(format!(
            "site `{slug}` no longer has a fallback_email; nothing was sent"
        )));
    };
    let received_at = shared.store.enquiry_received_at(id).await?.unwrap_or(0);
    let text = body(
        site,
        &enquiry,
        id,
        received_at,
        shared.settings.sync.fallback_after,
    );
    let subject = format!(
        "Enquiry for {}: {} {} is waiting for a reply",
        site.name, enquiry.first_name, enquiry.last_name
    );
    let message = Message::builder()
        .from(mailer.from().clone())
        .to(to)
        .subject(subject)
        .body(text);
    Ok(message.map_err(|_| "the fallback email could not be built".to_owned()))
}

/// Plain text: what the family wrote, when, and not to enter it twice.
fn body(
    site: &SiteSettings,
    enquiry: &Enquiry,
    id: &str,
    received_at: i64,
    waited: Duration,
) -> String {
    let mut text = format!(
        "A family sent an enquiry about {} at {}, and it has not reached CareHQ within {}.\n\
         Please reply to them. CareHQ will still receive this enquiry once it can: do not enter it \
         in CareHQ by hand, or it will be there twice.\n\n",
        site.name,
        when(received_at),
        format_duration(waited),
    );
    let mut line = |label: &str, value: &str| text.push_str(&format!("{label}: {value}\n"));
    line(
        "Name",
        &format!("{} {}", enquiry.first_name, enquiry.last_name),
    );
    if let Some(email) = &enquiry.email {
        line("Email", email.as_str());
    }
    if let Some(phone) = &enquiry.phone {
        line("Phone", phone.as_str());
    }
    if let Some(for_self) = enquiry.enquiring_for_self {
        line(
            "Care is for",
            if for_self {
                "themselves"
            } else {
                "someone else"
            },
        );
    }
    if let Some(service) = &enquiry.service {
        line("Service", service.as_str());
    }
    if let Some(funding) = &enquiry.funding_type {
        line("Funding", funding.as_str());
    }
    for extra in &enquiry.extra_fields {
        line(&extra.label, extra.value.as_str());
    }
    if let Some(message) = &enquiry.care_requirements {
        text.push_str(&format!("\nTheir message:\n{}\n", message.as_str()));
    }
    text.push_str(&format!(
        "\nEnquiry {id}, received {}. Staff can follow it with `enquiry-relay enquiries show {id}`.\n",
        when(received_at)
    ));
    text
}

/// Unix ms as "2026-12-02 09:14 UTC".
fn when(ms: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| ms.to_string())
}
