//! Loopback tests: the sandbox runs on 127.0.0.1:0 (through `serve`, or nested
//! in an outer router) and a reqwest client signs requests with the project's
//! own `carehq::signing`, exactly as CareHQ's clients do.

mod auth;
mod control;
mod enquiries;
mod faults;
mod listings;
mod visits;

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::Value;
use tokio::sync::oneshot;

use super::{Sandbox, SandboxConfig, seed, serve};
use crate::carehq::signing;

/// Every way CareHQ's official clients write a boolean (Python
/// `True`/`False`, PHP `1`/`0` and empty, JS/Ruby `true`/`false`), with the
/// value the sandbox must read.
pub const OFFICIAL_BOOLEANS: [(&str, bool); 7] = [
    ("true", true),
    ("True", true),
    ("1", true),
    ("false", false),
    ("False", false),
    ("0", false),
    ("", false),
];

/// A sandbox served on loopback, stopped when dropped.
pub struct Running {
    pub sandbox: Sandbox,
    /// `http://127.0.0.1:PORT` plus the mount prefix, no trailing slash.
    pub base: String,
    pub client: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

/// How a test wants a request signed; the defaults sign correctly.
#[derive(Clone, Default)]
pub struct Sign {
    pub timestamp: Option<i64>,
    pub nonce: Option<String>,
    pub secret: Option<String>,
    pub api_key: Option<String>,
    pub version: Option<String>,
    pub omit_header: Option<&'static str>,
    /// Appended to the URL unsigned (only meaningful on non-GET requests).
    pub extra_query: Option<&'static str>,
    /// Replaces the form Content-Type of a body.
    pub content_type: Option<&'static str>,
}

/// A sandbox with a high rate limit, so tests that send many requests are not throttled.
pub async fn start() -> Running {
    start_with(SandboxConfig {
        rate_limit_per_second: 1000,
        ..SandboxConfig::default()
    })
    .await
}

pub async fn start_with(config: SandboxConfig) -> Running {
    let sandbox = Sandbox::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    tokio::spawn(serve(listener, sandbox.clone(), shutdown));
    Running {
        sandbox,
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        _stop: stop,
    }
}

/// The sandbox nested at `/sandbox` inside an outer router, as the service mounts it.
pub async fn start_nested() -> Running {
    let sandbox = Sandbox::new(SandboxConfig::default());
    let app = axum::Router::new().nest("/sandbox", sandbox.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Running {
        sandbox,
        base: format!("http://{addr}/sandbox"),
        client: reqwest::Client::new(),
        _stop: stop,
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn owned(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn encode(params: &[(String, String)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        out.append_pair(k, v);
    }
    out.finish()
}

/// A complete, valid care enquiry for the demo home.
pub fn valid_enquiry() -> Vec<(&'static str, &'static str)> {
    vec![
        ("location", seed::DEMO_LOCATION),
        ("first_name", "Zoë"),
        ("last_name", "O'Brien"),
        ("email", "zoe@example.com"),
        ("genders", "male"),
        ("genders", "female"),
        ("funding_type", "not_sure"),
        ("service", "residential_home"),
        ("sales_channel", seed::DEMO_SALES_CHANNEL),
        ("untrusted_source", "true"),
        (
            "care_requirements",
            "Respite care from 1 March\nGround-floor room",
        ),
    ]
}

impl Running {
    /// A correctly signed request for `resource` (path without `/v1`).
    pub fn signed(
        &self,
        method: Method,
        resource: &str,
        params: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        self.signed_with(method, resource, params, &Sign::default())
    }

    pub fn signed_with(
        &self,
        method: Method,
        resource: &str,
        params: &[(&str, &str)],
        sign: &Sign,
    ) -> reqwest::RequestBuilder {
        let params = owned(params);
        let config = SandboxConfig::default();
        let timestamp = sign.timestamp.unwrap_or_else(now).to_string();
        let nonce = sign
            .nonce
            .clone()
            .unwrap_or_else(|| signing::new_nonce().unwrap());
        let secret = sign.secret.clone().unwrap_or(config.api_secret);
        let path = signing::signed_path(resource);
        let message = signing::string_to_sign(
            &timestamp,
            &nonce,
            method.as_str(),
            &path,
            &signing::canonical_string(&params),
        );
        let signature = signing::signature(&secret, &message);
        let encoded = encode(&params);
        let mut url = format!("{}{path}", self.base);
        if let Some(query) = sign.extra_query {
            url = format!("{url}?{query}");
        }
        let mut request = if method == Method::GET {
            let url = if encoded.is_empty() {
                url
            } else {
                format!("{url}?{encoded}")
            };
            self.client.request(method, url)
        } else {
            let mut r = self.client.request(method, url);
            if !encoded.is_empty() {
                r = r
                    .header(
                        "content-type",
                        sign.content_type
                            .unwrap_or("application/x-www-form-urlencoded"),
                    )
                    .body(encoded);
            }
            r
        };
        let headers = [
            ("X-CareHQ-AccountId", config.account_id),
            (
                "X-CareHQ-APIKey",
                sign.api_key.clone().unwrap_or(config.api_key),
            ),
            ("X-CareHQ-Timestamp", timestamp),
            ("X-CareHQ-Nonce", nonce),
            (
                "X-CareHQ-Signature-Version",
                sign.version
                    .clone()
                    .unwrap_or(signing::SIGNATURE_VERSION.into()),
            ),
            ("X-CareHQ-Signature", signature),
        ];
        for (name, value) in headers {
            if sign.omit_header != Some(name) {
                request = request.header(name, value);
            }
        }
        request.header("accept", "application/json")
    }

    /// Sends a signed request; returns the status and the JSON body.
    pub async fn call(
        &self,
        method: Method,
        resource: &str,
        params: &[(&str, &str)],
    ) -> (u16, Value) {
        let response = self.signed(method, resource, params).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Creates the valid enquiry and returns its `_id`.
    pub async fn create_enquiry(&self) -> String {
        let (status, body) = self
            .call(Method::PUT, "care-enquiries", &valid_enquiry())
            .await;
        assert_eq!(status, 200, "{body}");
        body["_id"].as_str().unwrap().to_owned()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }
}

/// The names in a 400's `arg_errors`.
pub fn arg_error_names(body: &Value) -> Vec<String> {
    body["arg_errors"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}
