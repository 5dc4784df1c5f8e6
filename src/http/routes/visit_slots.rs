//! `GET /forms/{site}/visit-slots`: the open visit slots as JSON, for sites
//! with their own form. 404 when the site does not book visits online.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::http::error::HttpError;
use crate::http::format::Format;
use crate::http::site_slug::SiteSlug;
use crate::http::state::AppState;
use crate::visits::open_slots;
use crate::visits::request::type_label;

pub async fn visit_slots(State(state): State<AppState>, SiteSlug(slug): SiteSlug) -> Response {
    answer(&state, &slug)
        .await
        .unwrap_or_else(|e| e.into_response_for(Format::Json))
}

async fn answer(state: &AppState, slug: &str) -> Result<Response, HttpError> {
    let site = state.settings.site(slug).ok_or(HttpError::UnknownSite)?;
    let settings = site.visits().ok_or(HttpError::VisitsNotOffered)?;
    let open = open_slots(&state.store, &site.slug, settings, jiff::Timestamp::now()).await?;
    let slots: Vec<serde_json::Value> = open
        .iter()
        .map(|o| {
            json!({
                "value": o.slot.value(),
                "start": o.slot.iso(),
                "label": o.slot.label(),
                "places_left": o.places_left,
            })
        })
        .collect();
    let types: Vec<serde_json::Value> = settings
        .visit_types
        .iter()
        .map(|t| json!({"value": t, "label": type_label(t)}))
        .collect();
    let mut response = Json(json!({
        "time_zone": settings.time_zone.name,
        "slot_minutes": settings.slot_length.as_secs() / 60,
        "visit_types": types,
        "slots": slots,
    }))
    .into_response();
    // Slots fill up: a cached list would offer taken times.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
