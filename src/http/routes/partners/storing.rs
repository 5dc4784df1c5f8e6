//! What a partner's event becomes in the store: an enrollment is checked as
//! a form post would be and stored as an enquiry with its event's key; an
//! action is keyed to the enrollment it follows.

use super::PARTNER;
use crate::config::SiteSettings;
use crate::domain::{Enquiry, IntakeRules};
use crate::http::state::AppState;
use crate::partners::helparound::{Action, Enrollment, PartnerSubmission, Refusal};
use crate::spam::SpamVerdict;
use crate::storage::{EnquiryId, InsertOutcome, NewEnquiry, PartnerEventKey, StoreError};

/// The enquiry the enrollment stands for, checked as a form post would be.
pub(super) fn checked(
    site: &SiteSettings,
    submission: &PartnerSubmission,
    enrollment: &Enrollment,
) -> Result<Enquiry, Refusal> {
    let rules = IntakeRules {
        allowed_services: &site.services,
        require_consent: false,
        ignored_fields: &[],
    };
    Enquiry::parse(&submission.raw, &rules).map_err(|errors| {
        let fields: Vec<String> = errors
            .iter()
            .map(|(field, messages)| format!("{field}: {}", messages.join("; ")))
            .collect();
        Refusal {
            message: format!(
                "the enrollment cannot become a care enquiry: {}",
                fields.join("; ")
            ),
            patient_id: Some(enrollment.patient.id.clone()),
        }
    })
}

/// What storing an enrollment came to.
pub(super) enum Stored {
    /// The id answered and the outcome counted (`stored`, `held`, `repeat`).
    Answered(EnquiryId, &'static str),
    /// The event was stored before with other details: nothing stored now.
    Changed,
}

/// Store the enquiry with its event and its fingerprint (what it said).
pub(super) async fn store(
    state: &AppState,
    site: &SiteSettings,
    submission: &PartnerSubmission,
    payload: String,
    fingerprint: String,
) -> Result<Stored, StoreError> {
    let id = EnquiryId::generate();
    let key = &submission.key;
    let new = NewEnquiry {
        id: id.clone(),
        site: site.slug.clone(),
        payload,
        spam_verdict: SpamVerdict::Partner,
        idempotency_key: None,
        fingerprint: Some(fingerprint),
        held: submission.held,
        consent: None,
        partner_event: Some(PartnerEventKey {
            partner: PARTNER.into(),
            program_id: key.support_program_id.clone(),
            patient_id: key.patient_id.clone(),
            event_name: key.event_name.clone(),
            sent_at_ms: key.sent_at_ms,
        }),
        destinations: site.also_send_to.clone(),
        intake: Some(format!("partner {PARTNER}")),
    };
    Ok(match state.store.insert_enquiry(new).await? {
        InsertOutcome::Created if submission.held => Stored::Answered(id, "held"),
        InsertOutcome::Created => Stored::Answered(id, "stored"),
        InsertOutcome::Duplicate { enquiry_id } => Stored::Answered(enquiry_id, "repeat"),
        // No idempotency key is sent: only the event's own key conflicts.
        InsertOutcome::Conflict => Stored::Changed,
    })
}

pub(super) fn action_key(action: &Action) -> PartnerEventKey {
    PartnerEventKey {
        partner: PARTNER.into(),
        program_id: action.support_program_id.clone(),
        patient_id: action.patient_id.clone(),
        event_name: action.event_name.clone(),
        sent_at_ms: (action.sent_at.unix_timestamp_nanos() / 1_000_000) as i64,
    }
}
