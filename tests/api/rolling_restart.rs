//! The shipped deployment, run for real (issue 32): Debian's Caddy running
//! the repository's `Caddyfile` in front of two relay binaries that share
//! one PostgreSQL database. Only the Caddyfile's upstream list is rewritten
//! (the compose DNS name becomes two loopback ports); its site address and
//! admin endpoint come from the environment variables it reads.
//!
//! Also here: the drain a replica does on SIGTERM, and what a flood of
//! `/readyz` costs, both against the real binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use enquiry_relay::sandbox::SandboxConfig;

use crate::helpers::{
    AppOptions, BinaryApp, Db, LENIENT_SPAM, SITE, TestDb, TestSandbox, eventually, family,
    free_port, http_client, serve_binary, write_config,
};

/// Caddy from Debian's package (`.ci/run` installs it). `None` outside CI
/// when it is missing, so a fresh machine's first test run still passes;
/// in CI a missing Caddy fails the test.
fn caddy_binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("caddy"))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "caddy is not installed: `apt-get install -y caddy` (.ci/run does)"
        );
        eprintln!("caddy is not installed: skipping the deployment test (apt-get install caddy)");
    }
    found
}

/// The repository's Caddyfile with its `dynamic a { … }` upstreams replaced
/// by `to` the given loopback ports. Nothing else changes.
fn caddyfile_for(upstreams: &[u16]) -> String {
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Caddyfile"))
        .expect("read Caddyfile");
    let start = shipped
        .find("dynamic a {")
        .expect("the Caddyfile names its upstreams with `dynamic a { … }`");
    let end = start
        + shipped[start..]
            .find('}')
            .expect("the dynamic block is closed")
        + 1;
    let to: Vec<String> = upstreams
        .iter()
        .map(|port| format!("127.0.0.1:{port}"))
        .collect();
    format!(
        "{}to {}{}",
        &shipped[..start],
        to.join(" "),
        &shipped[end..]
    )
}

/// A running Caddy.
struct Caddy {
    child: Child,
    address: String,
    log: PathBuf,
}

impl Caddy {
    async fn start(caddy: &Path, dir: &Path, upstreams: &[u16]) -> Caddy {
        let config = dir.join("Caddyfile");
        std::fs::write(&config, caddyfile_for(upstreams)).expect("write Caddyfile");
        let port = free_port();
        let log = dir.join("caddy.log");
        let out = std::fs::File::create(&log).expect("caddy log");
        let child = Command::new(caddy)
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&config)
            .env("SITE_ADDRESS", format!("http://127.0.0.1:{port}"))
            .env("CADDY_ADMIN", format!("127.0.0.1:{}", free_port()))
            // Caddy keeps state under these; not in the real home.
            .env("HOME", dir)
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .stdout(out.try_clone().expect("caddy log"))
            .stderr(out)
            .spawn()
            .expect("start caddy");
        let caddy = Caddy {
            child,
            address: format!("http://127.0.0.1:{port}"),
            log,
        };
        let client = http_client();
        let url = format!("{}/healthz", caddy.address);
        let up = eventually(Duration::from_secs(30), || async {
            let response = client.get(&url).send().await.ok()?;
            response.status().is_success().then_some(())
        })
        .await;
        assert!(
            up.is_some(),
            "Caddy never answered through to a replica; log:\n{}",
            std::fs::read_to_string(&caddy.log).unwrap_or_default()
        );
        caddy
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The sum of the series `name` whose labels contain `label` (`""`: any)
/// in the `/metrics` of the process at `address` (each process counts its
/// own). 0 before the series has a sample.
async fn metric_total(address: &str, name: &str, label: &str) -> f64 {
    let text = http_client()
        .get(format!("{address}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with([' ', '{']) && rest.contains(label))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// One replica's own count of the enquiries it accepted, so the test can
/// tell Caddy is routing to it.
async fn accepted_by(replica: &BinaryApp) -> f64 {
    metric_total(
        &replica.address,
        "enquiry_relay_submissions_total",
        "outcome=\"accepted\"",
    )
    .await
}

/// Wait until Caddy has sent `replica` a family's post (it is in rotation).
async fn wait_in_rotation(replica: &BinaryApp) {
    let routed = eventually(Duration::from_secs(30), || async {
        (accepted_by(replica).await > 0.0).then_some(())
    })
    .await;
    assert!(
        routed.is_some(),
        "Caddy never routed a post to {}; log:\n{}",
        replica.address,
        replica.log_text()
    );
}

/// Options every replica here shares: Caddy on loopback is the trusted
/// proxy, and `/metrics` is open (the test reads each replica's counts).
fn replica_options(spam_toml: &str) -> AppOptions {
    AppOptions {
        // The shipped drain, not the tests' usual 0 s: it is the subject.
        drain: None,
        ..AppOptions::default()
    }
    .config("[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n[metrics]\nrequire_token = false\n")
    .config(spam_toml)
}

/// What one family's post through Caddy got.
struct Answer {
    n: usize,
    status: u16,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_behind_the_shipped_caddy_refuses_no_family() {
    let Some(caddy) = caddy_binary() else { return };
    let Some(db) = TestDb::new(Db::Postgres).await else {
        return;
    };
    // CareHQ's own limit (10 a second) would leave the steady posts queued
    // long after the test; this is about intake, not pacing.
    let sandbox = TestSandbox::start_with(SandboxConfig {
        rate_limit_per_second: 1000,
        ..SandboxConfig::default()
    })
    .await;
    let options = replica_options(LENIENT_SPAM);
    let ports = [free_port(), free_port()];
    let configs: Vec<PathBuf> = ports
        .iter()
        .map(|port| write_config(db.dir.path(), &db.url, &sandbox.url, *port, &options))
        .collect();
    let mut replicas = Vec::new();
    for (config, port) in configs.iter().zip(ports) {
        replicas.push(BinaryApp::start(config, port, db.dir.path()).await);
    }
    let proxy = Caddy::start(&caddy, db.dir.path(), &ports).await;

    // Four families' browsers posting steadily through Caddy.
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let answers = Arc::new(Mutex::new(Vec::<Answer>::new()));
    let mut posters = Vec::new();
    for _ in 0..4 {
        let (stop, next, answers) = (stop.clone(), next.clone(), answers.clone());
        let url = format!("{}/forms/{SITE}", proxy.address);
        posters.push(tokio::spawn(async move {
            let client = http_client();
            while !stop.load(Ordering::Relaxed) {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let status = match client.post(&url).json(&family(n)).send().await {
                    Ok(response) => response.status().as_u16(),
                    // No answer at all: counted as a refusal.
                    Err(_) => 0,
                };
                answers.lock().unwrap().push(Answer { n, status });
                // A steady stream (about 40 posts a second in all), not a flood.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }

    // Both replicas in rotation, then each in turn stopped (SIGTERM, as
    // `docker compose up -d` does with a new image) and started again.
    for replica in &replicas {
        wait_in_rotation(replica).await;
    }
    for (index, (config, port)) in configs.iter().zip(ports).enumerate() {
        replicas[index].stop().await;
        assert!(
            replicas[index].log_text().contains("draining"),
            "the replica drained before it stopped; log:\n{}",
            replicas[index].log_text()
        );
        replicas[index] = BinaryApp::start(config, port, db.dir.path()).await;
        wait_in_rotation(&replicas[index]).await;
    }
    stop.store(true, Ordering::Relaxed);
    for poster in posters {
        poster.await.unwrap();
    }

    let answers = std::mem::take(&mut *answers.lock().unwrap());
    let refused: Vec<(usize, u16)> = answers
        .iter()
        .filter(|a| a.status != 201)
        .map(|a| (a.n, a.status))
        .collect();
    assert!(
        refused.is_empty(),
        "{} of {} posts were answered other than 201 during the restarts: {refused:?}\nCaddy log:\n{}",
        refused.len(),
        answers.len(),
        std::fs::read_to_string(&proxy.log).unwrap_or_default()
    );

    // Every acknowledged enquiry reaches CareHQ, once.
    let acknowledged = answers.len();
    sandbox.wait_for(acknowledged).await;
    for replica in &mut replicas {
        replica.stop().await;
    }
    let received = sandbox.received();
    let mut emails: Vec<String> = received
        .iter()
        .filter_map(|r| crate::helpers::field(r, "email").map(str::to_owned))
        .collect();
    emails.sort();
    emails.dedup();
    assert_eq!(
        (received.len(), emails.len()),
        (acknowledged, acknowledged),
        "every acknowledged enquiry sent exactly once"
    );
    println!("{acknowledged} posts through Caddy over two restarts: every one 201, each sent once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_forwarding_headers_do_not_escape_the_per_ip_limit_behind_caddy() {
    let Some(caddy) = caddy_binary() else { return };
    let Some(db) = TestDb::new(Db::Postgres).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    let per_ip = 3;
    let spam = format!(
        "[spam]\nmin_fill_time = \"0s\"\n[rate_limit]\nper_ip = \"{per_ip}/1h\"\n\
         per_site = \"100000/1s\"\nper_site_held = \"100000/1s\"\n"
    );
    let options = replica_options(&spam);
    let ports = [free_port(), free_port()];
    let mut replicas = Vec::new();
    for port in ports {
        let config = write_config(db.dir.path(), &db.url, &sandbox.url, port, &options);
        replicas.push(BinaryApp::start(&config, port, db.dir.path()).await);
    }
    let proxy = Caddy::start(&caddy, db.dir.path(), &ports).await;

    // Each post claims another address in every header a proxy might read.
    // Each replica keeps its own buckets, so through two of them the one
    // real address (Caddy's view of the client) gets `per_ip` each.
    let client = http_client();
    let posts = 4 * per_ip;
    let mut accepted = 0;
    let mut limited = 0;
    for n in 0..posts {
        let forged = format!("198.51.100.{}", n + 1);
        let response = client
            .post(format!("{}/forms/{SITE}", proxy.address))
            .header("x-forwarded-for", &forged)
            .header("forwarded", format!("for={forged}"))
            .header("x-real-ip", &forged)
            .json(&family(n))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            201 => accepted += 1,
            429 => limited += 1,
            other => panic!("post {n}: unexpected {other}"),
        }
    }
    assert!(
        accepted <= per_ip * replicas.len(),
        "{accepted} of {posts} accepted: forged headers escaped the per-IP limit"
    );
    assert_eq!(accepted + limited, posts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sigterm_a_replica_says_not_ready_but_keeps_serving_until_the_drain_ends() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    let sandbox = TestSandbox::start().await;
    let options = AppOptions {
        // Long enough that only the second signal can end it.
        drain: Some(Duration::from_secs(3600)),
        ..AppOptions::default()
    };
    let app = serve_binary(&db, &sandbox.url, &options).await;
    let client = http_client();
    let readyz = format!("{}/readyz", app.address);
    let ready = eventually(Duration::from_secs(10), || async {
        let response = client.get(&readyz).send().await.ok()?;
        (response.status() == 200).then_some(())
    })
    .await;
    assert!(ready.is_some(), "ready before the signal");

    app.signal("TERM");
    let draining = eventually(Duration::from_secs(10), || async {
        let response = client.get(&readyz).send().await.ok()?;
        if response.status() != 503 {
            return None;
        }
        response.json::<serde_json::Value>().await.ok()
    })
    .await
    .expect("/readyz answers 503 once the drain starts");
    assert_eq!(draining["status"], "draining");
    // Reads and writes are still fine: only the drain makes it not ready.
    assert_eq!(draining["database"], "ok");

    // A family posting now is still answered, and the answer closes the
    // connection so the proxy keeps none open to a process about to stop.
    let response = client
        .post(format!("{}/forms/{SITE}", app.address))
        .json(&family(1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["connection"], "close");
    // The worker still delivers while the process drains.
    sandbox.wait_for(1).await;

    // A second signal ends the drain at once.
    app.signal("TERM");
    let status = app.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "clean exit: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_ends_by_itself_and_the_process_stops() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    let sandbox = TestSandbox::start().await;
    let options = AppOptions {
        drain: Some(Duration::from_millis(300)),
        ..AppOptions::default()
    };
    let app = serve_binary(&db, &sandbox.url, &options).await;
    app.signal("TERM");
    let log = app.log.clone();
    let status = app.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "clean exit: {status:?}");
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("draining"), "the drain is logged:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_readyz_costs_about_one_database_check_a_second() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    let sandbox = TestSandbox::start().await;
    let options = AppOptions::default().config("[metrics]\nrequire_token = false\n");
    let app = serve_binary(&db, &sandbox.url, &options).await;
    let client = http_client();
    let checks = || metric_total(&app.address, "enquiry_relay_readiness_checks_total", "");
    let before = checks().await;
    let started = Instant::now();
    let calls: Vec<_> = (0..200)
        .map(|_| {
            let client = client.clone();
            let url = format!("{}/readyz", app.address);
            tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) })
        })
        .collect();
    for call in calls {
        let status = call.await.unwrap().expect("answered");
        // 200, or 503 while the worker's first beat is still to come.
        assert!(status == 200 || status == 503, "{status}");
    }
    let lasted = started.elapsed();
    let ran = checks().await - before;
    // At most one check a second, plus the one that may have begun just
    // before the burst's first second ended: bounded by how long the burst
    // took on this machine, not by a fixed time.
    let allowed = lasted.as_secs_f64().ceil() + 1.0;
    assert!(
        ran >= 1.0 && ran <= allowed,
        "200 concurrent /readyz ran {ran} database checks in {lasted:?} (allowed {allowed})"
    );
}
