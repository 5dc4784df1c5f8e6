//! `staff sign-out-all`: every staff console session ends at once, on every
//! instance (sessions live in the database, and each request reads its own).
//! For a leaked staff token: change it and restart, which already ends the
//! sessions it opened, or run this to sign everyone out whatever token they used.

use std::process::ExitCode;

use crate::cli::StaffCommand;
use crate::config::Settings;
use crate::startup::open_store;
use crate::storage::now_ms;

pub async fn run(settings: &Settings, action: StaffCommand) -> anyhow::Result<ExitCode> {
    let store = open_store(settings).await?;
    match action {
        StaffCommand::SignOutAll => {
            let ended = store.revoke_all_staff_sessions(now_ms()).await?;
            println!(
                "signed out {ended} staff console session(s); everyone signs in again with a staff token"
            );
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
