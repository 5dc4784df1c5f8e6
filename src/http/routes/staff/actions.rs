//! `POST /staff/enquiries/{id}/retry|release|delete` and
//! `POST /staff/enquiries/retry` (every failed enquiry the list's filter
//! shows): the CLI's actions, each checked against the session's CSRF
//! token and recorded in the audit trail with who did it and why. An
//! account's staff act on its homes' enquiries only.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::error::StaffError;
use super::filter::FilterQuery;
use super::session::{self, SignedIn};
use crate::http::state::AppState;
use crate::storage::{Actor, DeleteOutcome, EnquiryId, EnquiryState, Page};

/// The most enquiries one "retry all" sends again; the list says when
/// more are left, so a large backlog is retried in steps a person watches.
const BULK_LIMIT: i64 = 500;

#[derive(Deserialize, Default)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize, Default)]
pub struct BulkForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    filter: FilterQuery,
}

/// Signed in and carrying this session's CSRF token; what was posted.
pub(super) async fn authorised<T>(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<Form<T>, FormRejection>,
    csrf: impl Fn(&T) -> &str,
) -> Result<(SignedIn, T), StaffError> {
    let signed_in = session::signed_in(state, headers)
        .await
        .map_err(StaffError::on_post)?;
    let Ok(Form(form)) = form else {
        return Err(StaffError::Csrf);
    };
    session::check_csrf(&signed_in.session, Some(csrf(&form)))?;
    Ok((signed_in, form))
}

fn back(id: &EnquiryId, done: &str) -> Response {
    Redirect::to(&format!("/staff/enquiries/{id}?done={done}")).into_response()
}

/// The URL's enquiry Id, when the enquiry exists and the session may see
/// it; another account's enquiry, or text that is no Id, gets the answer of
/// a missing one, and nothing is touched.
async fn known(state: &AppState, signed_in: &SignedIn, id: &str) -> Result<EnquiryId, StaffError> {
    const NOT_FOUND: &str = "There is no enquiry with this Id, so nothing was changed. Open Enquiries from the menu to find it.";
    let Ok(id) = id.parse::<EnquiryId>() else {
        return Err(StaffError::NotFound(NOT_FOUND.into()));
    };
    match state.store.enquiry(&id).await? {
        Some(enquiry) => signed_in.may_see(&enquiry.site, NOT_FOUND).map(|()| id),
        None => Err(StaffError::NotFound(NOT_FOUND.into())),
    }
}

pub async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Result<Response, StaffError> {
    let (signed_in, _) = authorised(&state, &headers, form, |f| f.csrf.as_str()).await?;
    let id = known(&state, &signed_in, &id).await?;
    let actor = Actor {
        label: &signed_in.session.label,
        reason: None,
    };
    let steps = state.store.staff_retry(&id, &actor).await?;
    tracing::info!(enquiry_id = %id, label = %actor.label, "staff console: enquiry sent again");
    Ok(back(
        &id,
        if steps.is_empty() {
            "nothing"
        } else {
            "retried"
        },
    ))
}

pub async fn release(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Result<Response, StaffError> {
    let (signed_in, _) = authorised(&state, &headers, form, |f| f.csrf.as_str()).await?;
    let id = known(&state, &signed_in, &id).await?;
    let actor = Actor {
        label: &signed_in.session.label,
        reason: None,
    };
    let released = state.store.staff_release(&id, &actor).await?;
    tracing::info!(enquiry_id = %id, label = %actor.label, "staff console: held enquiry released");
    Ok(back(&id, if released { "released" } else { "nothing" }))
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Result<Response, StaffError> {
    let (signed_in, form) = authorised(&state, &headers, form, |f| f.csrf.as_str()).await?;
    let id = known(&state, &signed_in, &id).await?;
    let reason = form.reason.trim();
    if reason.is_empty() {
        return Err(StaffError::BadRequest(
            "Give a reason for deleting the enquiry (for example: spam). Go back, write the reason and delete it again.".into(),
        ));
    }
    let actor = Actor {
        label: &signed_in.session.label,
        reason: Some(reason),
    };
    match state.store.staff_delete(&id, &actor).await? {
        DeleteOutcome::Deleted => {
            tracing::info!(enquiry_id = %id, label = %actor.label, "staff console: enquiry deleted");
            Ok(back(&id, "deleted"))
        }
        DeleteOutcome::BeingSent => Err(StaffError::BadRequest(
            "The enquiry is being sent at this moment (to CareHQ or another destination), so it cannot be deleted now. Wait until that send has ended (a minute at most), reload its page and delete it then.".into(),
        )),
        DeleteOutcome::NotFound => {
            known(&state, &signed_in, id.as_str())
                .await
                .map(|id| back(&id, "nothing"))
        }
    }
}

pub async fn retry_matching(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<BulkForm>, FormRejection>,
) -> Result<Response, StaffError> {
    let (signed_in, form) = authorised(&state, &headers, form, |f| f.csrf.as_str()).await?;
    let mut filter = form.filter.to_filter_within(&signed_in.scope)?;
    let actor = Actor {
        label: &signed_in.session.label,
        reason: Some("retry of every failed enquiry the list showed"),
    };
    let mut retried = 0;
    // Only failed enquiries are sent again: a filter on another state matches none.
    if filter.state.is_none_or(|s| s == EnquiryState::Failed) {
        filter.state = Some(EnquiryState::Failed);
        let rows = (state.store)
            .staff_enquiries(&filter, BULK_LIMIT, &Page::Newest)
            .await?;
        for row in rows {
            if !state.store.staff_retry(&row.id, &actor).await?.is_empty() {
                retried += 1;
            }
        }
    }
    tracing::info!(retried, label = %actor.label, "staff console: failed enquiries sent again");
    let base = form.filter.query_string();
    let sep = if base.is_empty() { "" } else { "&" };
    Ok(Redirect::to(&format!("/staff/enquiries?{base}{sep}retried={retried}")).into_response())
}
