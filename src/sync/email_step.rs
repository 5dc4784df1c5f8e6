//! The human fallback: an enquiry not in CareHQ within `sync.fallback_after`
//! is emailed to its site's `fallback_email` (over `alerts.smtp_url`, from
//! `alerts.email_from`), so a family is not left waiting while a CRM is
//! down. The email is its own outbox step (`fallback_email`, made by
//! `storage::fallback`): retried when the mail server is down, once per
//! enquiry, and delivery to CareHQ carries on beside it.

use std::time::Duration;

use lettre::Message;

use super::sender::{Sender, Unsent};
use super::shared::Shared;
use super::stored::{Stored, configured_site, stored_enquiry};
use super::verdict::{Answer, Verdict};
use crate::config::{Settings, SiteSettings};
use crate::domain::Enquiry;
use crate::mail::{MailFailure, Mailer};
use crate::storage::ClaimedDelivery;
use crate::values::{format_duration, format_utc_minute};

/// The fallback email lane's sends.
pub(super) struct Email {
    pub mailer: Mailer,
}

/// The fallback emails' mailer (`alerts.smtp_url`, from `alerts.email_from`):
/// `Ok(None)` when no site has a `fallback_email`. A send must end inside
/// its lease, as a CareHQ call must: it is bounded by `carehq.timeout`,
/// which `sync.lease` is checked against.
pub fn fallback_mailer(settings: &Settings) -> Result<Option<Mailer>, String> {
    if !settings.sites.iter().any(|s| s.fallback_email.is_some()) {
        return Ok(None);
    }
    let alerts = &settings.alerts;
    let (Some(url), Some(from)) = (&alerts.smtp_url, &alerts.email_from) else {
        return Err("sites' fallback_email needs alerts.smtp_url and alerts.email_from".into());
    };
    Mailer::new(url, from.clone(), settings.carehq.timeout).map(Some)
}

impl Sender for Email {
    type Ready = Message;
    const NAME: &str = "its home's fallback_email";

    async fn prepare(&self, shared: &Shared, row: &ClaimedDelivery) -> Result<Message, Unsent> {
        if in_carehq(shared, row).await? {
            let why = "not sent: CareHQ received the enquiry before the email could go";
            return Err(Unsent::Judged(Answer::new(
                Verdict::NotNeeded,
                why.to_owned(),
            )));
        }
        compose(shared, &self.mailer, row).await
    }

    async fn send(&self, message: Message, _row: &ClaimedDelivery) -> Answer {
        let failure = match self.mailer.send(message).await {
            Ok(()) => return Answer::new(Verdict::Delivered { remote_id: None }, None),
            Err(failure) => failure,
        };
        let (verdict, summary, detail) = match failure {
            MailFailure::Refused { detail } => (
                Verdict::Refused,
                "the mail server refused the fallback email for good (a 5xx answer); check the site's fallback_email and alerts.email_from, then `enquiry-relay enquiries retry ID`",
                detail,
            ),
            MailFailure::NotSent { detail } => (
                Verdict::Retry { ambiguous: false },
                "the mail server could not be reached or asked to try later",
                detail,
            ),
            MailFailure::MaybeSent { detail } => (
                Verdict::Retry { ambiguous: true },
                "the mail server did not finish the exchange (the email may have gone)",
                detail,
            ),
        };
        // The server's words can quote the address: kept where retention
        // clears them (the attempt's hint), never logged.
        Answer {
            hint: Some(detail),
            ..Answer::new(verdict, summary.to_owned())
        }
    }
}

/// Whether the enquiry reached CareHQ after this email's step was made
/// (CareHQ came back while the mail server was down): the home need not
/// be told it is waiting.
async fn in_carehq(shared: &Shared, row: &ClaimedDelivery) -> Result<bool, Unsent> {
    Ok(shared.store.enquiry_synced(&row.enquiry_id).await?)
}

/// The email for this row's enquiry, or why it cannot be sent.
async fn compose(
    shared: &Shared,
    mailer: &Mailer,
    row: &ClaimedDelivery,
) -> Result<Message, Unsent> {
    let id = &row.enquiry_id;
    let Stored {
        site: slug,
        enquiry,
    } = stored_enquiry(shared, row).await?;
    let site = configured_site(shared, &slug, "email")?;
    let Some(to) = site.fallback_email.clone() else {
        return Err(Unsent::unsendable(format!(
            "site `{slug}` no longer has a fallback_email; nothing was sent"
        )));
    };
    let received_at = shared.store.enquiry_received_at(id).await?.unwrap_or(0);
    let waited = shared.settings.sync.fallback_after;
    let text = body(site, &enquiry, id.as_str(), received_at, waited);
    // No name: subjects are logged by mail servers and shown on lock screens.
    let subject = format!("New enquiry for {} is waiting for a reply", site.name);
    let message = Message::builder()
        .from(mailer.from().clone())
        .to(to)
        .subject(subject)
        .body(text);
    message.map_err(|_| Unsent::unsendable("the fallback email could not be built"))
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
        format_utc_minute(received_at),
        format_duration(waited),
    );
    let name = format!("{} {}", enquiry.first_name, enquiry.last_name);
    let care_is_for =
        (enquiry.enquiring_for_self).map(|me| if me { "themselves" } else { "someone else" });
    let answers = [
        ("Name", Some(name.as_str())),
        ("Email", enquiry.email.as_ref().map(|e| e.as_str())),
        ("Phone", enquiry.phone.as_ref().map(|p| p.as_str())),
        ("Care is for", care_is_for),
        ("Service", enquiry.service.as_ref().map(|s| s.as_str())),
        ("Funding", enquiry.funding_type.as_ref().map(|f| f.as_str())),
    ];
    let extras = (enquiry.extra_fields.iter()).map(|e| (e.label.as_str(), Some(e.value.as_str())));
    for (label, value) in answers.into_iter().chain(extras) {
        if let Some(value) = value {
            text.push_str(&format!("{label}: {value}\n"));
        }
    }
    if let Some(message) = &enquiry.care_requirements {
        text.push_str(&format!("\nTheir message:\n{}\n", message.as_str()));
    }
    text.push_str(&format!(
        "\nEnquiry {id}, received {}. Staff can follow it with `enquiry-relay enquiries show {id}`.\n",
        format_utc_minute(received_at)
    ));
    text
}
