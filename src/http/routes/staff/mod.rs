//! The staff console (`/staff`): sign-in, the overview, the list, one
//! enquiry's page, the actions on it and the CSV export. Server-rendered,
//! works without JavaScript, never cached (`Cache-Control: no-store`).

mod actions;
mod contact;
mod detail;
mod edit;
mod error;
mod export;
mod filter;
mod list;
mod login;
mod overview;
mod pages;
mod problems;
mod session;
mod words;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::http::state::AppState;

/// Every `/staff` route, each answer marked `no-store`: the pages hold
/// personal data and must not stay in a shared or back-button cache.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff", get(overview::overview))
        .route("/staff/login", get(login::show).post(login::submit))
        .route("/staff/logout", post(login::logout))
        .route("/staff/enquiries", get(list::list))
        .route("/staff/enquiries/retry", post(actions::retry_matching))
        .route("/staff/enquiries/{id}", get(detail::show))
        .route("/staff/enquiries/{id}/retry", post(actions::retry))
        .route("/staff/enquiries/{id}/release", post(actions::release))
        .route("/staff/enquiries/{id}/delete", post(actions::delete))
        .route("/staff/enquiries/{id}/edit", post(edit::edit))
        .route("/staff/export.csv", get(export::export))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}
