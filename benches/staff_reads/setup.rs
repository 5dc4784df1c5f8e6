//! The service the reads run against: a config with the staff token and
//! the agency's 50 homes, CareHQ on a loopback port where nothing listens
//! (nothing is due to be sent anyway), the worker polling hourly; started
//! as the real release binary, and left until its first retention pass
//! (a minute after start) is done, so that pass never runs beside the reads.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use enquiry_relay::sandbox::seed;

use crate::people;
use crate::service::{BenchDb, Service, free_port};

/// The staff token of the bench's config (staff.token wants 32 characters).
pub const STAFF_TOKEN: &str = "staff-reads-bench-token-0123456789abcdef";

/// Requests slower than the bench's own 60 s client timeout still get
/// their answer from the service (its default is 30 s), so a slow read is
/// timed rather than cut short.
const REQUEST_TIMEOUT: &str = "120s";

/// A started service and where its config and log are.
pub struct Running {
    pub service: Service,
    pub config: PathBuf,
    /// Seconds from start to the end of the first retention pass.
    pub retention_secs: f64,
}

pub async fn start(db: &BenchDb) -> anyhow::Result<Running> {
    let port = free_port();
    let config = db.dir.path().join("staff-reads.toml");
    std::fs::write(&config, config_toml(&db.url, port)?)
        .with_context(|| format!("writing {}", config.display()))?;
    let log = db.dir.path().join("relay.log");
    let started = Instant::now();
    let service = Service::launch(&config, port, &log)
        .await
        .with_context(|| {
            format!(
                "starting the release binary {} (cargo bench builds it)",
                env!("CARGO_BIN_EXE_enquiry-relay")
            )
        })?;
    wait_for_retention(&log).await?;
    Ok(Running {
        service,
        config,
        retention_secs: started.elapsed().as_secs_f64(),
    })
}

fn config_toml(db_url: &str, port: u16) -> anyhow::Result<String> {
    // Nothing listens here: a send, if one were due, would fail on loopback.
    let carehq_port = free_port();
    let mut toml = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
request_timeout = "{REQUEST_TIMEOUT}"

[database]
url = "{db_url}"

[carehq]
base_url = "http://127.0.0.1:{carehq_port}"
account_id = "{account}"
api_key = "{key}"
api_secret = "{secret}"

[sync]
poll_interval = "1h"

[staff]
token = "{STAFF_TOKEN}"
"#,
        account = seed::ACCOUNT_ID,
        key = seed::API_KEY,
        secret = seed::API_SECRET,
    );
    toml.push_str(&people::sites_toml(0..people::SITES));
    Ok(toml)
}

/// Wait (at most 15 minutes) for the log line of the first retention pass.
async fn wait_for_retention(log: &Path) -> anyhow::Result<()> {
    let begun = Instant::now();
    while begun.elapsed() < Duration::from_secs(15 * 60) {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("retention pass done") || text.contains("retention pass failed") {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    anyhow::bail!(
        "the first retention pass did not finish within 15 minutes; see {}",
        log.display()
    )
}
