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
    stop_on_signal(app.shutdown_token());
    app.run_until_stopped().await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn sandbox(listen: SocketAddr) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("could not listen on {listen}"))?;
    let token = CancellationToken::new();
    stop_on_signal(token.clone());
    crate::sandbox::serve(
        listener,
        Sandbox::new(SandboxConfig::default()),
        token.cancelled_owned(),
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

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

/// Cancel `token` on Ctrl-C or SIGTERM.
fn stop_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
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
        info!("shutting down: no new requests; finishing in-flight work");
        token.cancel();
    });
}
