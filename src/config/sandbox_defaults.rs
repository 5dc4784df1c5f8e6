//! The configuration used when there is no config file at all: the built-in
//! CareHQ sandbox, SQLite under `./data/`, two demo sites of two demo CareHQ
//! accounts (an agency's two providers, each served by its own in-process
//! sandbox) and an open `/metrics`, so that a bare `cargo run` shows a
//! working form. The sandbox credentials are not written
//! here: `carehq.sandbox = true` supplies them (see `validate`), which also
//! lets an `ENQUIRY_RELAY_CAREHQ__API_SECRET_FILE` override work without
//! clashing with an inline default.

use crate::sandbox::seed;

/// Slug of the demo site.
pub const DEMO_SLUG: &str = "demo";
/// The demo site's FHIR destination (the in-process FHIR sandbox).
pub const DEMO_DESTINATION: &str = "demo-records";
/// The demo site's form-builder webhook (`POST /webhooks/demo/demo-builder`),
/// a Contact Form 7-shaped one that takes our field names too.
pub const DEMO_HOOK: &str = "demo-builder";
/// Its token: sandbox mode only, published in docs/site-forms.md and in
/// `/openapi.json` (so the fuzzer reaches the route with a valid token); no
/// secret, since nothing real is behind it.
pub const DEMO_HOOK_TOKEN: &str = "sandbox-demo-webhook-token-not-a-secret";

/// The defaults as TOML, so they layer exactly like a file would.
pub(super) fn toml() -> String {
    use crate::fhir_sandbox::seed as fhir;
    #[rustfmt::skip]
    let values = [
        ("demo_slug", DEMO_SLUG), ("location", seed::DEMO_LOCATION),
        ("sales_channel", seed::DEMO_SALES_CHANNEL), ("records", DEMO_DESTINATION),
        ("fhir_client", fhir::CLIENT_ID), ("fhir_secret", fhir::CLIENT_SECRET), ("fhir_site", fhir::SITE_ID),
        ("partner", seed::PARTNER_ACCOUNT), ("partner_id", seed::PARTNER_ACCOUNT_ID),
        ("partner_key", seed::PARTNER_API_KEY), ("partner_secret", seed::PARTNER_API_SECRET),
        ("partner_slug", seed::PARTNER_SLUG), ("partner_location", seed::PARTNER_LOCATION),
        ("demo_hook", DEMO_HOOK), ("demo_hook_token", DEMO_HOOK_TOKEN),
    ];
    let mut toml = include_str!("sandbox.toml").to_owned();
    for (name, value) in values {
        toml = toml.replace(&format!("{{{name}}}"), value);
    }
    toml
}
