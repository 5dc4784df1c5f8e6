//! The sandbox's HTML page at `/`: what it received, newest first, so a newcomer
//! running the quick start sees their enquiry arrive. Self-contained (no
//! external assets); askama escapes every value.

use askama::Template;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::Sandbox;
use super::records::carehq_date_time;

#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="5">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CareHQ sandbox</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
.note { background: #eef6ee; border-left: 4px solid #2e7d32; padding: .75rem 1rem; }
section { border: 1px solid #ccc; border-radius: 4px; margin: 1rem 0; padding: .5rem 1rem; }
th { text-align: left; padding-right: 1rem; vertical-align: top; font-weight: 600; }
td { white-space: pre-wrap; }
</style>
</head>
<body>
<h1>Local CareHQ sandbox</h1>
<p class="note">This is the local CareHQ sandbox. Nothing leaves this machine: what is sent here
is kept in memory only, never reaches a real CareHQ account and is gone when the sandbox stops.
This page refreshes every 5 seconds.</p>
<p>As JSON: <a href="{{ base }}_sandbox/enquiries">enquiries</a> ·
<a href="{{ base }}_sandbox/home-visits">home visits</a> ·
<a href="{{ base }}_sandbox/faults">faults</a></p>
<h2>Received care enquiries ({{ enquiries.len() }})</h2>
{% if enquiries.is_empty() %}<p>None yet. Send the demo form and the enquiry appears here once the relay has delivered it.</p>{% endif %}
{% for enquiry in enquiries %}
<section>
<h3>Enquiry {{ enquiry.id }}</h3>
<p>Received {{ enquiry.received }} UTC</p>
<table>
{% for field in enquiry.fields %}<tr><th>{{ field.name }}</th><td>{{ field.value }}</td></tr>
{% endfor %}</table>
</section>
{% endfor %}
<h2>Home visits ({{ visits.len() }})</h2>
{% if !visits.is_empty() %}<table>
<tr><th>Visit</th><th>Enquiry</th><th>When</th><th>Status</th></tr>
{% for visit in visits %}<tr><td>{{ visit.id }}</td><td>{{ visit.enquiry }}</td><td>{{ visit.date_time }}</td><td>{{ visit.status }}</td></tr>
{% endfor %}</table>{% endif %}
</body>
</html>
"#
)]
struct SandboxPage {
    base: String,
    enquiries: Vec<EnquiryView>,
    visits: Vec<VisitView>,
}

struct EnquiryView {
    id: String,
    received: String,
    fields: Vec<FieldView>,
}

struct FieldView {
    name: String,
    value: String,
}

struct VisitView {
    id: String,
    enquiry: String,
    date_time: String,
    status: String,
}

pub async fn page(State(sandbox): State<Sandbox>, OriginalUri(original): OriginalUri) -> Response {
    let enquiries = sandbox
        .received_enquiries()
        .into_iter()
        .rev()
        .map(|e| EnquiryView {
            id: e.id,
            received: carehq_date_time(e.received_at),
            fields: e
                .fields
                .into_iter()
                .map(|(name, value)| FieldView { name, value })
                .collect(),
        })
        .collect();
    let visits = sandbox
        .received_visits()
        .into_iter()
        .rev()
        .map(|v| VisitView {
            status: format!("{:?}", v.status()).to_lowercase(),
            id: v.id,
            enquiry: v.care_enquiry,
            date_time: v.date_time,
        })
        .collect();
    let page = SandboxPage {
        base: link_base(original.path()),
        enquiries,
        visits,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "sandbox page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The sandbox page failed to render; the JSON view at _sandbox/enquiries still works.",
            )
                .into_response()
        }
    }
}

/// Relative prefix for the page's links, whether it is served at `/`, at
/// `/sandbox` (nested, no trailing slash) or behind another prefix.
fn link_base(original_path: &str) -> String {
    if original_path.ends_with('/') {
        return String::new();
    }
    match original_path.rsplit('/').next() {
        Some(last) if !last.is_empty() => format!("{last}/"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_under_the_mount_point() {
        assert_eq!(link_base("/"), "");
        assert_eq!(link_base("/sandbox"), "sandbox/");
        assert_eq!(link_base("/tools/sandbox/"), "");
    }
}
