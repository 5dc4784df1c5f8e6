//! `serve`, `sandbox` and `fhir-sandbox`: long-running commands, stopped by Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::config::Settings;
use crate::fhir_sandbox::{FhirSandbox, FhirSandboxConfig};
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::startup::Application;

pub async fn serve(settings: Settings) -> anyhow::Result<ExitCode> {
    let app = Application::build(settings).await?;
    drain_on_signal(app.drain_token(), app.shutdown_token());
    app.run_until_stopped().await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn sandbox(listen: SocketAddr) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("could not listen on {listen}"))?;
    let token = CancellationToken::new();
    stop_on_signal(token.clone());
    // Both sandboxes on one address: CareHQ at the root, FHIR under /fhir.
    let carehq = Sandbox::new(SandboxConfig::default());
    let fhir = FhirSandbox::new(FhirSandboxConfig::default());
    let addr = listener.local_addr()?;
    tracing::info!(
        url = %format!("http://{addr}/"),
        api_base = %format!("http://{addr}/v1/"),
        account_id = %carehq.config().account_id,
        api_key = %carehq.config().api_key,
        "CareHQ sandbox listening; open the URL to see received enquiries"
    );
    tracing::info!(
        url = %format!("http://{addr}{FHIR_PREFIX}/"),
        discovery = %format!("http://{addr}{FHIR_PREFIX}{}", crate::fhir_sandbox::DISCOVERY_PATH),
        client_id = %fhir.config().client_id,
        site_id = %fhir.config().site_id,
        "FHIR sandbox listening beside it"
    );
    let app = carehq.app().nest(FHIR_PREFIX, fhir.router());
    crate::sandbox::serve_app(listener, app, token.cancelled_owned()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Where `sandbox` serves the FHIR sandbox beside the CareHQ one.
const FHIR_PREFIX: &str = "/fhir";

pub async fn fhir_sandbox(listen: SocketAddr) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("could not listen on {listen}"))?;
    let token = CancellationToken::new();
    stop_on_signal(token.clone());
    let sandbox = FhirSandbox::new(FhirSandboxConfig::default());
    crate::fhir_sandbox::serve(listener, sandbox, token.cancelled_owned()).await?;
    Ok(ExitCode::SUCCESS)
}

/// The service's signals: the first Ctrl-C or SIGTERM starts the drain
/// (`server.drain`), a second stops at once.
fn drain_on_signal(drain: CancellationToken, stop: CancellationToken) {
    tokio::spawn(async move {
        stop_signal().await;
        drain.cancel();
        stop_signal().await;
        stop.cancel();
    });
}

/// Cancel `token` on Ctrl-C or SIGTERM (the sandboxes: nothing to drain).
fn stop_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        stop_signal().await;
        info!("shutting down: no new requests; finishing in-flight work");
        token.cancel();
    });
}

/// The next Ctrl-C or SIGTERM.
async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
