//! Error tracking with Sentry, when `[sentry] dsn` is set: panics, every event
//! logged at error level (a permanently failed delivery, delivery paused, the
//! database unreachable…) with the info and warn lines before it as
//! breadcrumbs. The tracing layers are installed by `telemetry`; this module
//! starts the client and scrubs each event before it leaves.
//!
//! Started before the async runtime (see `main.rs`): Sentry gives each thread
//! a copy of the process's hub when the thread first reports, so a runtime
//! thread that logged before the client was bound would never send anything.

use secrecy::ExposeSecret as _;
use sentry::protocol::{Breadcrumb, Context, Event};

use super::scrub::{redact, redact_json};
use crate::config::SentrySettings;

/// Keeps the Sentry client alive; dropping it flushes queued events (bounded
/// by Sentry's shutdown timeout, 2 s).
#[must_use = "error tracking stops when the guard is dropped"]
pub struct ErrorTracking(#[allow(dead_code)] Option<sentry::ClientInitGuard>);

/// Starts the client when a DSN is configured; otherwise does nothing.
pub fn start(settings: &SentrySettings) -> ErrorTracking {
    let Some(dsn) = &settings.dsn else {
        return ErrorTracking(None);
    };
    // Checked when the config was validated; `ClientOptions::dsn` would panic.
    let Ok(dsn) = dsn.expose_secret().parse::<sentry::types::Dsn>() else {
        tracing::warn!("sentry.dsn could not be read; error tracking is off");
        return ErrorTracking(None);
    };
    let mut options = sentry::ClientOptions::new()
        .maybe_release(sentry::release_name!())
        .send_default_pii(false)
        .before_send(|event| Some(scrub_event(event)))
        .before_breadcrumb(|crumb| Some(scrub_breadcrumb(crumb)));
    options.dsn = Some(dsn);
    if let Some(environment) = &settings.environment {
        options = options.environment(environment.clone());
    }
    let guard = sentry::init(options);
    tracing::info!("error tracking on: errors and panics are reported to Sentry");
    ErrorTracking(Some(guard))
}

/// Drops what could identify a family and redacts every free-text field.
fn scrub_event(mut event: Event<'static>) -> Event<'static> {
    event.user = None;
    event.request = None;
    for text in [
        &mut event.message,
        &mut event.culprit,
        &mut event.transaction,
    ]
    .into_iter()
    .flatten()
    {
        *text = redact(text);
    }
    if let Some(entry) = &mut event.logentry {
        entry.message = redact(&entry.message);
        entry.params.iter_mut().for_each(redact_json);
    }
    for exception in &mut event.exception.values {
        if let Some(value) = &mut exception.value {
            *value = redact(value);
        }
    }
    for value in event.tags.values_mut() {
        *value = redact(value);
    }
    event.extra.values_mut().for_each(redact_json);
    for context in event.contexts.values_mut() {
        // Fields of the tracing event (and any other free-form context).
        if let Context::Other(map) = context {
            map.values_mut().for_each(redact_json);
        }
    }
    event.breadcrumbs.values = std::mem::take(&mut event.breadcrumbs.values)
        .into_iter()
        .map(scrub_breadcrumb)
        .collect();
    event
}

fn scrub_breadcrumb(mut crumb: Breadcrumb) -> Breadcrumb {
    if let Some(message) = &mut crumb.message {
        *message = redact(message);
    }
    crumb.data.values_mut().for_each(redact_json);
    crumb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_leaves_without_contact_details_or_request_data() {
        let mut event = Event {
            message: Some("CareHQ refused sam@example.com".into()),
            user: Some(sentry::protocol::User {
                email: Some("sam@example.com".into()),
                ..Default::default()
            }),
            request: Some(Default::default()),
            ..Default::default()
        };
        event
            .extra
            .insert("phone".into(), serde_json::json!("07700 900462"));
        let mut fields = sentry::protocol::Map::new();
        fields.insert("error".into(), serde_json::json!("hint: 07700 900462"));
        event
            .contexts
            .insert("Rust Tracing Fields".into(), Context::Other(fields));
        event.breadcrumbs.values.push(Breadcrumb {
            message: Some("from sam@example.com".into()),
            ..Default::default()
        });

        let clean = scrub_event(event);
        let json = serde_json::to_string(&clean).unwrap();
        assert!(!json.contains("example.com"), "{json}");
        assert!(!json.contains("900462"), "{json}");
        assert!(clean.user.is_none() && clean.request.is_none());
        assert_eq!(clean.message.as_deref(), Some("CareHQ refused [email]"));
    }

    #[test]
    fn without_a_dsn_nothing_starts() {
        let off = SentrySettings {
            dsn: None,
            environment: None,
        };
        assert!(start(&off).0.is_none());
    }
}
