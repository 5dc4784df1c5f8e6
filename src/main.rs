//! enquiry-relay's entry point: parse the command line, read the config, start
//! logging and error tracking, then run the command on the async runtime.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = enquiry_relay::cli::Cli::parse();
    // An invalid config is reported on stderr, before there is a log to write to.
    let settings = match enquiry_relay::commands::load_settings(&cli) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    enquiry_relay::telemetry::init(settings.log.format, settings.sentry.dsn.is_some());
    // Before the runtime exists, so every runtime thread reports (see error_tracking).
    let _error_tracking = enquiry_relay::ops::error_tracking::start(&settings.sentry);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(enquiry_relay::commands::run(cli.command, settings))
}
