//! `GET /staff/enquiries/{id}`: one enquiry — what the family wrote, each
//! delivery step with every attempt and CareHQ's reasons in words, the
//! actions that apply to it, and the audit trail. This file reads the
//! store; `pages::detail` puts what it read into words.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::error::StaffError;
use super::pages::{self, DetailPage, DetailRecord, Nav};
use super::session;
use crate::http::state::AppState;
use crate::storage::EnquiryId;

/// `?done=`: what the action just taken did (a word, never personal data).
#[derive(Deserialize, Default)]
pub struct DetailQuery {
    #[serde(default)]
    done: String,
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<DetailQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, StaffError> {
    let signed_in = session::signed_in(&state, &headers).await?;
    const NOT_FOUND: &str =
        "There is no enquiry with this Id. Open Enquiries from the menu to find it.";
    // Text that is no Id is answered as a missing enquiry, as before.
    let Ok(id) = id.parse::<EnquiryId>() else {
        return Err(StaffError::NotFound(NOT_FOUND.into()));
    };
    let Some(enquiry) = state.store.enquiry(&id).await? else {
        return Err(StaffError::NotFound(NOT_FOUND.into()));
    };
    // Another account's enquiry is answered as a missing one.
    signed_in.may_see(&enquiry.site, NOT_FOUND)?;
    let mut steps = Vec::new();
    for delivery in state.store.deliveries_of(&id).await? {
        let attempts = state.store.attempts_of(&delivery.id).await?;
        steps.push((delivery, attempts));
    }
    let record = DetailRecord {
        site: (state.settings.site(&enquiry.site))
            .map_or_else(|| enquiry.site.clone(), |s| s.name.clone()),
        steps,
        audit: state.store.audit_of(&id).await?,
        partner_events: state.store.partner_events_of(&id).await?,
        edit_fields: super::edit::editable_fields(&state.store, &id, enquiry.payload.as_deref())
            .await?,
        original: state.store.original_payload(&id).await?,
        enquiry,
    };
    let done = query.ok().map(|q| q.0.done).unwrap_or_default();
    let page = DetailPage::new(record, Nav::of(signed_in.session), &done);
    pages::render(&page, "detail page")
}
