//! The two discovery documents (docs/design.md, "FHIR destination"): the
//! API discovery document (API key → absolute URI) and the SSO server's
//! `openid-configuration`. Their URIs follow the `move_endpoints` fault,
//! which is how a client is shown to take every endpoint from them.

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Uri, header};
use serde_json::{Map, Value, json};

use super::{BUNDLE_API_KEY, FhirSandbox, bundle_path, token_path};

/// `GET /.well-known/discovery-document.json`.
pub async fn api_discovery(
    State(sandbox): State<FhirSandbox>,
    headers: HeaderMap,
    OriginalUri(original): OriginalUri,
    uri: Uri,
) -> Json<Value> {
    let base = base_url(&sandbox, &headers, original.path(), uri.path());
    let moved = sandbox.state().faults.move_endpoints;
    let mut document = Map::new();
    document.insert(
        BUNDLE_API_KEY.to_owned(),
        json!(format!("{base}{}", bundle_path(moved))),
    );
    for (key, target) in &sandbox.config().extra_apis {
        let uri = if target.starts_with('/') {
            format!("{base}{target}")
        } else {
            target.clone()
        };
        document.insert(key.clone(), json!(uri));
    }
    Json(Value::Object(document))
}

/// `GET /.well-known/openid-configuration`: what a client-credentials client
/// needs (OpenID Connect Discovery 1.0 names, RFC 8414 semantics).
pub async fn openid_configuration(
    State(sandbox): State<FhirSandbox>,
    headers: HeaderMap,
    OriginalUri(original): OriginalUri,
    uri: Uri,
) -> Json<Value> {
    let base = base_url(&sandbox, &headers, original.path(), uri.path());
    let moved = sandbox.state().faults.move_endpoints;
    Json(json!({
        "issuer": base,
        "token_endpoint": format!("{base}{}", token_path(moved)),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
}

/// The base of the sandbox's URIs: the configured one, else `http://` + the
/// request's `Host` + the prefix the router is mounted under (what the
/// original path has before the path this router saw).
fn base_url(sandbox: &FhirSandbox, headers: &HeaderMap, original: &str, routed: &str) -> String {
    if let Some(base) = &sandbox.config().base_url {
        return base.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|host| is_plain_host(host))
        .unwrap_or("localhost");
    let prefix = original.strip_suffix(routed).unwrap_or_default();
    format!("http://{host}{prefix}")
}

/// A `Host` value that can go into a URI as it is (no path, no spaces).
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::super::FhirSandboxConfig;
    use super::*;

    fn host(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn the_base_comes_from_the_host_and_the_mount_prefix() {
        let sandbox = FhirSandbox::new(FhirSandboxConfig::default());
        let doc = "/.well-known/discovery-document.json";
        assert_eq!(
            base_url(&sandbox, &host("127.0.0.1:4000"), doc, doc),
            "http://127.0.0.1:4000"
        );
        assert_eq!(
            base_url(
                &sandbox,
                &host("[::1]:80"),
                &format!("/fhir-sandbox{doc}"),
                doc
            ),
            "http://[::1]:80/fhir-sandbox"
        );
        assert_eq!(
            base_url(&sandbox, &host("evil/path"), doc, doc),
            "http://localhost"
        );
    }

    #[test]
    fn a_configured_base_wins() {
        let sandbox = FhirSandbox::new(FhirSandboxConfig {
            base_url: Some("https://fhir.example/".into()),
            ..FhirSandboxConfig::default()
        });
        assert_eq!(
            base_url(&sandbox, &host("127.0.0.1:4000"), "/x", "/x"),
            "https://fhir.example"
        );
    }
}
