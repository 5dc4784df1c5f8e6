//! The command line (DESIGN.md "Command line").

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "enquiry-relay",
    version,
    about = "Durable relay from care-home enquiry forms to CareHQ"
)]
pub struct Cli {
    /// Config file (else $ENQUIRY_RELAY_CONFIG, else ./enquiry-relay.toml, else sandbox defaults).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// HTTP server and sync worker (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Validate the config and exit non-zero if it is invalid.
    Check {
        /// Also call CareHQ: credentials, and every site's location and group Ids.
        #[arg(long)]
        remote: bool,
    },
    /// Deliver what is due now, then exit (for cron). Exits 1 if failed enquiries remain.
    Sync {
        /// One drain pass (the only mode).
        #[arg(long)]
        once: bool,
    },
    /// Run the CareHQ sandbox alone.
    Sandbox {
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
    },
}
