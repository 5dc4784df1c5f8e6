//! `POST /forms/{site}`: validate, store durably, wake the worker, answer.
//! No CareHQ call happens here: the family's wait never depends on CareHQ.

use askama::Template;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::json;
use tracing::info;

use crate::config::SiteSettings;
use crate::domain::{Enquiry, FieldErrors, IntakeRules, RawSubmission};
use crate::http::error::HttpError;
use crate::http::format::Format;
use crate::http::pages::FormPage;
use crate::http::state::AppState;
use crate::http::submission_body::read_submission;
use crate::storage::{InsertOutcome, NewEnquiry};

/// Fields that belong to CAPTCHA widgets: tokens, not anything the family wrote.
const WIDGET_FIELDS: &[&str] = &[
    "g-recaptcha-response",
    "h-captcha-response",
    "cf-turnstile-response",
    "frc-captcha-response",
    "frc-captcha-solution",
    "altcha",
];

pub async fn submit(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    format: Format,
    headers: HeaderMap,
    body: Body,
) -> Response {
    accept(&state, &slug, format, &headers, body)
        .await
        .unwrap_or_else(|e| e.into_response_for(format))
}

async fn accept(
    state: &AppState,
    slug: &str,
    format: Format,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let site = state.settings.site(slug).ok_or(HttpError::UnknownSite)?;
    let raw = read_submission(headers, body, state.settings.server.body_limit).await?;
    let key = idempotency_key(headers, &raw)?;
    let ignored: Vec<String> = WIDGET_FIELDS.iter().map(|f| (*f).to_owned()).collect();
    let rules = IntakeRules {
        allowed_services: &site.services,
        require_consent: false,
        ignored_fields: &ignored,
    };
    let enquiry = match Enquiry::parse(&raw, &rules) {
        Ok(enquiry) => enquiry,
        Err(fields) => return Ok(invalid(site, format, &raw, fields, key)),
    };
    let id = uuid::Uuid::now_v7().to_string();
    let payload = serde_json::to_string(&enquiry)
        .map_err(|e| HttpError::Internal(format!("encoding the enquiry: {e}")))?;
    let new = NewEnquiry {
        id: &id,
        site: &site.slug,
        payload: &payload,
        spam_verdict: "clean",
        idempotency_key: key.as_deref(),
        held: false,
    };
    let (id, replayed) = match state.store.insert_enquiry(&new).await? {
        InsertOutcome::Created => {
            state.worker.wake();
            metrics::counter!(crate::ops::metrics::SUBMISSIONS, "outcome" => "accepted")
                .increment(1);
            info!(enquiry_id = %id, site = %site.slug, "enquiry received and stored");
            (id, false)
        }
        InsertOutcome::Duplicate { enquiry_id } => {
            info!(enquiry_id = %enquiry_id, site = %site.slug, "repeated submission (same idempotency key); answered as before");
            (enquiry_id, true)
        }
    };
    Ok(stored(site, format, &id, replayed))
}

/// The success answer: 201 JSON, or 303 to the thank-you page.
fn stored(site: &SiteSettings, format: Format, id: &str, replayed: bool) -> Response {
    let mut response = match format {
        Format::Json => (
            StatusCode::CREATED,
            Json(json!({"id": id, "status": "received"})),
        )
            .into_response(),
        Format::Html => {
            let to = site
                .redirect_url
                .clone()
                .unwrap_or_else(|| format!("/forms/{}/thanks", site.slug));
            Redirect::to(&to).into_response()
        }
    };
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// 422: JSON names each bad field; a browser gets the form again with the
/// messages and everything it typed.
fn invalid(
    site: &SiteSettings,
    format: Format,
    raw: &RawSubmission,
    fields: FieldErrors,
    key: Option<String>,
) -> Response {
    if format == Format::Json {
        return HttpError::Validation(fields).into_response_for(format);
    }
    let key = key.unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    match FormPage::new(site, Some(raw), &fields, key).render() {
        Ok(page) => {
            let mut response = (StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => HttpError::Internal(format!("rendering the form: {e}")).into_response_for(format),
    }
}

/// `Idempotency-Key` header, else the `_k` form field: 1–128 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap, raw: &RawSubmission) -> Result<Option<String>, HttpError> {
    let from_header = headers
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or("\u{0}").to_owned());
    let Some(key) = from_header.or_else(|| raw.first("_k").map(str::to_owned)) else {
        return Ok(None);
    };
    let key = key.trim();
    if key.is_empty() || key.len() > 128 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(HttpError::BadRequest(
            "The idempotency key must be 1 to 128 visible ASCII characters.".into(),
        ));
    }
    Ok(Some(key.to_owned()))
}
