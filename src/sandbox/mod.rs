//! CareHQ sandbox: a faithful local fake of the CareHQ endpoints enquiry-relay uses.
//!
//! Owns the public sandbox API (config, handle, `serve`) and the assembly of its
//! router. The quick start, local development and the integration tests all talk
//! to it over real HTTP, signed exactly as CareHQ expects (docs/carehq-api.md).
//!
//! Routes (relative to wherever the router is mounted):
//! - `/v1/...`: CareHQ's own endpoints, authenticated, rate limited, faultable;
//! - `/_sandbox/...`: JSON control and view routes, no authentication;
//! - `/`: a small HTML page listing what the sandbox received.

mod auth;
mod control;
mod enquiries;
mod error;
pub(crate) mod fault_kit;
mod faults;
mod gate;
mod listings;
mod page;
mod params;
mod rate_limit;
mod records;
pub mod seed;
mod state;
mod visits;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, put};

pub use faults::{Faults, RefusedValue};
pub use records::{HomeVisit, ReceivedEnquiry, VisitStatus};

use state::State;

/// Credentials and limits of one sandbox instance.
#[derive(Clone)]
pub struct SandboxConfig {
    pub account_id: String,
    pub api_key: String,
    pub api_secret: String,
    /// How far a request's timestamp may be from the sandbox clock, either way;
    /// nonces are remembered for as long as their timestamp stays acceptable.
    pub timestamp_window: Duration,
    /// Requests allowed per fixed one-second window (0 refuses everything).
    pub rate_limit_per_second: u32,
    /// The key may read care enquiries (`GET care-enquiries`). Off, as CareHQ
    /// advises for a website's key: `check --remote` warns when it is on.
    pub key_can_read_enquiries: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            account_id: seed::ACCOUNT_ID.to_owned(),
            api_key: seed::API_KEY.to_owned(),
            api_secret: seed::API_SECRET.to_owned(),
            timestamp_window: Duration::from_secs(300),
            rate_limit_per_second: 10,
            key_can_read_enquiries: false,
        }
    }
}

// The secret is redacted even though the default one is public: a sandbox may be
// configured with credentials copied from a real account.
impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("account_id", &self.account_id)
            .field("api_key", &self.api_key)
            .field("api_secret", &"[redacted]")
            .field("timestamp_window", &self.timestamp_window)
            .field("rate_limit_per_second", &self.rate_limit_per_second)
            .field("key_can_read_enquiries", &self.key_can_read_enquiries)
            .finish()
    }
}

/// A running sandbox's shared state; cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    config: SandboxConfig,
    state: Mutex<State>,
    /// Each change ends the latency fault's waits (`release_held`).
    held: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// A sandbox that knows `seed::LOCATIONS` and `seed::GROUPS` and holds no records.
    pub fn new(config: SandboxConfig) -> Sandbox {
        Sandbox {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State::new()),
                held: tokio::sync::watch::Sender::new(0),
            }),
        }
    }

    /// Every route, state applied: nest it anywhere or serve it at the root.
    pub fn router(&self) -> Router {
        let v1 = Router::new()
            .route(
                "/care-enquiries",
                put(enquiries::create).get(listings::care_enquiries),
            )
            .route("/locations", get(listings::locations))
            .route("/groups", get(listings::groups))
            .route("/home-visits", put(visits::create).get(visits::list))
            .route(
                "/home-visits/{id}",
                get(visits::retrieve).patch(visits::update),
            )
            .route(
                "/home-visits/{id}/cancel",
                axum::routing::patch(visits::cancel),
            )
            .route(
                "/home-visits/{id}/complete",
                axum::routing::patch(visits::complete),
            )
            .fallback(gate::unknown_endpoint)
            .method_not_allowed_fallback(gate::wrong_method)
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                gate::gate,
            ))
            .with_state(self.clone());
        Router::new()
            .nest("/v1", v1)
            .merge(control::router(self.clone()))
    }

    /// Enquiries created through `PUT /v1/care-enquiries`, oldest first.
    pub fn received_enquiries(&self) -> Vec<ReceivedEnquiry> {
        self.state().enquiries.clone()
    }

    /// Home visits created through `PUT /v1/home-visits`, oldest first.
    pub fn received_visits(&self) -> Vec<HomeVisit> {
        self.state().visits.clone()
    }

    /// Replaces the active faults (an empty `Faults` clears them).
    pub fn set_faults(&self, faults: Faults) {
        self.state().faults = faults;
    }

    /// The active faults; `status_times` counts down as forced answers are sent.
    pub fn faults(&self) -> Faults {
        self.state().faults.clone()
    }

    /// Answer now every request the latency fault is holding.
    pub fn release_held(&self) {
        self.inner.held.send_modify(|releases| *releases += 1);
    }

    /// What a request's latency wait listens to, from now on.
    pub(crate) fn held(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.held.subscribe()
    }

    /// Every request that reached `/v1`, refused ones included.
    pub fn request_count(&self) -> u64 {
        self.state().request_count
    }

    /// `/v1` requests answered 429 (the real limit or the forced fault).
    pub fn too_many_requests_count(&self) -> u64 {
        self.state().too_many_requests_count
    }

    /// Back to a freshly seeded sandbox: records, nonces, faults and counters cleared.
    pub fn reset(&self) {
        *self.state() = State::new();
    }

    pub(crate) fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    // A panic while holding the lock cannot leave the records half-written in a
    // way that matters for a fake, so a poisoned lock is simply taken over.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Runs the sandbox alone (the `enquiry-relay sandbox` command): logs the URL and
/// serves on `listener` until `shutdown` resolves.
impl Sandbox {
    /// The router served alone: every route, and the sandbox's own 404.
    pub fn app(&self) -> Router {
        self.router().fallback(control::not_found)
    }
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    sandbox: Sandbox,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(
        url = %format!("http://{addr}/"),
        api_base = %format!("http://{addr}/v1/"),
        account_id = %sandbox.config().account_id,
        api_key = %sandbox.config().api_key,
        "CareHQ sandbox listening; open the URL to see received enquiries"
    );
    serve_app(listener, sandbox.app(), shutdown).await
}

/// Serve `app` (a sandbox's [`Sandbox::app`], perhaps with more nested in
/// it) until `shutdown` resolves.
pub async fn serve_app(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
