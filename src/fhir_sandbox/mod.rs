//! FHIR sandbox: a local fake of a FHIR R4 server that follows Healthcode's
//! API conventions (docs/design.md, "FHIR destination").
//!
//! Owns the public sandbox API (config, handle, `serve`) and the assembly of
//! its router. The FHIR client and its tests talk to it over loopback; a person
//! can run it and watch bundles arrive on its page.
//!
//! Routes (relative to wherever the router is mounted):
//! - `/.well-known/discovery-document.json`: API key → absolute URI;
//! - `/.well-known/openid-configuration`: the SSO discovery document;
//! - the token endpoint (OAuth 2.0 client credentials) and the bundle
//!   endpoint (a FHIR `transaction` Bundle), both found only through those
//!   documents: the `move_endpoints` fault relocates them;
//! - `/_sandbox/...`: JSON control and view routes, no authentication;
//! - `/`: a small HTML page listing the accepted bundles.
//!
//! Bundles are applied entry by entry, each resource kept per type with its
//! identifiers (`store`), so a re-send that is not fully conditional leaves
//! duplicates to count, as a real FHIR server would.

mod bundle;
mod control;
mod discovery;
mod errors;
mod faults;
mod gate;
mod identifier;
mod page;
mod records;
pub mod seed;
mod state;
mod store;
mod token;
mod validate;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};

pub use faults::Faults;
pub use identifier::Identifier;
pub use records::{AcceptedBundle, ResourceIds};
pub use store::{Outcome, StoredResource};

use state::State;

/// Where the SSO discovery document lives (OpenID Connect Discovery's path).
pub const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
/// Where the API discovery document lives (docs/design.md, "FHIR destination").
pub const DISCOVERY_PATH: &str = "/.well-known/discovery-document.json";
/// The discovery key whose URI receives the bundles (`api` in docs/design.md,
/// "FHIR destination").
pub const BUNDLE_API_KEY: &str = "care-enquiries";

/// The token and bundle endpoints, where they normally are and where the
/// `move_endpoints` fault puts them. Only the discovery documents say which
/// is live, so a client that hard-codes either gets a 404.
const TOKEN_PATH: &str = "/connect/token";
const MOVED_TOKEN_PATH: &str = "/moved/connect/token";
const BUNDLE_PATH: &str = "/fhir/r4/care-enquiries";
const MOVED_BUNDLE_PATH: &str = "/moved/fhir/r4/care-enquiries";

/// The live token endpoint path.
fn token_path(moved: bool) -> &'static str {
    if moved { MOVED_TOKEN_PATH } else { TOKEN_PATH }
}

/// The live bundle endpoint path.
fn bundle_path(moved: bool) -> &'static str {
    if moved {
        MOVED_BUNDLE_PATH
    } else {
        BUNDLE_PATH
    }
}

/// Credentials, site and token lifetime of one sandbox instance.
#[derive(Clone)]
pub struct FhirSandboxConfig {
    /// The API Key Id (OAuth `client_id`).
    pub client_id: String,
    /// The API Key (OAuth `client_secret`).
    pub client_secret: String,
    /// The only `SU-SiteId` the bundle endpoint accepts.
    pub site_id: String,
    /// `HC-API-Version` values the bundle endpoint accepts.
    pub api_versions: Vec<String>,
    /// The `expires_in` of issued tokens; they stop working after it.
    pub token_expires_in: Duration,
    /// Leave `expires_in` out of the token answer (it is only RECOMMENDED
    /// in RFC 6749), as some SSO servers do; tokens still stop working
    /// after `token_expires_in`.
    pub omit_expires_in: bool,
    /// Base of the URIs in the discovery documents (e.g.
    /// `https://fhir.example`), no trailing slash. None: `http://` + the
    /// request's `Host` + the mount prefix, which is right on loopback.
    pub base_url: Option<String>,
    /// Further discovery keys → a path under the base (`/…`) or an absolute
    /// URI, so a client has to pick its key rather than the only one.
    pub extra_apis: Vec<(String, String)>,
}

impl Default for FhirSandboxConfig {
    fn default() -> Self {
        FhirSandboxConfig {
            client_id: seed::CLIENT_ID.to_owned(),
            client_secret: seed::CLIENT_SECRET.to_owned(),
            site_id: seed::SITE_ID.to_owned(),
            api_versions: vec![seed::API_VERSION.to_owned()],
            token_expires_in: Duration::from_secs(3600),
            omit_expires_in: false,
            base_url: None,
            extra_apis: seed::EXTRA_APIS
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }
}

// The secret is redacted even though the default one is public: a sandbox may
// be configured with credentials copied from a real subscription.
impl std::fmt::Debug for FhirSandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirSandboxConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("site_id", &self.site_id)
            .field("api_versions", &self.api_versions)
            .field("token_expires_in", &self.token_expires_in)
            .field("omit_expires_in", &self.omit_expires_in)
            .field("base_url", &self.base_url)
            .field("extra_apis", &self.extra_apis)
            .finish()
    }
}

/// A running FHIR sandbox's shared state; cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct FhirSandbox {
    inner: Arc<Inner>,
}

struct Inner {
    config: FhirSandboxConfig,
    state: Mutex<State>,
    /// Serial of issued tokens. Never reset, so a token from before a
    /// `reset` can never match one issued after it.
    token_serial: AtomicU64,
}

impl std::fmt::Debug for FhirSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirSandbox")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl FhirSandbox {
    /// A sandbox with no tokens, no bundles and no faults.
    pub fn new(config: FhirSandboxConfig) -> FhirSandbox {
        FhirSandbox {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State::new()),
                token_serial: AtomicU64::new(0),
            }),
        }
    }

    /// Every route, state applied: nest it anywhere or serve it at the root.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route(DISCOVERY_PATH, get(discovery::api_discovery))
            .route(
                OPENID_CONFIGURATION_PATH,
                get(discovery::openid_configuration),
            )
            .route(TOKEN_PATH, post(token::issue))
            .route(MOVED_TOKEN_PATH, post(token::issue))
            .route(BUNDLE_PATH, post(bundle::receive))
            .route(MOVED_BUNDLE_PATH, post(bundle::receive))
            .method_not_allowed_fallback(gate::wrong_method)
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                gate::gate,
            ))
            .with_state(self.clone());
        api.merge(control::router(self.clone()))
    }

    /// Every bundle POST accepted, re-sends included, oldest first.
    pub fn accepted_bundles(&self) -> Vec<AcceptedBundle> {
        self.state().bundles.clone()
    }

    /// Distinct enquiries received: distinct ServiceRequest identifiers
    /// among the accepted bundles.
    pub fn enquiry_count(&self) -> usize {
        let state = self.state();
        let identifiers: std::collections::HashSet<&str> = (state.bundles.iter())
            .map(|b| b.identifier.as_str())
            .collect();
        identifiers.len()
    }

    /// Bundle POSTs accepted, re-sends included.
    pub fn bundle_posts(&self) -> u64 {
        self.state().bundles.len() as u64
    }

    /// Every `resource_type` resource held (`Patient`, `RelatedPerson`,
    /// `ServiceRequest`, `Appointment`), oldest first.
    pub fn resources(&self, resource_type: &str) -> Vec<StoredResource> {
        self.state().resources.of_type(resource_type).to_vec()
    }

    /// How many `resource_type` resources have the identifier `system|value`:
    /// more than one is a duplicate.
    pub fn count_with_identifier(&self, resource_type: &str, system: &str, value: &str) -> usize {
        let search = identifier::IdentifierSearch::token(&format!("{system}|{value}"));
        search.map_or(0, |search| {
            self.state().resources.find(resource_type, &search).len()
        })
    }

    /// Resource type → how many are held.
    pub fn resource_counts(&self) -> std::collections::BTreeMap<String, usize> {
        self.state().resources.counts()
    }

    /// Access tokens issued since the start (or the last reset).
    pub fn tokens_issued(&self) -> u64 {
        self.state().tokens_issued
    }

    /// Every request that reached the API routes (not `/_sandbox` or `/`).
    pub fn request_count(&self) -> u64 {
        self.state().request_count
    }

    /// Revokes every token issued so far, as an SSO server does when a key
    /// is rotated: the next bundle POST with one gets a 401.
    pub fn revoke_tokens(&self) {
        self.state().tokens.clear();
    }

    /// Replaces the active faults (an empty `Faults` clears them).
    pub fn set_faults(&self, faults: Faults) {
        self.state().faults = faults;
    }

    /// The active faults; the countdowns fall as forced answers are sent.
    pub fn faults(&self) -> Faults {
        self.state().faults.clone()
    }

    /// Back to a fresh sandbox: tokens, bundles, resources, faults and
    /// counters cleared.
    pub fn reset(&self) {
        *self.state() = State::new();
    }

    pub(crate) fn config(&self) -> &FhirSandboxConfig {
        &self.inner.config
    }

    fn next_token_serial(&self) -> u64 {
        self.inner.token_serial.fetch_add(1, Ordering::Relaxed) + 1
    }

    // A panic while holding the lock cannot leave the records half-written in
    // a way that matters for a fake, so a poisoned lock is simply taken over.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Runs the sandbox alone: logs its URLs and serves on `listener` until
/// `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    sandbox: FhirSandbox,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(
        url = %format!("http://{addr}/"),
        discovery = %format!("http://{addr}{DISCOVERY_PATH}"),
        sso_discovery = %format!("http://{addr}{OPENID_CONFIGURATION_PATH}"),
        client_id = %sandbox.config().client_id,
        site_id = %sandbox.config().site_id,
        "FHIR sandbox listening; open the URL to see accepted bundles"
    );
    let app = sandbox.router().fallback(control::not_found);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
