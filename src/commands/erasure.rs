//! `enquiries erase` and `enquiries export`: a person's right to erasure
//! and of access. Erase lists what it would remove unless `--yes`, with why
//! each enquiry matched, removes the personal data of each matching enquiry
//! (an anonymous tombstone and an audit record stay) and names the copies
//! it cannot reach: CareHQ's, a further destination's, the email sent to
//! the home. Export prints everything stored about the person as JSON.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::person::Person;
use super::table::when;
use crate::config::Settings;
use crate::storage::{
    Actor, DeleteOutcome, DeliveryStatus, EnquiryId, Step, Store, StoredPayload, match_reasons,
    now_ms,
};

/// Who the audit trail says erased it.
const ACTOR: &str = "command line";

/// Which enquiries a request is about.
pub struct Request<'a> {
    pub id: Option<&'a str>,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
}

impl Request<'_> {
    /// Why `m` is among the request's enquiries, in words.
    fn reasons(&self, m: &StoredPayload) -> Vec<String> {
        if self.id.is_some() {
            return vec!["named by its id".into()];
        }
        match_reasons(
            self.email,
            self.phone,
            &m.payload,
            m.original_payload.as_deref(),
        )
    }
}

pub async fn erase(
    store: &Store,
    settings: &Settings,
    request: &Request<'_>,
    yes: bool,
    reason: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let matches = match matching(store, request).await? {
        Ok(matches) => matches,
        Err(problem) => return Ok(usage(&problem)),
    };
    // An id whose details are gone already: what else may name the person.
    if let (true, Some(id)) = (matches.is_empty(), request.id)
        && let Ok(id) = id.parse::<EnquiryId>()
        && let Some(scrubbed) = store.enquiry(&id).await?
    {
        let copies = copies(store, settings, [(&id, scrubbed.site.as_str())]).await?;
        return erase_scrubbed(store, &id, &copies, yes, reason).await;
    }
    if matches.is_empty() {
        println!(
            "no stored enquiry matches; nothing to erase (enquiries already scrubbed hold no personal data)"
        );
        return Ok(ExitCode::FAILURE);
    }
    let listed = matches.iter().map(|m| (&m.id, m.site.as_str()));
    let copies = copies(store, settings, listed).await?;
    if !yes {
        println!("would erase {} enquiry(ies):", matches.len());
        for m in &matches {
            println!(
                "  {}  {}  received {} UTC",
                m.id,
                m.site,
                when(m.received_at)
            );
            // Check these before erasing: a number written beside another
            // may be someone else's enquiry.
            println!("    matched by: {}", request.reasons(m).join("; "));
        }
        copies.print();
        println!("nothing changed yet: run again with --yes to erase them");
        return Ok(ExitCode::SUCCESS);
    }
    let actor = Actor {
        label: ACTOR,
        reason: Some(reason.unwrap_or("erasure request")),
    };
    let (mut erased, mut busy) = (0, Vec::new());
    for m in &matches {
        match store.erase_enquiry(&m.id, &actor).await? {
            DeleteOutcome::Deleted => erased += 1,
            DeleteOutcome::BeingSent => busy.push(m.id.as_str()),
            DeleteOutcome::NotFound => {}
        }
    }
    println!(
        "erased {erased} enquiry(ies): their personal data is gone from every table; an anonymous record (ids, times, outcomes) and the audit entry remain"
    );
    copies.print();
    if !busy.is_empty() {
        println!(
            "not erased, being sent right now (run erase again once that send has ended, in a minute): {}",
            busy.join(", ")
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `erase ID` of an enquiry whose personal data retention (or a delete)
/// already scrubbed: what may still name the person (partner events, staff's
/// reasons, the idempotency row) goes, and the erasure is audited.
async fn erase_scrubbed(
    store: &Store,
    id: &EnquiryId,
    copies: &Copies,
    yes: bool,
    reason: Option<&str>,
) -> anyhow::Result<ExitCode> {
    if !yes {
        println!(
            "would erase {id}: its details were already scrubbed (retention or a delete); what may remain (partner events, staff's reasons, its idempotency row) would go"
        );
        copies.print();
        println!("nothing changed yet: run again with --yes to erase it");
        return Ok(ExitCode::SUCCESS);
    }
    let actor = Actor {
        label: ACTOR,
        reason: Some(reason.unwrap_or("erasure request")),
    };
    match store.erase_enquiry(id, &actor).await? {
        DeleteOutcome::Deleted => {
            println!(
                "erased 1 enquiry(ies): {id} had its details scrubbed already; what remained (partner events, staff's reasons, its idempotency row) is gone; an anonymous record (ids, times, outcomes) and the audit entry remain"
            );
            copies.print();
            Ok(ExitCode::SUCCESS)
        }
        DeleteOutcome::BeingSent => {
            println!(
                "not erased, being sent right now (run erase again once that send has ended, in a minute): {id}"
            );
            Ok(ExitCode::FAILURE)
        }
        DeleteOutcome::NotFound => {
            println!("no stored enquiry matches; nothing to erase");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `sites`: only enquiries of these (`--account`'s); `None` for every site.
pub async fn export(
    store: &Store,
    request: &Request<'_>,
    sites: Option<&[String]>,
) -> anyhow::Result<ExitCode> {
    let mut matches = match matching(store, request).await? {
        Ok(matches) => matches,
        Err(problem) => return Ok(usage(&problem)),
    };
    if let Some(sites) = sites {
        matches.retain(|m| sites.contains(&m.site));
    }
    let mut enquiries = Vec::with_capacity(matches.len());
    for m in &matches {
        let mut one = one(store, m).await?;
        one["matched_by"] = json!(request.reasons(m));
        enquiries.push(one);
    }
    let report = json!({
        "exported_at": when(now_ms()) + " UTC",
        "enquiries": enquiries,
        "note": "What this service stores about the person. CareHQ (and any other destination) keeps its own copy of each delivered enquiry: ask the care provider's CareHQ administrator for that.",
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// Everything stored about one enquiry.
async fn one(store: &Store, m: &StoredPayload) -> anyhow::Result<Value> {
    let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::from(text));
    let consent = store.enquiry(&m.id).await?.and_then(|e| e.consent);
    let mut deliveries = Vec::new();
    for d in store.deliveries_of(&m.id).await? {
        deliveries.push(json!({
            "step": d.step.as_str(),
            "status": d.status.as_str(),
            "attempts": store.attempts_of(&d.id).await?,
            "carehq_id": d.remote_id,
            "last_error": d.last_error,
        }));
    }
    let partner_events: Vec<Value> = (store.partner_events_of(&m.id).await?.into_iter())
        .map(|e| json!({"partner": e.partner, "event": e.event_name, "sent_at": when(e.sent_at), "action": e.action}))
        .collect();
    Ok(json!({
        "id": m.id,
        "site": m.site,
        "received_at": when(m.received_at) + " UTC",
        "fields": parse(&m.payload),
        "as_first_written": m.original_payload.as_deref().map(parse),
        "consent": consent.map(|c| json!({"version": c.version, "wording_sha256": c.sha256})),
        "deliveries": deliveries,
        "partner_events": partner_events,
        "audit": store.audit_of(&m.id).await?,
    }))
}

/// The stored enquiries the request names, or what to give instead.
async fn matching(
    store: &Store,
    request: &Request<'_>,
) -> anyhow::Result<Result<Vec<StoredPayload>, String>> {
    let ids = match request.id {
        // Text that is no Id matches none, as when it was looked up as typed.
        Some(id) => id.parse::<EnquiryId>().into_iter().collect(),
        None => {
            let person = match Person::new(request.email, request.phone) {
                Ok(person) => person,
                Err(problem) => return Ok(Err(problem)),
            };
            // By search terms: the person's address or number as the
            // enquiry's own field or anywhere else in it (a partner's
            // labelled lines), without opening every stored enquiry.
            store
                .enquiries_by_contact(person.email(), person.phone())
                .await?
        }
    };
    Ok(Ok(store.stored_payloads(&ids).await?))
}

/// The copies of the matched enquiries outside this service, which an
/// erasure here does not reach.
#[derive(Default)]
struct Copies {
    /// CareHQ's ids of the delivered enquiry and visit steps.
    carehq: Vec<String>,
    /// A further destination's ids (`destination:NAME`).
    destinations: Vec<String>,
    /// Who the fallback email went to, per enquiry.
    emails: Vec<String>,
}

impl Copies {
    fn print(&self) {
        if !self.carehq.is_empty() {
            println!(
                "CareHQ keeps its own copy: erase these care enquiries in CareHQ too: {}",
                self.carehq.join(", ")
            );
        }
        if !self.destinations.is_empty() {
            println!(
                "further destinations keep their own copy: ask their administrators to erase these records: {}",
                self.destinations.join(", ")
            );
        }
        if !self.emails.is_empty() {
            println!(
                "the enquiry was emailed to the home (fallback email): ask the recipient to delete that email: {}",
                self.emails.join(", ")
            );
        }
    }
}

/// `enquiries`: each enquiry's id and site.
async fn copies<'a>(
    store: &Store,
    settings: &Settings,
    enquiries: impl IntoIterator<Item = (&'a EnquiryId, &'a str)>,
) -> anyhow::Result<Copies> {
    let mut copies = Copies::default();
    for (id, site) in enquiries {
        for d in store.deliveries_of(id).await? {
            match d.step {
                // A sent email has no remote id: the recipient is the
                // site's, as configured now (this command cannot know an
                // address since changed).
                Step::FallbackEmail if d.status == DeliveryStatus::Synced => {
                    let to = (settings.site(site))
                        .and_then(|s| s.fallback_email.as_ref())
                        .map_or_else(
                            || "the home's fallback address (no longer configured)".to_owned(),
                            ToString::to_string,
                        );
                    copies.emails.push(format!("{to} (enquiry {id})"));
                }
                Step::FallbackEmail => {}
                Step::Destination => (copies.destinations)
                    .extend(d.remote_id.map(|r| format!("{r} ({})", d.step_name))),
                Step::Enquiry | Step::HomeVisit => (copies.carehq)
                    .extend(d.remote_id.map(|r| format!("{r} ({})", d.step.as_str()))),
            }
        }
    }
    Ok(copies)
}

fn usage(message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::from(2)
}
