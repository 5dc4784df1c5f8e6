//! What every benchmark runs against, shared by intake, drain and faults: a
//! database (a SQLite file in a temp dir, or a fresh PostgreSQL database),
//! the real release binary as a child process (its health wait, signals,
//! memory and CPU read from /proc), and the CareHQ sandbox served in the
//! benchmark's own process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use enquiry_relay::sandbox::seed;
use sqlx::Connection as _;

pub const SITE: &str = "upton-court";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    pub fn name(self) -> &'static str {
        match self {
            Db::Sqlite => "SQLite",
            Db::Postgres => "PostgreSQL",
        }
    }
}

/// A database used by one service start.
pub struct BenchDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    /// (admin URL, name) of the PostgreSQL database created for this start.
    pg: Option<(String, String)>,
}

impl BenchDb {
    /// `None`, with a note, when PostgreSQL is wanted and TEST_DATABASE_URL
    /// is unset. `purpose` names the temp dir and the database, so one left
    /// behind says which benchmark made it.
    pub async fn create(db: Db, purpose: &str) -> anyhow::Result<Option<BenchDb>> {
        BenchDb::create_from(db, purpose, None).await
    }

    /// [`BenchDb::create`], as a copy of `template` when given: for SQLite
    /// the path of a database file (checkpointed, no `-wal` beside it), for
    /// PostgreSQL the name of a database (`CREATE DATABASE … TEMPLATE`).
    pub async fn create_from(
        db: Db,
        purpose: &str,
        template: Option<&str>,
    ) -> anyhow::Result<Option<BenchDb>> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{purpose}-"))
            .tempdir()?;
        match db {
            // A file on disk: the service always opens SQLite with WAL and
            // synchronous=FULL, so this is the fully durable configuration.
            Db::Sqlite => {
                let file = dir.path().join("relay.db");
                if let Some(template) = template {
                    std::fs::copy(template, &file)
                        .with_context(|| format!("copying the seeded database {template}"))?;
                }
                Ok(Some(BenchDb {
                    url: format!("sqlite://{}", file.display()),
                    dir,
                    pg: None,
                }))
            }
            Db::Postgres => {
                let Some(admin) = postgres_admin_url() else {
                    return Ok(None);
                };
                sqlx::any::install_default_drivers();
                let mut conn = sqlx::AnyConnection::connect(&admin)
                    .await
                    .context("TEST_DATABASE_URL must point at a running PostgreSQL")?;
                // The relay_test_ prefix lets .ci/run sweep it if a run is interrupted.
                let name = format!("relay_test_{purpose}_{}", uuid::Uuid::now_v7().simple());
                // FILE_COPY (PostgreSQL 15+): the copy is not written through
                // the WAL, so no checkpoint of it falls in the measurement.
                let from = template.map_or(String::new(), |t| {
                    format!(" TEMPLATE {t} STRATEGY FILE_COPY")
                });
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}{from}")))
                    .execute(&mut conn)
                    .await
                    .context("creating the benchmark database")?;
                let _ = conn.close().await;
                Ok(Some(BenchDb {
                    url: database_url(&admin, &name),
                    dir,
                    pg: Some((admin, name)),
                }))
            }
        }
    }

    /// The SQLite database file (`None` on PostgreSQL).
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        let path = self.url.strip_prefix("sqlite://")?;
        Some(PathBuf::from(path))
    }

    /// Keep the temp dir (and the PostgreSQL database) for a look at a failure.
    pub fn keep(self) -> PathBuf {
        if let Some((_, name)) = &self.pg {
            eprintln!("PostgreSQL database {name} kept");
        }
        self.dir.keep()
    }

    /// Drop the PostgreSQL database (best effort; the temp dir goes on drop).
    pub async fn drop_database(self) {
        let Some((admin, name)) = &self.pg else {
            return;
        };
        let Ok(mut conn) = sqlx::AnyConnection::connect(admin).await else {
            eprintln!("could not reconnect to drop {name}; drop it by hand");
            return;
        };
        let dropped = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
        if let Err(e) = dropped {
            eprintln!("could not drop {name}: {e}");
        }
        let _ = conn.close().await;
    }
}

/// TEST_DATABASE_URL, or `None` with a note saying how to set it.
pub fn postgres_admin_url() -> Option<String> {
    let url = std::env::var("TEST_DATABASE_URL").ok();
    if url.is_none() {
        eprintln!(
            "TEST_DATABASE_URL is not set: skipping PostgreSQL \
             (set it to e.g. postgres://postgres@127.0.0.1:5432/test)"
        );
    }
    url
}

/// The URL of database `name` on the server of `admin` (a database URL).
pub fn database_url(admin: &str, name: &str) -> String {
    let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
    format!("{base}/{name}")
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

/// The running `enquiry-relay serve` process.
pub struct Service {
    child: Child,
    pub address: String,
    log: PathBuf,
}

/// How a stopped service ended.
pub struct Stopped {
    pub status: std::process::ExitStatus,
    pub log_bytes: u64,
}

impl Service {
    /// Write the intake/drain config into the database's dir, start the
    /// binary, wait for /healthz.
    pub async fn start(
        db: &BenchDb,
        carehq_url: &str,
        extra: &str,
        lift_limits: bool,
    ) -> anyhow::Result<Service> {
        Service::start_with(db, carehq_url, extra, lift_limits, false).await
    }

    /// [`Service::start`], with personal data encrypted at rest when
    /// `encrypted` (a fresh key file beside the database).
    pub async fn start_with(
        db: &BenchDb,
        carehq_url: &str,
        extra: &str,
        lift_limits: bool,
        encrypted: bool,
    ) -> anyhow::Result<Service> {
        let port = free_port()?;
        let config = db.dir.path().join("enquiry-relay.toml");
        let database = if encrypted {
            let keys = db.dir.path().join("keys");
            let line =
                enquiry_relay::storage::new_key_line("bench").map_err(|e| anyhow::anyhow!(e))?;
            std::fs::write(&keys, line + "\n")?;
            format!("encryption_key_file = \"{}\"", keys.display())
        } else {
            String::new()
        };
        std::fs::write(
            &config,
            config_toml(&db.url, carehq_url, port, extra, lift_limits, &database),
        )?;
        Service::launch(&config, port, &db.dir.path().join("relay.log")).await
    }

    /// Start the binary with `config` (which listens on `port`), logging to
    /// `log`; wait (at most 60 s) for /healthz. The binary is the one Cargo
    /// built for the bench, or `BENCH_RELAY_BINARY` when set (not `ENQUIRY_RELAY_…`: that prefix is the service's own configuration) (an
    /// older build kept aside, for a before/after on the same machine and
    /// minute), and `BENCH_RELAY_LOG` copies each run's service log
    /// there when the service stops (for `RUST_LOG` profiles).
    pub async fn launch(config: &Path, port: u16, log: &Path) -> anyhow::Result<Service> {
        let out = std::fs::File::create(log)?;
        let binary = std::env::var_os("BENCH_RELAY_BINARY")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_enquiry-relay").into());
        let child = Command::new(binary)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting the enquiry-relay binary")?;
        let mut service = Service {
            child,
            address: format!("http://127.0.0.1:{port}"),
            log: log.to_owned(),
        };
        service.wait_healthy().await?;
        Ok(service)
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let url = format!("{}/healthz", self.address);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if let Some(status) = self.child.try_wait()? {
                bail!("the service exited ({status}); log:\n{}", self.log_text());
            }
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bail!(
            "the service never became healthy; log:\n{}",
            self.log_text()
        )
    }

    pub fn form_url(&self) -> String {
        format!("{}/forms/{SITE}", self.address)
    }

    /// A `Vm*` line of /proc/<pid>/status in kB (VmRSS now, VmHWM peak).
    pub fn memory_kb(&self, key: &str) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .with_context(|| format!("{key} missing from /proc status"))?;
        let kb = line.trim().trim_end_matches("kB").trim().parse()?;
        Ok(kb)
    }

    /// Reset the peak (VmHWM) to the resident size now, so a later VmHWM
    /// is the peak of what ran in between (`/proc/<pid>/clear_refs`, 5).
    pub fn reset_peak_memory(&self) -> anyhow::Result<()> {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5")
            .context("resetting the service's VmHWM")
    }

    /// CPU time the service has used so far, user + system, in clock ticks.
    pub fn cpu_ticks(&self) -> anyhow::Result<u64> {
        cpu_ticks(&format!("/proc/{}/stat", self.child.id()))
    }

    /// Copy the log to `BENCH_RELAY_LOG`'s folder, one file per run.
    fn keep_log(&self) {
        let Some(dir) = std::env::var_os("BENCH_RELAY_LOG") else {
            return;
        };
        let dir = PathBuf::from(dir);
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("relay-{}-{run}.log", std::process::id());
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::copy(&self.log, dir.join(name));
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -<signal>` (TERM, KILL).
    pub fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()?;
        if !status.success() {
            bail!("kill -{signal} failed");
        }
        Ok(())
    }

    /// Wait for the process to exit (after a signal) and how it ended.
    pub async fn wait_exit(mut self, limit: Duration) -> anyhow::Result<Stopped> {
        let begun = Instant::now();
        while begun.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                let log_bytes = std::fs::metadata(&self.log).map_or(0, |m| m.len());
                self.keep_log();
                return Ok(Stopped { status, log_bytes });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        bail!(
            "the service did not exit within {limit:?}; log:\n{}",
            self.log_text()
        )
    }

    /// SIGTERM, then wait (at most 30 s: shutdown waits for sends in flight).
    pub async fn stop(self) -> anyhow::Result<Stopped> {
        self.signal("TERM")?;
        self.wait_exit(Duration::from_secs(30)).await
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// utime + stime (fields 14 and 15) of a /proc/<pid>/stat file. The command
/// name before them may contain spaces, so count from its closing parenthesis.
pub fn cpu_ticks(stat_path: &str) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(stat_path)?;
    let (_, after_name) = stat
        .rsplit_once(')')
        .with_context(|| format!("{stat_path} has no command name"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        Ok(fields
            .get(n)
            .with_context(|| format!("{stat_path} is too short"))?
            .parse()?)
    };
    // After the name come field 3 (state) onwards: utime is field 14, index 11.
    Ok(field(11)? + field(12)?)
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

/// A port that was free a moment ago (the binary binds it itself; a fault
/// round's restarts reuse it, so its clients find every start).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The runtime every benchmark runs on: two workers, because the machine
/// has two cores, shared with the service.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// The CareHQ sandbox, served in the benchmark's process on a free loopback
/// port until [`BenchSandbox::stop`].
pub struct BenchSandbox {
    pub sandbox: enquiry_relay::sandbox::Sandbox,
    /// What the service's `carehq.base_url` is set to.
    pub url: String,
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl BenchSandbox {
    pub async fn start(config: enquiry_relay::sandbox::SandboxConfig) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let sandbox = enquiry_relay::sandbox::Sandbox::new(config);
        let stop = tokio_util::sync::CancellationToken::new();
        let (serving, token) = (sandbox.clone(), stop.clone());
        let task = tokio::spawn(async move {
            enquiry_relay::sandbox::serve(listener, serving, token.cancelled_owned()).await
        });
        Ok(BenchSandbox {
            sandbox,
            url,
            stop,
            task,
        })
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}
