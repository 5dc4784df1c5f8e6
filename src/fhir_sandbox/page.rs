//! The FHIR sandbox's HTML page at `/`: the accepted bundles, newest first
//! (who wrote, when, what each created), the resources held per type, and
//! how to reach the sandbox. Self-contained (no external assets); askama
//! escapes every value.

use askama::Template;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use time::format_description::well_known::Rfc3339;

use super::{DISCOVERY_PATH, FhirSandbox, OPENID_CONFIGURATION_PATH};

#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="5">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>FHIR sandbox</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
.note { background: #eef6ee; border-left: 4px solid #2e7d32; padding: .75rem 1rem; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: .25rem 1rem .25rem 0; vertical-align: top; }
code { background: #f4f4f4; padding: 0 .2rem; }
</style>
</head>
<body>
<h1>Local FHIR sandbox</h1>
<p class="note">This is a local fake of a FHIR R4 server following Healthcode's conventions.
Nothing leaves this machine: bundles are kept in memory only and are gone when the sandbox
stops. This page refreshes every 5 seconds.</p>
<p>Discovery: <code>{{ base }}{{ discovery }}</code> · SSO: <code>{{ base }}{{ openid }}</code><br>
client_id <code>{{ client_id }}</code> · SU-SiteId <code>{{ site_id }}</code> ·
HC-API-Version <code>{{ versions }}</code></p>
<p>Tokens issued: {{ tokens_issued }} · bundle POSTs accepted: {{ bundle_posts }} (re-sends included)
· enquiries: {{ enquiries }}</p>
<p>Resources held:{% for (kind, n) in counts %} {{ kind }} {{ n }}{% if !loop.last %} ·{% endif %}{% endfor %}.
More of a type than enquiries means a re-send created duplicates.</p>
<p>As JSON: <a href="{{ base }}/_sandbox/bundles">bundles</a> ·
<a href="{{ base }}/_sandbox/resources">resources</a> ·
<a href="{{ base }}/_sandbox/faults">faults</a> ·
<a href="{{ base }}/_sandbox/stats">stats</a></p>
<h2>Accepted bundles ({{ bundles.len() }})</h2>
{% if bundles.is_empty() %}<p>None yet.</p>{% else %}
<table>
<tr><th>ServiceRequest</th><th>Enquiry</th><th>From</th><th>Written</th><th>Received (UTC)</th><th>Visit</th><th>Created</th><th>Re-send</th></tr>
{% for b in bundles %}<tr><td>{{ b.service_request }}</td><td>{{ b.identifier }}</td><td>{{ b.who }}</td><td>{{ b.authored_on }}</td><td>{{ b.received }}</td><td>{{ b.visit }}</td><td>{{ b.created }} of {{ b.entries }}</td><td>{{ b.repeat }}</td></tr>
{% endfor %}</table>{% endif %}
</body>
</html>
"#
)]
struct FhirSandboxPage {
    base: String,
    discovery: &'static str,
    openid: &'static str,
    client_id: String,
    site_id: String,
    versions: String,
    tokens_issued: u64,
    bundle_posts: u64,
    enquiries: usize,
    counts: Vec<(String, usize)>,
    bundles: Vec<BundleView>,
}

struct BundleView {
    service_request: String,
    identifier: String,
    who: String,
    authored_on: String,
    received: String,
    visit: &'static str,
    created: usize,
    entries: usize,
    repeat: &'static str,
}

pub async fn page(
    State(sandbox): State<FhirSandbox>,
    OriginalUri(original): OriginalUri,
) -> Response {
    let bundles = sandbox
        .accepted_bundles()
        .into_iter()
        .rev()
        .map(|b| BundleView {
            who: b.requester_name(),
            authored_on: b.authored_on(),
            received: b.received_at.format(&Rfc3339).unwrap_or_default(),
            visit: if b.ids.appointment.is_some() {
                "yes"
            } else {
                "no"
            },
            created: b.created(),
            entries: b.entries.len(),
            repeat: if b.repeat { "yes" } else { "" },
            service_request: b.ids.service_request,
            identifier: b.identifier,
        })
        .collect();
    let config = sandbox.config();
    let page = FhirSandboxPage {
        base: original.path().trim_end_matches('/').to_owned(),
        discovery: DISCOVERY_PATH,
        openid: OPENID_CONFIGURATION_PATH,
        client_id: config.client_id.clone(),
        site_id: config.site_id.clone(),
        versions: config.api_versions.join(", "),
        tokens_issued: sandbox.tokens_issued(),
        bundle_posts: sandbox.bundle_posts(),
        enquiries: sandbox.enquiry_count(),
        counts: sandbox.resource_counts().into_iter().collect(),
        bundles,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "fhir sandbox page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The FHIR sandbox page failed to render; the JSON view at /_sandbox/bundles still works.",
            )
                .into_response()
        }
    }
}
