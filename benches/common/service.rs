//! What every benchmark runs against, shared by intake, drain, faults and
//! staff_reads: the test kit (`tests/kit/`, declared by the
//! including crate's root: a database for one start, the
//! real binary as a child process with its memory and CPU read from /proc,
//! the CareHQ sandbox served in the benchmark's own process), under the
//! names the benchmarks use, and the benchmarks' own config and runtime.

#![allow(unused_imports)]

use std::process::Command;

use enquiry_relay::sandbox::seed;

// The kit is declared by whoever includes this file (each bench's root, or
// tests/api/main.rs for the fault rounds): one copy per binary.
pub use crate::kit::binary::cpu_ticks;
pub use crate::kit::db::{database_url, postgres_admin_url};
pub use crate::kit::{
    BinaryApp as Service, Db, SITE, Stopped, TestDb as BenchDb, TestSandbox as BenchSandbox,
    free_port,
};

/// Write the intake/drain config into the database's dir, start the binary
/// on a free port, wait for /healthz.
pub async fn start(
    db: &BenchDb,
    carehq_url: &str,
    extra: &str,
    lift_limits: bool,
) -> anyhow::Result<Service> {
    start_with(db, carehq_url, extra, lift_limits, false).await
}

/// [`start`], with personal data encrypted at rest when `encrypted` (a
/// fresh key file beside the database).
pub async fn start_with(
    db: &BenchDb,
    carehq_url: &str,
    extra: &str,
    lift_limits: bool,
    encrypted: bool,
) -> anyhow::Result<Service> {
    let database = if encrypted {
        let keys = db.dir.path().join("keys");
        let line = enquiry_relay::storage::new_key_line("bench").map_err(|e| anyhow::anyhow!(e))?;
        std::fs::write(&keys, line + "\n")?;
        format!("encryption_key_file = \"{}\"", keys.display())
    } else {
        String::new()
    };
    Service::serve(db.dir.path(), |port| {
        config_toml(&db.url, carehq_url, port, extra, lift_limits, &database)
    })
    .await
}

/// Close to the production defaults: only what the benchmark needs is set, so
/// the worker runs with its default concurrency, timeout and lease. Every
/// request comes from one loopback address, so the per-IP and per-site rate
/// limits (10 per 10 minutes by default) are lifted to measure intake, except
/// when the rate-limited path itself is measured.
fn config_toml(
    db_url: &str,
    carehq_url: &str,
    port: u16,
    extra: &str,
    lift_limits: bool,
    database: &str,
) -> String {
    let limits = if lift_limits {
        "[rate_limit]\nper_ip = \"100000000/1s\"\nper_site = \"100000000/1s\"\n"
    } else {
        ""
    };
    format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
# Rounds stop the service often; the drain is for a proxy, absent here.
drain = "0s"

[database]
url = "{db_url}"
{database}

[carehq]
base_url = "{carehq_url}"
account_id = "{account}"
api_key = "{key}"
api_secret = "{secret}"

{limits}
[[sites]]
slug = "{SITE}"
name = "Upton Court"
location = "{location}"
sales_channel = "{channel}"

[sites.defaults]
service = "residential_home"
funding_type = "not_sure"
{extra}
"#,
        account = seed::ACCOUNT_ID,
        key = seed::API_KEY,
        secret = seed::API_SECRET,
        location = seed::DEMO_LOCATION,
        channel = seed::DEMO_SALES_CHANNEL,
    )
}

/// Clock ticks per second for /proc CPU times (almost always 100).
pub fn ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// The runtime every benchmark runs on: two workers, because the machine
/// has two cores, shared with the service.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}
