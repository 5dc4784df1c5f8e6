//! The command line (docs/design.md, "Command line").

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
        /// With --remote: only this CareHQ account (default: every account, each labelled).
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
    },
    /// Deliver what is due now, then exit (for cron). Exits 1 if failed enquiries remain.
    Sync {
        /// One drain pass (the only mode).
        #[arg(long)]
        once: bool,
    },
    /// Staff work on stored enquiries (safe beside a running server).
    Enquiries {
        #[command(subcommand)]
        action: EnquiriesCommand,
    },
    /// The staff console's sessions (safe beside a running server).
    Staff {
        #[command(subcommand)]
        action: StaffCommand,
    },
    /// Look things up in CareHQ (to fill in [[sites]]).
    Carehq {
        /// Only this CareHQ account (default: every account, each labelled).
        #[arg(long, global = true, value_name = "NAME")]
        account: Option<String>,
        #[command(subcommand)]
        action: CarehqCommand,
    },
    /// Exit 0 if the running server answers /readyz with 200, else 1 (Docker HEALTHCHECK).
    Healthcheck {
        /// Readiness URL; default http://<server.listen>/readyz (0.0.0.0 means 127.0.0.1).
        #[arg(long)]
        url: Option<String>,
    },
    /// Print a new encryption key line for database.encryption_key_file
    /// (put it first in the file to make it the key that encrypts).
    Keygen {
        /// The key's id, stored with every value it encrypts.
        #[arg(long, default_value = "k1")]
        id: String,
    },
    /// Run the CareHQ sandbox alone.
    Sandbox {
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
    },
    /// Run the FHIR sandbox alone (a fake FHIR R4 server in Healthcode's conventions).
    FhirSandbox {
        #[arg(long, default_value = "127.0.0.1:8091")]
        listen: SocketAddr,
    },
}

#[derive(Debug, Subcommand)]
pub enum EnquiriesCommand {
    /// A table of enquiries, newest first.
    List {
        /// pending | sending | synced | failed | held | waiting | expired
        #[arg(long)]
        status: Option<String>,
        /// Site slug.
        #[arg(long)]
        site: Option<String>,
        /// Only this CareHQ account's homes (`default` is [carehq]'s).
        #[arg(long)]
        account: Option<String>,
        /// Only those received within this long, e.g. 7d, 12h.
        #[arg(long)]
        since: Option<String>,
        /// At most this many rows.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// One enquiry: its fields, deliveries and every attempt with CareHQ's errors.
    Show { id: String },
    /// Send failed enquiries again now, with a fresh retry schedule.
    Retry {
        /// The enquiry to retry.
        #[arg(required_unless_present = "failed", conflicts_with = "failed")]
        id: Option<String>,
        /// Every failed enquiry.
        #[arg(long)]
        failed: bool,
    },
    /// Release a held enquiry: it is sent like any other.
    Release { id: String },
    /// Scrub personal data past the [retention] periods now.
    Purge,
    /// Erase a person's data on their request: lists the matches unless --yes.
    #[command(group(clap::ArgGroup::new("who").required(true).args(["id", "email", "phone"])))]
    Erase {
        /// One enquiry, by its Id.
        id: Option<String>,
        /// Every enquiry that mentions this email address.
        #[arg(long)]
        email: Option<String>,
        /// Every enquiry that mentions this phone number.
        #[arg(long)]
        phone: Option<String>,
        /// Erase them (without it, only list what would be erased).
        #[arg(long)]
        yes: bool,
        /// Recorded in the audit trail (default "erasure request").
        #[arg(long)]
        reason: Option<String>,
    },
    /// Encrypt every stored personal value with the newest key of
    /// database.encryption_key_file (plain values too); safe to repeat.
    Rekey {
        /// Rows rewritten per transaction.
        #[arg(long, default_value_t = 500)]
        batch: i64,
    },
    /// Everything stored about a person, as JSON (a subject access request).
    #[command(group(clap::ArgGroup::new("who").required(true).multiple(true).args(["email", "phone"])))]
    Export {
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        /// Only enquiries of this CareHQ account's homes (`default` is [carehq]'s).
        #[arg(long)]
        account: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// End every staff console session now, on every instance: each browser
    /// signs in again (e.g. after a staff token leaked and was changed).
    SignOutAll,
}

#[derive(Debug, Subcommand)]
pub enum CarehqCommand {
    /// The account's locations (homes): Id and name.
    Locations {
        /// Print [[sites]] snippets to paste into the config instead of a table.
        #[arg(long)]
        toml: bool,
    },
    /// The account's referrer and sales channel groups.
    Groups {
        /// Only this group type.
        #[arg(long = "type", value_parser = ["referrer", "sales_channel"])]
        group_type: Option<String>,
        /// Print lines to paste into a [[sites]] entry instead of a table.
        #[arg(long)]
        toml: bool,
    },
}

impl CarehqCommand {
    /// Whether TOML to paste was asked for instead of a table.
    pub fn toml(&self) -> bool {
        match self {
            CarehqCommand::Locations { toml } | CarehqCommand::Groups { toml, .. } => *toml,
        }
    }
}
