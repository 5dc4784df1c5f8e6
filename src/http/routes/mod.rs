//! Route handlers, one file per concern.

pub mod forms;
pub mod health;
pub mod metrics;
pub mod status;
pub mod submit;

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

/// `GET /static/form.css`. Embedded so the binary runs from any directory.
pub async fn form_css() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        include_str!("../../../static/form.css"),
    )
        .into_response()
}
