//! Storing: the per-site rate limit (spent only by an enquiry that is
//! created and sent), the one write of the enquiry (and its visit), and what
//! is counted and logged once it landed.

use std::net::IpAddr;
use std::time::Instant;

use axum::response::Response;
use tracing::info;

use super::Post;
use super::answering::{self, conflict, rate_limited, repeated};
use super::intake::{self, consent_record, fingerprint, stored_payload};
use super::screening::Screened;
use crate::domain::{Enquiry, FieldErrors};
use crate::http::error::HttpError;
use crate::http::request_timeout::Storing;
use crate::spam::{self, Outcome, SiteToken};
use crate::storage::{EnquiryId, InsertOutcome, NewEnquiry, NewVisit, VisitInsert};
use crate::visits::{self, VisitChoice};

pub(super) async fn store(
    post: &Post<'_>,
    ip: IpAddr,
    screened: Screened,
    enquiry: &Enquiry,
    visit: Option<&VisitChoice>,
    storing: Option<&Storing>,
) -> Result<Response, HttpError> {
    let site = post.site;
    let fingerprint = fingerprint(&post.state.settings.carehq.api_secret, enquiry, visit)?;
    let site_token = match site_token(post, ip, screened.held, &fingerprint).await {
        Ok(token) => token,
        Err(answer) => return Ok(answer),
    };
    let id = EnquiryId::generate();
    let payload = stored_payload(site, enquiry)?;
    let new = NewEnquiry {
        id: id.clone(),
        site: site.slug.clone(),
        payload,
        spam_verdict: screened.verdict,
        idempotency_key: post.key.map(str::to_owned),
        fingerprint: Some(fingerprint),
        held: screened.held,
        consent: consent_record(site, enquiry),
        partner_event: None,
        destinations: site.also_send_to.clone(),
        intake: Some(intake::way_in(post.raw).into()),
    };
    // From here the outcome is the database's: the request timeout waits for
    // it rather than answer "not sent" (see http::request_timeout).
    if let Some(storing) = storing {
        storing.begin();
    }
    let Some(outcome) = insert(post, new, visit).await? else {
        let mut fields = FieldErrors::default();
        fields.add(visits::VISIT_DATE_TIME, visits::request::SLOT_FULL);
        return Ok(answering::invalid(post, fields).await);
    };
    match outcome {
        InsertOutcome::Created => {
            created(post, site_token, &screened, &id);
            Ok(answering::stored(post, &id, false))
        }
        InsertOutcome::Duplicate { enquiry_id } => Ok(repeated(post, &enquiry_id)),
        InsertOutcome::Conflict => Err(conflict(site)),
    }
}

/// The site's limit counts only posts about to become enquiries that are
/// sent (see spam::rate_limit); the token goes back unless one is created
/// (a repeat or a 409 spends none). A held post spends none of it: it
/// reaches CareHQ only if a person releases it, and a flood of doubtful
/// posts must not use up the limit and turn a family away. Held posts
/// spend the site's held limit instead (`rate_limit.per_site_held`): each
/// is stored, and a held visit takes a place in its slot.
///
/// `Err` is the answer when the limit is reached.
async fn site_token<'a>(
    post: &Post<'a>,
    ip: IpAddr,
    held: bool,
    fingerprint: &str,
) -> Result<Option<SiteToken<'a>>, Response> {
    let site = post.site;
    let limits = &post.state.spam.limits;
    let (taken, limit) = match held {
        false => (limits.take_site(ip, &site.slug, Instant::now()), "per-site"),
        true => (
            limits.take_held_site(ip, &site.slug, Instant::now()),
            "per-site-held",
        ),
    };
    let wait = match taken {
        Ok(token) => return Ok(Some(token)),
        Err(wait) => wait,
    };
    // A repeat of a post already stored (a double click) is answered as
    // before, not refused: the family's enquiry was saved. A key reused for
    // another enquiry is told so (409), never replayed.
    let answer = match post.key {
        None => Err(rate_limited(site, wait, limit)),
        Some(key) => {
            let earlier = post
                .state
                .store
                .enquiry_for_key(&site.slug, key, Some(fingerprint));
            match earlier.await {
                Err(e) => Err(HttpError::from(e)),
                Ok(Some(InsertOutcome::Duplicate { enquiry_id })) => {
                    Ok(repeated(post, &enquiry_id))
                }
                Ok(Some(InsertOutcome::Conflict)) => Err(conflict(site)),
                Ok(Some(InsertOutcome::Created) | None) => Err(rate_limited(site, wait, limit)),
            }
        }
    };
    Err(answer.unwrap_or_else(|e| e.into_response_for(post.format)))
}

/// The one write: the enquiry with its outbox row, and its visit when one
/// was asked for. `None` when the visit's slot filled up meanwhile.
async fn insert(
    post: &Post<'_>,
    new: NewEnquiry,
    visit: Option<&VisitChoice>,
) -> Result<Option<InsertOutcome>, HttpError> {
    let store = &post.state.store;
    let (Some(choice), Some(settings)) = (visit, post.site.visits()) else {
        return Ok(Some(store.insert_enquiry(new).await?));
    };
    let local_time = choice.slot.carehq();
    let new_visit = NewVisit {
        slot_at: choice.slot.at_ms(),
        local_time: &local_time,
        time_zone: &settings.time_zone.name,
        visit_type: &choice.visit_type,
        capacity: settings.capacity,
    };
    Ok(
        match store.insert_enquiry_with_visit(&new, &new_visit).await? {
            VisitInsert::Stored(outcome) => Some(outcome),
            VisitInsert::SlotFull => None,
        },
    )
}

/// A new enquiry landed: spend the site's token, count it, and wake the
/// worker unless it is held for a person.
fn created(
    post: &Post<'_>,
    site_token: Option<SiteToken<'_>>,
    screened: &Screened,
    id: &EnquiryId,
) {
    let site = post.site;
    if let Some(token) = site_token {
        token.spend();
    }
    spam::count(Outcome::Accepted, &site.slug);
    if let Some(doubt) = screened.doubt {
        spam::count(doubt.outcome, &site.slug);
    }
    if screened.held {
        spam::count(Outcome::Held, &site.slug);
        let spam_verdict = screened.verdict.as_str();
        // No personal data: the verdict and ids say what staff need.
        info!(enquiry_id = %id, site = %site.slug, spam_verdict, "enquiry received and held: not sent until someone runs `enquiry-relay enquiries release ID`");
    } else {
        post.state.worker.wake();
        info!(enquiry_id = %id, site = %site.slug, "enquiry received and stored");
    }
}
