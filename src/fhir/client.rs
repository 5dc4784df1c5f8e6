//! Talks to one FHIR destination the Healthcode way (docs/design.md, "FHIR destination"):
//! every endpoint from a discovery document, never hard-coded; an OAuth 2.0
//! client-credentials token from the SSO server's `openid-configuration`,
//! reused until shortly before it expires; `SU-SiteId`, `HC-API-Version`
//! (always sent), `Authorization: Bearer …` and `Content-Type:
//! application/fhir+json` on the Bundle's POST.
//!
//! Discovery and token calls change nothing and go through the retrying
//! client. The Bundle's POST goes out once: a timeout or 5xx may come after
//! the server stored it, so its retries stay in the outbox. A 401 to the
//! POST (the token expired or was revoked early) fetches a new token and
//! posts once more: a 401 means nothing was stored.
//!
//! The discovery documents decide where the client secret and the families'
//! details go, so what they name is checked before use: https only, or the
//! very origin of the (local, http) document that named it, which is how a
//! sandbox on this machine works (`endpoint_allowed`). A token endpoint that
//! answers 5xx, 408 or 429 is an outage, retried later, not a refusal of the
//! credentials (`FhirError::TokenUnavailable`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use reqwest_middleware::ClientWithMiddleware;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;
use tokio::sync::Mutex;

use super::error::FhirError;
use crate::outgoing::{MAX_ANSWER_BYTES, ReadError, RetrySafeMethods, read_capped};

/// A token is fetched again this long before it expires, so a POST never
/// carries one that runs out on the way.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// How long a token is taken to last when the SSO server does not say
/// (`expires_in` is only RECOMMENDED): a few minutes, so one token serves
/// many Bundles, and a token that ends sooner costs one 401 and a renewal.
const UNSTATED_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// The discovery documents are read again this often (docs/design.md, "FHIR
/// destination": endpoints may move without notice); a failed re-read keeps
/// the last good copy.
const DISCOVERY_TTL: Duration = Duration::from_secs(60 * 60);

/// What the client needs to know about its destination.
#[derive(Clone)]
pub struct FhirSettings {
    /// The API's discovery document (`…/.well-known/discovery-document.json`).
    pub discovery_url: String,
    /// The key in it whose URI receives the Bundle.
    pub api: String,
    /// The SSO server's `…/.well-known/openid-configuration`.
    pub sso_discovery_url: String,
    /// The API Key Id.
    pub client_id: String,
    /// The API Key.
    pub client_secret: SecretString,
    /// Sent as `SU-SiteId`.
    pub site_id: String,
    /// Sent as `HC-API-Version`.
    pub api_version: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for FhirSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirSettings")
            .field("discovery_url", &self.discovery_url)
            .field("api", &self.api)
            .field("client_id", &self.client_id)
            .field("site_id", &self.site_id)
            .finish_non_exhaustive()
    }
}

/// What the destination answered a Bundle with.
#[derive(Debug, Clone)]
pub struct FhirReply {
    pub status: u16,
    /// The JSON body (`Null` when empty, not JSON, or lost).
    pub body: Value,
    /// Why the body could not be read (it broke off, stalled or was too
    /// large) although the status line arrived. For a 2xx the server has
    /// stored the Bundle: it is a success whose created ids are unknown, and
    /// re-sending it would store it again.
    pub body_lost: Option<String>,
}

struct Token {
    value: SecretString,
    fresh_until: Instant,
}

/// One FHIR destination's client. Cheap to clone.
#[derive(Clone)]
pub struct FhirClient {
    once: reqwest::Client,
    retrying: ClientWithMiddleware,
    settings: Arc<FhirSettings>,
    token: Arc<Mutex<Option<Token>>>,
    /// The Bundle endpoint and the token endpoint, once discovered, and when.
    endpoints: Arc<Mutex<Option<Discovered>>>,
}

#[derive(Clone)]
struct Discovered {
    bundle: String,
    token: String,
    at: Instant,
    /// Read again at the next use: an endpoint answered 404 or refused the
    /// connection. Kept meanwhile, as the last good copy.
    stale: bool,
}

impl FhirClient {
    pub fn new(settings: FhirSettings) -> Result<FhirClient, FhirError> {
        let once = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            // A redirect would turn the POST into a GET somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("enquiry-relay/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FhirError::Prepare(e.to_string()))?;
        // Discovery GETs and the token POST are safe to repeat (a second
        // token is harmless); the Bundle's POST never goes through here.
        let retrying = reqwest_middleware::ClientBuilder::new(once.clone())
            .with(RetrySafeMethods::new(&[Method::GET, Method::POST]))
            .build();
        Ok(FhirClient {
            once,
            retrying,
            settings: Arc::new(settings),
            token: Arc::default(),
            endpoints: Arc::default(),
        })
    }

    /// POST `bundle` to the discovered endpoint. A 404 or a refused
    /// connection forgets the discovered endpoints, so the next send reads
    /// the discovery documents again (the endpoint may have moved).
    pub async fn send_bundle(&self, bundle: &Value) -> Result<FhirReply, FhirError> {
        let sent = self.try_send(bundle).await;
        if let Err(FhirError::Status { status: 404, .. } | FhirError::Connect(_)) = &sent {
            self.forget_endpoints().await;
        }
        sent
    }

    async fn try_send(&self, bundle: &Value) -> Result<FhirReply, FhirError> {
        let (endpoint, _) = self.endpoints().await?;
        let token = self.token(false).await?;
        let reply = self.post(&endpoint, &token, bundle).await?;
        if reply.status != StatusCode::UNAUTHORIZED.as_u16() {
            return judged(reply);
        }
        // Refused before anything was stored: a fresh token, one more try.
        let token = self.token(true).await?;
        judged(self.post(&endpoint, &token, bundle).await?)
    }

    async fn post(
        &self,
        endpoint: &str,
        token: &SecretString,
        bundle: &Value,
    ) -> Result<FhirReply, FhirError> {
        let s = &self.settings;
        let response = self
            .once
            .post(endpoint)
            .header(AUTHORIZATION, format!("Bearer {}", token.expose_secret()))
            .header(CONTENT_TYPE, "application/fhir+json")
            .header("SU-SiteId", &s.site_id)
            .header("HC-API-Version", &s.api_version)
            .body(bundle.to_string())
            .send()
            .await
            .map_err(FhirError::from_reqwest)?;
        let status = response.status().as_u16();
        let success = (200..300).contains(&status);
        let body_lost = match read_capped(response, MAX_ANSWER_BYTES).await {
            Ok(bytes) => {
                let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                return Ok(FhirReply {
                    status,
                    body,
                    body_lost: None,
                });
            }
            // The status line says the server stored the Bundle: a re-send
            // would store it again. Only the answer's ids are lost.
            Err(ReadError::Read(e)) if success => FhirError::from_reqwest(e).to_string(),
            // An error status too long to read is still that status.
            Err(too_large @ ReadError::TooLarge { .. }) => too_large.to_string(),
            // An error status whose answer broke off: the server may have
            // stored it after all (as with any broken exchange).
            Err(ReadError::Read(e)) => return Err(FhirError::from_reqwest(e)),
        };
        Ok(FhirReply {
            status,
            body: Value::Null,
            body_lost: Some(body_lost),
        })
    }

    /// The Bundle endpoint and the token endpoint, from the two discovery
    /// documents: read at the first use, again every `DISCOVERY_TTL` and
    /// after an endpoint failed (see `send_bundle`). A re-read that fails
    /// keeps the last good copy.
    async fn endpoints(&self) -> Result<(String, String), FhirError> {
        let mut known = self.endpoints.lock().await;
        if let Some(found) = known.as_ref()
            && !found.stale
            && found.at.elapsed() < DISCOVERY_TTL
        {
            return Ok((found.bundle.clone(), found.token.clone()));
        }
        match self.discover().await {
            Ok((bundle, token)) => {
                *known = Some(Discovered {
                    bundle: bundle.clone(),
                    token: token.clone(),
                    at: Instant::now(),
                    stale: false,
                });
                Ok((bundle, token))
            }
            Err(e) => match known.as_mut() {
                Some(last_good) => {
                    tracing::warn!(error = %e, "could not read the FHIR discovery documents again; using the last good copy");
                    last_good.at = Instant::now();
                    last_good.stale = false;
                    Ok((last_good.bundle.clone(), last_good.token.clone()))
                }
                None => Err(e),
            },
        }
    }

    /// Both discovery documents, read now.
    async fn discover(&self) -> Result<(String, String), FhirError> {
        let s = &self.settings;
        let api = self.get_json(&s.discovery_url).await?;
        let endpoint = uri_in(&api, &s.api).ok_or_else(|| {
            FhirError::Discovery(format!(
                "the discovery document at {} has no URI for \"{}\"; check the destination's api",
                s.discovery_url, s.api
            ))
        })?;
        endpoint_allowed(&endpoint, &s.discovery_url, &s.api)?;
        let sso = self.get_json(&s.sso_discovery_url).await?;
        let token_endpoint = (sso.get("token_endpoint").and_then(Value::as_str))
            .ok_or_else(|| {
                FhirError::Discovery(format!(
                    "the SSO discovery document at {} names no token_endpoint",
                    s.sso_discovery_url
                ))
            })?
            .to_owned();
        endpoint_allowed(&token_endpoint, &s.sso_discovery_url, "token_endpoint")?;
        Ok((endpoint, token_endpoint))
    }

    /// Read the discovery documents now, in the background, so a wrong URL
    /// shows in the log at start-up rather than at the first enquiry (a
    /// failure is tried again at the first send). `name`: the destination's.
    pub fn discover_in_background(&self, name: &str) {
        let (client, name) = (self.clone(), name.to_owned());
        tokio::spawn(async move {
            if let Err(e) = client.endpoints().await {
                tracing::warn!(destination = %name, error = %e, "could not read the FHIR discovery documents at start-up; trying again at the first send");
            }
        });
    }

    /// The next send reads the discovery documents again (the last good
    /// copy is kept in case that fails).
    pub async fn forget_endpoints(&self) {
        if let Some(found) = self.endpoints.lock().await.as_mut() {
            found.stale = true;
        }
    }

    /// The current token, or a new one when it is near its end (or `renew`).
    async fn token(&self, renew: bool) -> Result<SecretString, FhirError> {
        let mut held = self.token.lock().await;
        if !renew
            && let Some(token) = held.as_ref()
            && Instant::now() < token.fresh_until
        {
            return Ok(token.value.clone());
        }
        let (_, token_endpoint) = self.endpoints().await?;
        let s = &self.settings;
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &s.client_id)
            .append_pair("client_secret", s.client_secret.expose_secret())
            .finish();
        let asked = Instant::now();
        let response = self
            .retrying
            .post(&token_endpoint)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(FhirError::from_middleware)?;
        let status = response.status();
        let body: Value = match read_capped(response, MAX_ANSWER_BYTES).await {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            Err(too_large @ ReadError::TooLarge { .. }) => {
                return Err(FhirError::Token(format!(
                    "the token endpoint answered {status}, but {too_large}"
                )));
            }
            // Read as an answer without a token (or a reason): said below.
            Err(ReadError::Read(_)) => Value::Null,
        };
        // An outage or a request to slow down: no verdict on the credentials.
        if status.is_server_error()
            || status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::TOO_MANY_REQUESTS
        {
            return Err(FhirError::TokenUnavailable {
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            return Err(FhirError::Token(format!(
                "the token endpoint answered {status} ({}); check the destination's client_id and client_secret",
                body.get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given")
            )));
        }
        let value = (body.get("access_token").and_then(Value::as_str))
            .ok_or_else(|| FhirError::Token("the token endpoint sent no access_token".into()))?;
        let lifetime = (body.get("expires_in").and_then(Value::as_u64))
            .map_or(UNSTATED_LIFETIME, Duration::from_secs);
        let fresh_until = asked + lifetime.saturating_sub(TOKEN_MARGIN);
        let value = SecretString::from(value.to_owned());
        *held = Some(Token {
            value: value.clone(),
            fresh_until,
        });
        Ok(value)
    }

    async fn get_json(&self, url: &str) -> Result<Value, FhirError> {
        let response = (self.retrying.get(url).send().await).map_err(FhirError::from_middleware)?;
        let status = response.status();
        if !status.is_success() {
            return Err(FhirError::Discovery(format!("{url} answered {status}")));
        }
        let bytes = read_capped(response, MAX_ANSWER_BYTES).await.map_err(|e| {
            FhirError::Discovery(match e {
                ReadError::Read(e) => format!(
                    "reading {url}'s answer failed: {}",
                    crate::outgoing::error_chain(&e.without_url())
                ),
                too_large @ ReadError::TooLarge { .. } => format!("{url}: {too_large}"),
            })
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|_| FhirError::Discovery(format!("{url} did not answer with JSON")))
    }
}

/// `key`'s URI in a discovery document: the value itself, or its `uri` /
/// `url` when it is an object (both shapes are seen).
fn uri_in(document: &Value, key: &str) -> Option<String> {
    match document.get(key)? {
        Value::String(uri) => Some(uri.clone()),
        Value::Object(config) => (config.get("uri").or_else(|| config.get("url")))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

/// `Ok` when `endpoint` (named as `key` by the document at `document`) may
/// receive the client secret or a Bundle: an https URL, or an http one on
/// the document's own origin. The document's URL was checked at start-up
/// (https, or http on this machine only: a sandbox), so http never leaves
/// the machine and never reaches another port on it. Anything else is a
/// misconfigured or tampered document: nothing is sent there, and the last
/// good endpoints (if any) stay in use.
fn endpoint_allowed(endpoint: &str, document: &str, key: &str) -> Result<(), FhirError> {
    let refused = |why: &str| {
        FhirError::Discovery(format!(
            "the discovery document at {document} names {key} at {why}; the client secret and the families' details go only to https addresses, so nothing was sent there. Ask the destination's provider to correct the document"
        ))
    };
    let Ok(url) = reqwest::Url::parse(endpoint) else {
        return Err(refused("an address that is not a URL"));
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" => match reqwest::Url::parse(document) {
            Ok(doc) if doc.scheme() == "http" && doc.origin() == url.origin() => Ok(()),
            // Only where it points, not the whole URL (a query could carry a key).
            _ => Err(refused(&format!(
                "http://{}",
                url.host_str().unwrap_or_default()
            ))),
        },
        scheme => Err(refused(&format!("a {scheme}: address"))),
    }
}

/// A 2xx is the reply (even with its body lost); anything else the error
/// it stands for.
fn judged(reply: FhirReply) -> Result<FhirReply, FhirError> {
    match reply.status {
        200..=299 => Ok(reply),
        status => Err(FhirError::Status {
            status,
            outcome: match &reply.body_lost {
                // Our words, not the server's: nothing the family wrote.
                Some(lost) => format!("the server's OperationOutcome is unknown: {lost}"),
                None => super::error::diagnostics(&reply.body),
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn discovered_endpoints_are_https_or_the_local_documents_own_origin() {
        let remote = "https://fhir.example/.well-known/discovery-document.json";
        let local = "http://127.0.0.1:8091/.well-known/discovery-document.json";
        assert!(endpoint_allowed("https://fhir.example/bundles", remote, "api").is_ok());
        assert!(endpoint_allowed("https://elsewhere.example/t", remote, "api").is_ok());
        assert!(endpoint_allowed("http://127.0.0.1:8091/token", local, "t").is_ok());
        for (endpoint, document) in [
            ("http://fhir.example/bundles", remote),
            ("http://127.0.0.1:8092/token", local),
            ("http://evil.example:8091/token", local),
            ("ftp://fhir.example/x", remote),
            ("not a url", remote),
        ] {
            let refused = endpoint_allowed(endpoint, document, "token_endpoint").unwrap_err();
            assert!(
                matches!(&refused, FhirError::Discovery(why) if why.contains("only to https")),
                "{endpoint}: {refused}"
            );
        }
    }

    #[test]
    fn a_discovered_uri_is_a_string_or_an_objects_uri() {
        let doc = json!({"a": "https://x/a", "b": {"uri": "https://x/b"}, "c": {"url": "https://x/c"}, "d": 1});
        assert_eq!(uri_in(&doc, "a").as_deref(), Some("https://x/a"));
        assert_eq!(uri_in(&doc, "b").as_deref(), Some("https://x/b"));
        assert_eq!(uri_in(&doc, "c").as_deref(), Some("https://x/c"));
        assert_eq!(uri_in(&doc, "d"), None);
        assert_eq!(uri_in(&doc, "e"), None);
    }
}
