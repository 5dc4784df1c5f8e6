//! Building and running the service: one way to boot, used by `serve` and by
//! the tests (which pass `listen = 127.0.0.1:0`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use secrecy::{ExposeSecret as _, SecretString};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::carehq::{CareHqClient, ClientSettings};
use crate::config::{AccountSettings, DEFAULT_ACCOUNT, Settings};
use crate::fhir::{FhirClient, FhirError, FhirSettings};
use crate::http::{AppState, Readiness, router};
use crate::sandbox::{Sandbox, SandboxConfig, seed};
use crate::storage::{KeyRing, PoolSettings, Sealing, Store};
use crate::sync::{SyncWorker, fallback_mailer};

/// A built, bound, not yet running service.
pub struct Application {
    listener: TcpListener,
    router: Router,
    worker: SyncWorker,
    shutdown: CancellationToken,
    /// Cancelled to start the drain (`server.drain`), after which
    /// `shutdown` is cancelled.
    draining: CancellationToken,
    local_addr: SocketAddr,
    sandbox: Option<Sandbox>,
    settings: Arc<Settings>,
    /// For the daily retention job.
    store: Store,
    /// Whether `run_until_stopped` runs the sync worker and alert loops (off
    /// for tests that drive them one step at a time).
    background: bool,
}

impl Application {
    /// Open the database (and migrate it), bind the listener, wire the worker.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let store = open_store(&settings).await?;
        let token_keys = store
            .time_token_keys(
                settings.spam.token_secret.as_ref(),
                &settings.spam.initial_key,
            )
            .await
            .context("could not read or store the time-token key (table time_token_keys)")?;
        crate::ops::metrics::init();
        let listener = TcpListener::bind(settings.server.listen)
            .await
            .with_context(|| {
                format!(
                    "could not listen on {} (server.listen); is another process using it?",
                    settings.server.listen
                )
            })?;
        let local_addr = listener.local_addr()?;
        let sandbox = settings
            .sandbox_mode()
            .then(|| Sandbox::new(SandboxConfig::default()));
        // Each further account has a sandbox of its own, checking its own
        // credentials, as each provider has its own CareHQ account.
        let account_sandboxes: Vec<(String, Sandbox)> = match settings.sandbox_mode() {
            false => Vec::new(),
            true => (settings.accounts.iter())
                .filter(|account| account.name != DEFAULT_ACCOUNT)
                .map(|account| {
                    let config = SandboxConfig {
                        account_id: account.account_id.clone(),
                        api_key: account.api_key.expose_secret().to_owned(),
                        api_secret: account.api_secret.expose_secret().to_owned(),
                        ..SandboxConfig::default()
                    };
                    (account.name.clone(), Sandbox::new(config))
                })
                .collect(),
        };
        let clients =
            carehq_clients(&settings, local_addr).context("could not build the CareHQ client")?;
        let rate_limits = (clients.iter())
            .map(|(account, client)| (account.clone(), Arc::clone(client.gate())))
            .collect();
        let settings = Arc::new(settings);
        let mailer = fallback_mailer(&settings).map_err(anyhow::Error::msg)?;
        let destinations =
            fhir_clients(&settings, local_addr).context("could not build a FHIR client")?;
        let worker = SyncWorker::new(
            store.clone(),
            clients,
            mailer,
            destinations,
            Arc::clone(&settings),
        );
        let draining = CancellationToken::new();
        let state = AppState {
            settings: Arc::clone(&settings),
            store: store.clone(),
            worker: worker.handle(),
            worker_max_silence: SyncWorker::max_silence(&settings),
            readiness: Readiness::new(store.clone(), draining.clone()),
            rate_limits,
            spam: Arc::new(crate::spam::SpamGuard::new(&settings, &token_keys)),
            captcha: Arc::new(crate::captcha::Captcha::new(
                reqwest::Client::builder()
                    .build()
                    .context("could not build the CAPTCHA client")?,
                store.clone(),
            )),
            staff_throttle: Arc::new(crate::http::StaffThrottle::new(
                settings.rate_limit.max_tracked_addresses,
            )),
            partner_throttle: Arc::new(crate::http::StaffThrottle::for_partner_webhooks(
                settings.rate_limit.max_tracked_addresses,
            )),
        };
        let mut router = router(state);
        if let Some(sandbox) = &sandbox {
            router = router
                .nest("/sandbox", sandbox.router())
                // A nested router's root does not match with a trailing slash;
                // `/sandbox/` is the address the log and README give.
                .route(
                    "/sandbox/",
                    axum::routing::get(|| async {
                        axum::response::Redirect::permanent("/sandbox")
                    }),
                );
        }
        for (name, sandbox) in &account_sandboxes {
            router = router.nest(&account_sandbox_path(name), sandbox.router());
        }
        // Sandbox mode's destinations go to an in-process FHIR sandbox.
        if settings.sandbox_mode() && !settings.destinations.is_empty() {
            let fhir = crate::fhir_sandbox::FhirSandbox::new(Default::default());
            router = router.nest(FHIR_SANDBOX_PATH, fhir.router());
        }
        Ok(Application {
            listener,
            router,
            worker,
            shutdown: CancellationToken::new(),
            draining,
            local_addr,
            sandbox,
            settings,
            store,
            background: true,
        })
    }

    /// Serve HTTP without the sync worker and alert loops: deliveries and
    /// alert checks then happen only when the caller drives them, through
    /// `sync_worker().drain_once()` and `alert_checker()`. The WAL checkpoint
    /// and retention loops still run. For tests.
    pub fn without_background_loops(mut self) -> Application {
        self.background = false;
        self
    }

    /// The sync worker this service runs (a clone sharing its state), for one
    /// drain at a time.
    pub fn sync_worker(&self) -> SyncWorker {
        self.worker.clone()
    }

    /// An alert checker on this service's database and settings; `None` when
    /// no alert destination is configured.
    pub fn alert_checker(&self) -> Option<crate::ops::alerts::AlertChecker> {
        crate::ops::alerts::AlertChecker::new(self.store.clone(), Arc::clone(&self.settings))
    }

    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Cancel this token to stop the service gracefully: no new
    /// connections, in-flight requests and sends finish.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Cancel this token to drain first (what SIGTERM does): `/readyz`
    /// answers 503 while everything else still runs for `server.drain`,
    /// then the service stops as [`Application::shutdown_token`] does.
    pub fn drain_token(&self) -> CancellationToken {
        self.draining.clone()
    }

    /// The in-process CareHQ sandbox, in sandbox mode.
    pub fn sandbox(&self) -> Option<&Sandbox> {
        self.sandbox.as_ref()
    }

    /// Serve and sync until the shutdown token is cancelled: stop accepting,
    /// finish in-flight requests, give in-flight CareHQ sends their grace period.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Application {
            listener,
            router,
            worker,
            shutdown,
            draining,
            local_addr,
            sandbox,
            settings,
            store,
            background,
        } = self;
        tokio::spawn(drain_then_stop(
            draining,
            settings.server.drain,
            shutdown.clone(),
        ));
        announce(&settings, local_addr, sandbox.is_some());
        let (worker_task, alerts_task): (JoinHandle<()>, JoinHandle<()>) = if background {
            (
                tokio::spawn(worker.run_until_stopped(shutdown.clone())),
                tokio::spawn(crate::ops::alerts::run(
                    store.clone(),
                    Arc::clone(&settings),
                    shutdown.clone(),
                )),
            )
        } else {
            (tokio::spawn(async {}), tokio::spawn(async {}))
        };
        let checkpoint_task =
            tokio::spawn(crate::ops::checkpoint::run(store.clone(), shutdown.clone()));
        let search_index_task = tokio::spawn(crate::ops::search_index::run(
            store.clone(),
            shutdown.clone(),
        ));
        let retention_task = tokio::spawn(crate::ops::retention::run(
            store,
            settings.retention.clone(),
            shutdown.clone(),
        ));
        let server = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown.clone().cancelled_owned());
        let served = server
            .await
            .context("the HTTP server stopped with an error");
        shutdown.cancel();
        worker_task.await.context("the sync worker task failed")?;
        retention_task.await.context("the retention task failed")?;
        alerts_task.await.context("the alerts task failed")?;
        checkpoint_task
            .await
            .context("the WAL checkpoint task failed")?;
        search_index_task
            .await
            .context("the search indexer task failed")?;
        info!("stopped");
        served
    }
}

/// Once `draining` is cancelled, wait `drain` (or until `shutdown` is
/// cancelled by a second signal), then cancel `shutdown`. Meanwhile
/// `/readyz` answers 503, so the proxy moves families to another instance
/// while this one still answers them.
async fn drain_then_stop(
    draining: CancellationToken,
    drain: std::time::Duration,
    shutdown: CancellationToken,
) {
    tokio::select! {
        _ = draining.cancelled() => {}
        _ = shutdown.cancelled() => return,
    }
    info!(
        drain = %crate::values::format_duration(drain),
        "draining: /readyz answers 503 while requests are still served; stopping after server.drain (a second Ctrl-C or SIGTERM stops now)"
    );
    tokio::select! {
        _ = tokio::time::sleep(drain) => {}
        _ = shutdown.cancelled() => {}
    }
    info!("shutting down: no new requests; finishing in-flight work");
    shutdown.cancel();
}

/// Open the database and apply migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    use secrecy::ExposeSecret as _;
    let pools = PoolSettings {
        max_connections: settings.database.max_connections,
        staff_connections: settings.database.staff_connections,
        staff_statement_timeout: settings.staff_statement_timeout(),
    };
    let store = Store::connect_with(settings.database.url.expose_secret(), pools)
        .await
        .context("could not open the database (database.url)")?;
    store
        .migrate()
        .await
        .context("could not apply database migrations")?;
    let keys = match &settings.database.encryption_key_file {
        Some(path) => Some(KeyRing::from_file(path)?),
        None => None,
    };
    let store = store.with_sealing(Sealing::new(keys));
    // Refused here, not at the first read: a server started without the
    // key would take enquiries it could not show or deliver.
    store.check_encryption().await?;
    Ok(store)
}

/// Where a further account's in-process sandbox is served in sandbox mode.
pub fn account_sandbox_path(account: &str) -> String {
    format!("/sandbox-accounts/{account}")
}

/// CareHQ client settings of one account; in sandbox mode every account
/// points at its in-process sandbox (`[carehq]` at `/sandbox`, with the seed
/// credentials; a further account at `/sandbox-accounts/NAME`, with its own).
pub fn client_settings(
    settings: &Settings,
    account: &AccountSettings,
    local_addr: SocketAddr,
) -> ClientSettings {
    let timeout = settings.carehq.timeout;
    if settings.sandbox_mode() {
        let here = loopback_of(local_addr);
        if account.name == DEFAULT_ACCOUNT {
            return ClientSettings {
                base_url: format!("http://{here}/sandbox"),
                account_id: seed::ACCOUNT_ID.into(),
                api_key: SecretString::from(seed::API_KEY),
                api_secret: SecretString::from(seed::API_SECRET),
                timeout,
            };
        }
        return ClientSettings {
            base_url: format!("http://{here}{}", account_sandbox_path(&account.name)),
            account_id: account.account_id.clone(),
            api_key: account.api_key.clone(),
            api_secret: account.api_secret.clone(),
            timeout,
        };
    }
    ClientSettings {
        base_url: account.base_url.clone(),
        account_id: account.account_id.clone(),
        api_key: account.api_key.clone(),
        api_secret: account.api_secret.clone(),
        timeout,
    }
}

/// Where sandbox mode serves the FHIR sandbox its destinations go to.
pub const FHIR_SANDBOX_PATH: &str = "/fhir-sandbox";

/// One FHIR client per `[[destinations]]` entry, by name. In sandbox mode
/// every destination goes to the in-process FHIR sandbox, with its
/// credentials.
pub fn fhir_clients(
    settings: &Settings,
    local_addr: SocketAddr,
) -> Result<Vec<(String, FhirClient)>, FhirError> {
    (settings.destinations.iter())
        .map(|destination| {
            let mut config = FhirSettings {
                discovery_url: destination.discovery_url.clone(),
                api: destination.api.clone(),
                sso_discovery_url: destination.sso_discovery_url.clone(),
                client_id: destination.client_id.clone(),
                client_secret: destination.client_secret.clone(),
                site_id: destination.site_id.clone(),
                api_version: destination.api_version.clone(),
                timeout: settings.carehq.timeout,
            };
            if settings.sandbox_mode() {
                use crate::fhir_sandbox::{DISCOVERY_PATH, OPENID_CONFIGURATION_PATH, seed};
                let base = format!("http://{}{FHIR_SANDBOX_PATH}", loopback_of(local_addr));
                config.discovery_url = format!("{base}{DISCOVERY_PATH}");
                config.sso_discovery_url = format!("{base}{OPENID_CONFIGURATION_PATH}");
                config.client_id = seed::CLIENT_ID.to_owned();
                config.client_secret = SecretString::from(seed::CLIENT_SECRET);
                config.site_id = seed::SITE_ID.to_owned();
                config.api_version = seed::API_VERSION.to_owned();
            }
            Ok((destination.name.clone(), FhirClient::new(config)?))
        })
        .collect()
}

/// `local_addr` as this process reaches itself (0.0.0.0 means 127.0.0.1).
fn loopback_of(local_addr: SocketAddr) -> SocketAddr {
    let ip = match local_addr.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, local_addr.port())
}

/// One CareHQ client per configured account, by name, the default first.
pub fn carehq_clients(
    settings: &Settings,
    local_addr: SocketAddr,
) -> Result<Vec<(String, CareHqClient)>, crate::carehq::CareHqError> {
    (settings.accounts.iter())
        .map(|account| {
            let client = CareHqClient::new(client_settings(settings, account, local_addr))?;
            Ok((account.name.clone(), client))
        })
        .collect()
}

fn announce(settings: &Settings, local_addr: SocketAddr, sandbox: bool) {
    let base = settings.server.public_url.clone().unwrap_or_else(|| {
        let ip = if local_addr.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            local_addr.ip()
        };
        format!("http://{}", SocketAddr::new(ip, local_addr.port()))
    });
    info!(listen = %local_addr, sites = settings.sites.len(), sandbox, "enquiry-relay is running");
    for warning in settings.warnings() {
        warn!("{warning}");
    }
    for site in &settings.sites {
        info!(site = %site.slug, url = %format!("{base}/forms/{}", site.slug), "enquiry form");
    }
    if sandbox {
        info!(url = %format!("{base}/sandbox/"), "sandbox mode: enquiries go to the built-in CareHQ sandbox; watch them arrive here");
        for account in settings
            .accounts
            .iter()
            .filter(|a| a.name != DEFAULT_ACCOUNT)
        {
            let path = account_sandbox_path(&account.name);
            info!(account = %account.name, url = %format!("{base}{path}"), "sandbox mode: this account's homes' enquiries arrive here");
        }
    }
}
