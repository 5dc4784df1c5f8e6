//! The real `enquiry-relay` binary as a child process: started, waited on
//! until /healthz answers, signalled, stopped, and read from /proc.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::net::{free_port, unique_file};

/// What the binary prints when another process has its `server.listen`.
pub const PORT_TAKEN: &str = "could not listen on";

/// How many ports [`BinaryApp::serve`] tries before giving up.
const PORT_TRIES: usize = 5;

/// A running `enquiry-relay serve`, killed if still running when dropped.
pub struct BinaryApp {
    pub child: Child,
    pub address: String,
    pub log: PathBuf,
    /// The config file it was started with and the port it listens on, for
    /// a restart on the same address.
    pub config: PathBuf,
    pub port: u16,
}

/// How a stopped binary ended.
pub struct Stopped {
    pub status: ExitStatus,
    pub log_bytes: u64,
}

impl BinaryApp {
    /// Pick a free port, write `config_for(port)` into `dir` under a name no
    /// other start shares, and start the binary on it. The port was free a
    /// moment ago; when another process took it first (the binary exits
    /// saying so), start again on another one.
    pub async fn serve(dir: &Path, config_for: impl Fn(u16) -> String) -> anyhow::Result<Self> {
        let mut tries = 0;
        loop {
            tries += 1;
            let port = free_port();
            let config = unique_file(dir, "relay", "toml");
            std::fs::write(&config, config_for(port)).context("writing the config")?;
            let log = unique_file(dir, &format!("relay-{port}"), "log");
            match BinaryApp::launch(&config, port, &log).await {
                Err(e) if tries < PORT_TRIES && format!("{e:#}").contains(PORT_TAKEN) => {
                    eprintln!("port {port} was taken before the binary bound it; another port");
                }
                started => return started,
            }
        }
    }

    /// Start the binary with `config` (which listens on `port`), logging to
    /// a new file in `log_dir`, and wait for /healthz; panics on failure.
    pub async fn start(config: &Path, port: u16, log_dir: &Path) -> BinaryApp {
        let log = unique_file(log_dir, &format!("relay-{port}"), "log");
        BinaryApp::launch(config, port, &log)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Start the binary with `config` (which listens on `port`), logging to
    /// `log`; wait (at most 60 s) for /healthz, failing at once if the
    /// process exits. The binary is the one Cargo built, or
    /// `BENCH_RELAY_BINARY` when set (an older build kept aside, for a
    /// benchmark's before/after on the same machine and minute; not
    /// `ENQUIRY_RELAY_…`: that prefix is the service's own configuration).
    pub async fn launch(config: &Path, port: u16, log: &Path) -> anyhow::Result<BinaryApp> {
        let out = std::fs::File::create(log).context("creating the log file")?;
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
        let mut app = BinaryApp {
            child,
            address: format!("http://127.0.0.1:{port}"),
            log: log.to_owned(),
            config: config.to_owned(),
            port,
        };
        app.wait_healthy().await?;
        Ok(app)
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let url = format!("{}/healthz", self.address);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if let Some(status) = self.child.try_wait()? {
                bail!("the binary exited ({status}); log:\n{}", self.log_text());
            }
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bail!("the binary never became healthy; log:\n{}", self.log_text())
    }

    pub fn form_url(&self) -> String {
        format!("{}/forms/{}", self.address, super::SITE)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -<signal>` (TERM, KILL, HUP).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Wait (at most `limit`) for the process to exit.
    async fn exit_status(&mut self, limit: Duration) -> anyhow::Result<ExitStatus> {
        let begun = Instant::now();
        while begun.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        bail!(
            "the binary did not exit within {limit:?}; log:\n{}",
            self.log_text()
        )
    }

    /// Wait for the process to exit (after a signal); its exit status.
    pub async fn wait_exit(self, limit: Duration) -> ExitStatus {
        self.finish(limit)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"))
            .status
    }

    /// Wait for the process to exit (after a signal) and how it ended;
    /// `BENCH_RELAY_LOG` keeps a copy of its log.
    pub async fn finish(mut self, limit: Duration) -> anyhow::Result<Stopped> {
        let status = self.exit_status(limit).await?;
        let log_bytes = std::fs::metadata(&self.log).map_or(0, |m| m.len());
        self.keep_log();
        Ok(Stopped { status, log_bytes })
    }

    /// SIGTERM, then wait for the exit: a graceful stop finishes (or cuts
    /// off) every send in flight, so once this returns the process sends
    /// nothing more. Tests prove "sent once" by this, not by sleeping past a
    /// poll. The log stays readable.
    pub async fn stop(&mut self) {
        self.signal("TERM");
        if let Err(e) = self.exit_status(Duration::from_secs(60)).await {
            panic!("{e:#}");
        }
    }

    /// SIGTERM, then [`BinaryApp::finish`] (at most 30 s: shutdown waits
    /// for sends in flight).
    pub async fn shutdown(self) -> anyhow::Result<Stopped> {
        self.signal("TERM");
        self.finish(Duration::from_secs(30)).await
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
            .context("resetting the binary's VmHWM")
    }

    /// CPU time the binary has used so far, user + system, in clock ticks.
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
}

impl Drop for BinaryApp {
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
