//! Route handlers, one file per concern.

pub mod forms;
pub mod health;
pub mod metrics;
pub mod partners;
pub mod spam;
pub mod staff;
pub mod status;
pub mod submit;
pub mod visit_slots;
pub mod webhooks;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::{Format, HttpError};

/// Any other address: the same friendly "not found" answer (page or JSON,
/// security headers, not cached) as an unknown site, never an empty 404.
pub async fn not_found(headers: HeaderMap) -> Response {
    HttpError::NotFound(
        "There is nothing at this address. Check the link: an enquiry form's address looks like /forms/<home>."
            .into(),
    )
    .into_response_for(Format::of(&headers))
}

/// `GET /openapi.json`: the JSON intake API.
pub async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        include_str!("openapi.json"),
    )
        .into_response()
}
