//! enquiry-relay's entry point: parse the command line, start logging, run.

use std::process::ExitCode;

use clap::Parser as _;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = enquiry_relay::cli::Cli::parse();
    enquiry_relay::telemetry::init();
    enquiry_relay::commands::run(cli).await
}
