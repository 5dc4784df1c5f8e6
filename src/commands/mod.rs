//! What each subcommand does. Exit codes: 0 done, 1 failed at run time,
//! 2 invalid config or usage.

mod accounts;
mod carehq;
mod check;
mod enquiries;
mod erasure;
mod healthcheck;
mod person;
mod serve;
mod staff;
mod sync_once;
mod table;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::config::Settings;

/// The settings every command runs with, or the exit code when they are invalid
/// (the problems are printed, one line per key).
pub fn load_settings(cli: &Cli) -> Result<Settings, ExitCode> {
    Settings::load(cli.config.as_deref()).map_err(|errors| {
        eprintln!("The configuration is not valid:\n{errors}");
        // Docker reserves a HEALTHCHECK exit code of 2: report "unhealthy".
        if matches!(cli.command, Some(Command::Healthcheck { .. })) {
            ExitCode::FAILURE
        } else {
            ExitCode::from(2)
        }
    })
}

pub async fn run(command: Option<Command>, settings: Settings) -> ExitCode {
    let command = command.unwrap_or(Command::Serve);
    // Services (and cron's `sync`) report through the log, which error tracking
    // sees; a person at a terminal gets one plain line. Either way, once.
    let logged = matches!(
        command,
        Command::Serve
            | Command::Sync { .. }
            | Command::Sandbox { .. }
            | Command::FhirSandbox { .. }
    );
    let outcome = match command {
        Command::Serve => serve::serve(settings).await,
        Command::Migrate => migrate(&settings).await,
        Command::Check { remote, account } => {
            check::check(&settings, remote, account.as_deref()).await
        }
        Command::Sync { once: _ } => sync_once::sync_once(settings).await,
        Command::Sandbox { listen } => serve::sandbox(listen).await,
        Command::FhirSandbox { listen } => serve::fhir_sandbox(listen).await,
        Command::Enquiries { action } => enquiries::run(&settings, action).await,
        Command::Staff { action } => staff::run(&settings, action).await,
        Command::Carehq { account, action } => {
            carehq::run(&settings, account.as_deref(), action).await
        }
        Command::Healthcheck { url } => healthcheck::healthcheck(&settings, url).await,
        Command::Keygen { id } => keygen(&id),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            if logged {
                tracing::error!(
                    error = format!("{e:#}"),
                    "enquiry-relay stopped with an error"
                );
            } else {
                eprintln!("error: {e:#}");
            }
            match e.downcast_ref::<accounts::UsageError>() {
                Some(_) => ExitCode::from(2),
                None => ExitCode::FAILURE,
            }
        }
    }
}

/// A fresh key line on stdout (nothing else there, so `>> keys` works).
fn keygen(id: &str) -> anyhow::Result<ExitCode> {
    match crate::storage::new_key_line(id) {
        Ok(line) => {
            println!("{line}");
            Ok(ExitCode::SUCCESS)
        }
        Err(problem) => {
            eprintln!("{problem}");
            Ok(ExitCode::from(2))
        }
    }
}

async fn migrate(settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = crate::startup::open_store(settings).await?;
    store.close().await;
    println!("database migrations applied");
    Ok(ExitCode::SUCCESS)
}
