//! What a form builder is told, and the metric each answer counts towards.
//! Bodies are JSON a builder's log shows as it is: `{"id", "status"}` once
//! stored, else `{"error", "message"}` saying what to change.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::info;

use super::{HookLabel, SITE_WEBHOOKS};
use crate::config::{SiteSettings, SiteWebhook};
use crate::domain::FieldErrors;
use crate::storage::EnquiryId;

/// 200 with the enquiry's id: stored now, or before (`replayed`).
pub(super) fn stored(hook: HookLabel<'_>, id: &EnquiryId, replayed: bool) -> Response {
    count(hook, if replayed { "repeat" } else { "stored" });
    let mut response = (
        StatusCode::OK,
        Json(json!({"id": id.as_str(), "status": "received"})),
    )
        .into_response();
    if replayed {
        (response.headers_mut()).insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// 422 naming each missing or bad field by the site's own name.
pub(super) fn invalid(hook: HookLabel<'_>, fields: &FieldErrors) -> Response {
    count(hook, "invalid");
    let names: Vec<&str> = fields.iter().map(|(f, _)| f).collect();
    info!(site = %hook.0.slug, hook = %hook.1.name, fields = ?names, "form-builder webhook refused: fields missing or not valid; answered 422");
    let message = format!(
        "the entry cannot become an enquiry: check {}; map the form's fields onto ours in [sites.webhooks.fields] if they are named otherwise",
        names.join(", ")
    );
    no_store(
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": "validation", "message": message, "fields": fields})),
        )
            .into_response(),
    )
}

/// `{"error": code, "message": …}` with `status`, never cached.
pub(super) fn answer(status: StatusCode, code: &str, message: &str) -> Response {
    no_store((status, Json(json!({"error": code, "message": message}))).into_response())
}

fn no_store(mut response: Response) -> Response {
    (response.headers_mut()).insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(super) fn count(hook: HookLabel<'_>, outcome: &'static str) {
    count_unknown(Some(hook.0), Some(hook.1), outcome);
}

/// As `count`, before the site or hook is known to exist: a name that is
/// not configured is counted as `unknown` (a prober's names never become series).
pub(super) fn count_unknown(
    site: Option<&SiteSettings>,
    hook: Option<&SiteWebhook>,
    outcome: &'static str,
) {
    let site = site.map_or("unknown", |s| s.slug.as_str()).to_owned();
    let hook = hook.map_or("unknown", |h| h.name.as_str()).to_owned();
    metrics::counter!(SITE_WEBHOOKS, "site" => site, "hook" => hook, "outcome" => outcome)
        .increment(1);
}
