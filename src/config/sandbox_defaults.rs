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

/// The defaults as TOML, so they layer exactly like a file would.
pub(super) fn toml() -> String {
    format!(
        r#"
[database]
url = "sqlite://data/enquiry-relay.db"

[carehq]
sandbox = true

[metrics]
require_token = false

[[sites]]
slug = "{DEMO_SLUG}"
name = "Demo Care Home"
location = "{location}"
sales_channel = "{sales_channel}"

also_send_to = ["{records}"]

[sites.defaults]
service = "residential_home"
funding_type = "not_sure"

[sites.visits]
enabled = true
monday = ["10:00-12:00", "14:00-16:00"]
tuesday = ["10:00-12:00", "14:00-16:00"]
wednesday = ["10:00-12:00", "14:00-16:00"]
thursday = ["10:00-12:00", "14:00-16:00"]
friday = ["10:00-12:00", "14:00-16:00"]
saturday = ["14:00-16:00"]
notice = "2h"

# Sandbox mode sends to the in-process FHIR sandbox whatever these say.
[[destinations]]
name = "{records}"
kind = "fhir"
discovery_url = "http://localhost/fhir-sandbox/.well-known/discovery-document.json"
sso_discovery_url = "http://localhost/fhir-sandbox/.well-known/openid-configuration"
client_id = "{fhir_client}"
client_secret = "{fhir_secret}"
site_id = "{fhir_site}"

[[accounts]]
name = "{partner}"
account_id = "{partner_id}"
api_key = "{partner_key}"
api_secret = "{partner_secret}"

[[sites]]
slug = "{partner_slug}"
name = "Lark Rise House"
location = "{partner_location}"
account = "{partner}"
"#,
        location = seed::DEMO_LOCATION,
        sales_channel = seed::DEMO_SALES_CHANNEL,
        partner = seed::PARTNER_ACCOUNT,
        records = DEMO_DESTINATION,
        fhir_client = crate::fhir_sandbox::seed::CLIENT_ID,
        fhir_secret = crate::fhir_sandbox::seed::CLIENT_SECRET,
        fhir_site = crate::fhir_sandbox::seed::SITE_ID,
        partner_id = seed::PARTNER_ACCOUNT_ID,
        partner_key = seed::PARTNER_API_KEY,
        partner_secret = seed::PARTNER_API_SECRET,
        partner_slug = seed::PARTNER_SLUG,
        partner_location = seed::PARTNER_LOCATION,
    )
}
