//! The CareHQ HTTP client: signs each request (v2.0), sends it, parses the
//! answer and its rate-limit headers.
//!
//! Only `GET`s are retried here (a few times, on transport failures and 5xx).
//! `PUT care-enquiries` and `PUT home-visits` are sent once: they are not
//! idempotent, so a blind retry after a timeout could create a second
//! enquiry. Their retries belong to the outbox, where each attempt is recorded.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderValue;
use reqwest_middleware::{ClientWithMiddleware, Middleware, Next};
use secrecy::{ExposeSecret, SecretString};

use crate::outgoing::{MAX_ANSWER_BYTES, ReadError, RetrySafeMethods, read_capped};

use super::error::CareHqError;
use super::rate_limit::{RateLimit, RateLimitGate};
use super::signing;

/// Where CareHQ is and how to authenticate.
#[derive(Clone)]
pub struct ClientSettings {
    /// e.g. `https://api.carehq.co.uk` (no `/v1`, no trailing slash).
    pub base_url: String,
    pub account_id: String,
    pub api_key: SecretString,
    pub api_secret: SecretString,
    pub timeout: Duration,
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("base_url", &self.base_url)
            .field("account_id", &self.account_id)
            .field("api_key", &"[redacted]")
            .field("api_secret", &"[redacted]")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A successful answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// The JSON body (`Null` for an empty body, e.g. 204).
    pub body: serde_json::Value,
    pub rate_limit: Option<RateLimit>,
    /// Why the body could not be read, when the status line said success but
    /// the rest of the answer broke off or stalled: CareHQ has the record,
    /// only its Id is unknown.
    pub body_lost: Option<String>,
}

impl Reply {
    /// The `_id` of the object CareHQ returned, if it returned one.
    pub fn id(&self) -> Option<String> {
        self.body
            .get("_id")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    }
}

/// Talks to one CareHQ account. Cheap to clone.
#[derive(Clone, Debug)]
pub struct CareHqClient {
    /// Sends once: creates (`PUT`) and anything else not known to be safe.
    once: ClientWithMiddleware,
    /// Retries: only `GET`s go through it.
    retrying: ClientWithMiddleware,
    settings: Arc<ClientSettings>,
    gate: Arc<RateLimitGate>,
}

/// What a request is signed over; the signing middleware signs each try
/// afresh (a retry needs its own timestamp and nonce: CareHQ refuses a
/// nonce it has seen).
#[derive(Clone)]
struct Signable {
    method: Method,
    path: String,
    canonical: String,
}

/// Adds the v2.0 signature headers to every try of a request.
struct Sign {
    settings: Arc<ClientSettings>,
}

#[async_trait::async_trait]
impl Middleware for Sign {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let signable = extensions
            .get::<Signable>()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("a CareHQ request without what it is signed over"))?;
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
        let nonce = signing::new_nonce()
            .map_err(|e| anyhow::anyhow!("no randomness for the nonce: {e}"))?;
        let message = signing::string_to_sign(
            &timestamp,
            &nonce,
            signable.method.as_str(),
            &signable.path,
            &signable.canonical,
        );
        let signature = signing::signature(self.settings.api_secret.expose_secret(), &message);
        let headers = req.headers_mut();
        for (name, value) in [
            ("x-carehq-timestamp", timestamp),
            ("x-carehq-nonce", nonce),
            ("x-carehq-signature", signature),
        ] {
            let value = HeaderValue::from_str(&value).map_err(anyhow::Error::from)?;
            headers.insert(name, value);
        }
        next.run(req, extensions).await
    }
}

impl CareHqClient {
    pub fn new(settings: ClientSettings) -> Result<CareHqClient, CareHqError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            // A redirect would turn a PUT into something else; CareHQ's API does not
            // redirect, so one means a wrong base URL and is reported as such.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("enquiry-relay/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CareHqError::Prepare(e.to_string()))?;
        let settings = Arc::new(settings);
        let sign = || Sign {
            settings: Arc::clone(&settings),
        };
        // `PUT care-enquiries` / `PUT home-visits` go through `once`, never
        // through the retry middleware: a retry after a timeout or 5xx could
        // duplicate the record. Their retries stay in the outbox (`sync`).
        let once = reqwest_middleware::ClientBuilder::new(http.clone())
            .with(sign())
            .build();
        // `GET`s (locations, groups, `check --remote`) change nothing and are
        // retried; `RetrySafeMethods` would pass anything else through once
        // even if it were sent here. Signing comes after the retry, so each
        // try is signed with a fresh nonce.
        let retrying = reqwest_middleware::ClientBuilder::new(http)
            .with(RetrySafeMethods::new(&[Method::GET]))
            .with(sign())
            .build();
        Ok(CareHqClient {
            once,
            retrying,
            settings,
            gate: Arc::default(),
        })
    }

    /// The rate-limit memory this client updates on every answer.
    pub fn gate(&self) -> &Arc<RateLimitGate> {
        &self.gate
    }

    pub fn base_url(&self) -> &str {
        &self.settings.base_url
    }

    /// `PUT /v1/care-enquiries`: create a care enquiry from exactly these pairs.
    pub async fn create_care_enquiry(
        &self,
        params: &[(String, String)],
    ) -> Result<Reply, CareHqError> {
        self.call(Method::PUT, "care-enquiries", params).await
    }

    /// `PUT /v1/home-visits`: book a home visit.
    pub async fn create_home_visit(
        &self,
        params: &[(String, String)],
    ) -> Result<Reply, CareHqError> {
        self.call(Method::PUT, "home-visits", params).await
    }

    /// A `GET` of a list or an object (locations, groups).
    pub async fn get(
        &self,
        resource: &str,
        params: &[(String, String)],
    ) -> Result<Reply, CareHqError> {
        self.call(Method::GET, resource, params).await
    }

    /// Sign and send one request. GET signs and sends the query; every other
    /// method signs and sends the form body, and nothing in the query.
    pub async fn call(
        &self,
        method: Method,
        resource: &str,
        params: &[(String, String)],
    ) -> Result<Reply, CareHqError> {
        let path = signing::signed_path(resource);
        let signable = Signable {
            method: method.clone(),
            path: path.clone(),
            canonical: signing::canonical_string(params),
        };
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let url = format!("{}{}", self.settings.base_url.trim_end_matches('/'), path);

        let http = if method == Method::GET {
            &self.retrying
        } else {
            &self.once
        };
        let mut request = http
            .request(
                method.clone(),
                if method == Method::GET && !encoded.is_empty() {
                    format!("{url}?{encoded}")
                } else {
                    url
                },
            )
            .header("X-CareHQ-AccountId", &self.settings.account_id)
            .header("X-CareHQ-APIKey", self.settings.api_key.expose_secret())
            .header("X-CareHQ-Signature-Version", signing::SIGNATURE_VERSION)
            .header(reqwest::header::ACCEPT, "application/json")
            .with_extension(signable);
        if method != Method::GET && !params.is_empty() {
            request = request
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(encoded);
        }

        let response = request.send().await?;
        let status = response.status().as_u16();
        let rate_limit = RateLimit::from_headers(response.headers());
        let now = crate::storage::now_ms();
        self.gate.observe(rate_limit, now);
        let read = read_capped(response, MAX_ANSWER_BYTES).await;
        if (200..300).contains(&status) {
            let (body, body_lost) = match read {
                // CareHQ's create answer is not documented; an empty or non-JSON
                // success is still a success (retrying it would duplicate the enquiry).
                Ok(bytes) => (
                    serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
                    None,
                ),
                // The status line already says CareHQ acted: re-sending would make
                // a duplicate. Only the body (the new record's Id) is lost.
                Err(ReadError::Read(e)) => (
                    serde_json::Value::Null,
                    Some(CareHqError::from(e).to_string()),
                ),
                Err(too_large @ ReadError::TooLarge { .. }) => {
                    (serde_json::Value::Null, Some(too_large.to_string()))
                }
            };
            return Ok(Reply {
                status,
                body,
                rate_limit,
                body_lost,
            });
        }
        let (hint, arg_errors) = match read {
            Ok(bytes) => {
                let body: serde_json::Value =
                    serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
                (
                    body.get("hint").and_then(|h| h.as_str()).map(str::to_owned),
                    body.get("arg_errors").filter(|v| !v.is_null()).cloned(),
                )
            }
            // An error status too long to read is still that status: CareHQ
            // said what it did; only its hint is lost, and the hint says so
            // (in our words: nothing the family typed).
            Err(too_large @ ReadError::TooLarge { .. }) => {
                (Some(format!("CareHQ's hint is unknown: {too_large}")), None)
            }
            // A transport error: for a create, CareHQ may have acted.
            Err(ReadError::Read(e)) => return Err(e.into()),
        };
        if status == 429 {
            self.gate.too_many_requests(rate_limit, now);
        }
        Err(CareHqError::Status {
            status,
            hint,
            arg_errors,
            rate_limit,
        })
    }
}
