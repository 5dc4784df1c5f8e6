//! Logging set-up. Personal data is never logged at info level or above; the
//! default filter keeps sqlx's statement logs (which could carry values) off.
//!
//! With `[sentry] dsn` set, two Sentry layers join the log on stderr (the
//! client itself is started by `ops::error_tracking::start`): error events
//! become Sentry events, and our own info and warn lines ride along as
//! breadcrumbs. Without a DSN they are left out, not merely idle: the
//! breadcrumb layer would otherwise copy every info line on the request path.

use crate::config::LogFormat;
use tracing::Level;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer as _, Registry};

/// Install the global subscriber, writing lines in `format` (`log.format`,
/// or `ENQUIRY_RELAY_LOG_FORMAT`, as the config resolved it). `RUST_LOG`
/// overrides the default filter. `error_tracking`: Sentry is configured.
pub fn init(format: LogFormat, error_tracking: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,hyper=warn,reqwest=warn"));
    let log = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let log: Box<dyn tracing_subscriber::Layer<Registry> + Send + Sync> = match format {
        LogFormat::Json => Box::new(log.json()),
        LogFormat::Text => Box::new(log),
    };
    let errors = error_tracking
        .then(|| sentry::integrations::tracing::ErrorLayer::new().with_filter(LevelFilter::ERROR));
    // Only our own lines: they are written to carry no personal data.
    let breadcrumbs = error_tracking.then(|| {
        sentry::integrations::tracing::BreadcrumbLayer::new().with_filter(filter_fn(|meta| {
            meta.target().starts_with("enquiry_relay")
                && matches!(*meta.level(), Level::INFO | Level::WARN)
        }))
    });
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(log.with_filter(filter))
        .with(errors)
        .with(breadcrumbs)
        .try_init();
}

/// An error with its causes, for the one line it is logged on:
/// `error = %chain(&e)` prints `e`, then each `source()` not already in the
/// text (thiserror's `{0}` messages repeat their cause) as `; caused by: …`.
pub fn chain<'a>(error: &'a (dyn std::error::Error + 'static)) -> Chain<'a> {
    Chain(error)
}

/// See [`chain`].
pub struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(error) = cause {
            let said = error.to_string();
            if !text.contains(&said) {
                text.push_str("; caused by: ");
                text.push_str(&said);
            }
            cause = error.source();
        }
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("could not save")]
        Save(#[source] Inner),
        #[error("could not read: {0}")]
        Read(#[source] Inner),
    }

    #[derive(Debug, thiserror::Error)]
    #[error("disk full")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn a_logged_error_names_each_cause_once() {
        let io = || std::io::Error::other("no space left");
        assert_eq!(
            chain(&Outer::Save(Inner(io()))).to_string(),
            "could not save; caused by: disk full; caused by: no space left"
        );
        assert_eq!(
            chain(&Outer::Read(Inner(io()))).to_string(),
            "could not read: disk full; caused by: no space left"
        );
    }
}
