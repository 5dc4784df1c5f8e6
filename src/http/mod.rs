//! The HTTP surface: routes, middleware, negotiation and error answers.

mod access_log;
pub mod assets;
mod captcha_widget;
mod error;
mod format;
mod keyed_digest;
mod pages;
mod peer;
mod readiness;
mod request_timeout;
mod routes;
mod security_headers;
mod site_slug;
mod staff_auth;
mod staff_fingerprint;
mod staff_throttle;
mod state;
mod submission_body;
#[cfg(test)]
mod submission_props;
mod visit_fields;

pub use error::HttpError;
pub use format::Format;
pub use readiness::Readiness;
pub use staff_throttle::StaffThrottle;
pub use state::AppState;

use axum::Router;
use axum::http::{HeaderName, Request};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route of the service, with its middleware.
pub fn router(state: AppState) -> Router {
    let timeout = state.settings.server.request_timeout;
    Router::new()
        .route(
            "/forms/{site}",
            get(routes::forms::show_form)
                .post(routes::submit::submit)
                .options(routes::spam::preflight),
        )
        .route("/forms/{site}/token", get(routes::spam::time_token))
        .route("/altcha/challenge", get(routes::spam::altcha_challenge))
        .route("/forms/{site}/thanks", get(routes::forms::thanks))
        .route("/forms/{site}/visit-slots", get(routes::visit_slots::visit_slots))
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .route("/openapi.json", get(routes::openapi))
        .route("/status", get(routes::status::status))
        .route("/metrics", get(routes::metrics::metrics))
        .route("/static/{file}", get(assets::serve))
        .route(
            "/partners/helparound/{site}/user-enrollment",
            post(routes::partners::enrollment),
        )
        .route(
            "/partners/helparound/{site}/user-action",
            post(routes::partners::action),
        )
        .route("/webhooks/{site}/{name}", post(routes::webhooks::receive))
        .route(
            "/webhooks/{site}/{name}/{token}",
            post(routes::webhooks::receive_with_token),
        )
        .merge(routes::staff::router())
        .fallback(routes::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security_headers::security_headers,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.readiness.clone(),
            readiness::close_connections_while_draining,
        ))
        .with_state(state)
        // Outermost first: a request id for every request, returned to the caller
        // and recorded on the request's span; then the trace; then panics → 500.
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn_with_state(timeout, request_timeout::limit))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", method = %request.method(), path = %access_log::logged_path(request.uri().path()), request_id = %id)
                })
                .on_response(access_log::on_response),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
