//! Logging set-up. Personal data is never logged at info level or above; the
//! default filter keeps sqlx's statement logs (which could carry values) off.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber. `RUST_LOG` overrides the default filter;
/// `ENQUIRY_RELAY_LOG_FORMAT=json` switches to one JSON object per line.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,hyper=warn,reqwest=warn"));
    let json =
        std::env::var("ENQUIRY_RELAY_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
