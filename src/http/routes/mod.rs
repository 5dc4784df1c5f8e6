//! Route handlers, one file per concern.

pub mod forms;
pub mod health;
pub mod metrics;
pub mod spam;
pub mod status;
pub mod submit;
pub mod visit_slots;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

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
