//! Drain benchmark (issue 11 item 10): a backlog of enquiries delivered to a
//! CareHQ sandbox limited to CareHQ's 10 requests a second, by the real
//! release binary with its default `sync.concurrency` (4, or `--concurrency`).
//! Reports the rate achieved against the rate allowed, and CareHQ's 429s.
//!
//! Run: `cargo bench --bench drain` (`-- --help` for the flags).
//!
//! The enquiries are posted as fast as intake takes them (well under a
//! second for 200), so nearly all of them wait in the outbox while the
//! worker drains at the limit. The rate achieved is counted over the whole
//! one-second windows between the first and the last create (the first and
//! last windows are partial by nature); the overall rate is reported too.

// The test kit tests and benches share (tests/kit/); common/service.rs
// names it for the benches.
#[path = "../tests/kit/mod.rs"]
mod kit;

// Shared with the intake and fault benches; each uses part of it.
#[allow(dead_code)]
#[path = "common/service.rs"]
mod service;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Parser;
use enquiry_relay::sandbox::{Sandbox, SandboxConfig};

use service::{BenchDb, Db, Service};

#[derive(Parser, Debug)]
#[command(about = "Backlog drain benchmark for enquiry-relay")]
struct Args {
    /// Enquiries in the backlog.
    #[arg(long, default_value_t = 200)]
    enquiries: usize,
    /// The sandbox's limit, requests per second (CareHQ's is 10).
    #[arg(long, default_value_t = 10)]
    limit: u32,
    /// `sync.concurrency` of the service (0: the service's default).
    #[arg(long, default_value_t = 0)]
    concurrency: usize,
    /// Drains to run, each on a fresh SQLite database.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// After the drains: enquiries posted one at a time, below the limit,
    /// to time each from its acknowledgement to its record in CareHQ
    /// (0: skip).
    #[arg(long, default_value_t = 50)]
    trickle: usize,
    /// Gap between the trickle's posts, in milliseconds.
    #[arg(long, default_value_t = 250)]
    trickle_gap_ms: u64,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    service::runtime()?.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let bench_sandbox = service::BenchSandbox::start_with(SandboxConfig {
        rate_limit_per_second: args.limit,
        ..Default::default()
    })
    .await;
    let (sandbox, carehq_url) = (&bench_sandbox.sandbox, bench_sandbox.url.clone());
    let extra = if args.concurrency > 0 {
        format!("[sync]\nconcurrency = {}\n", args.concurrency)
    } else {
        String::new()
    };

    println!(
        "| Run | Enquiries | Limit /s | Whole windows | Creates in them | Rate achieved / allowed | Overall /s | 429s | CareHQ requests |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for run in 1..=args.runs {
        sandbox.reset();
        let Some(db) = BenchDb::create(Db::Sqlite, "drain").await? else {
            anyhow::bail!("SQLite is always available");
        };
        let service = service::start(&db, &carehq_url, &extra, true).await?;
        let client = reqwest::Client::new();
        let posted = Instant::now();
        let mut posts = tokio::task::JoinSet::new();
        // Eight posting tasks: a backlog in well under a second.
        for task in 0..8 {
            let (client, url, n) = (client.clone(), service.form_url(), args.enquiries);
            posts.spawn(async move {
                for i in (task..n).step_by(8) {
                    let body = serde_json::json!({
                        "first_name": "Drain",
                        "last_name": format!("Family {i}"),
                        "email": format!("drain-{run}-{i}@example.com"),
                        "phone": "01632 960123",
                        "care_requirements": "Residential care",
                    });
                    let response = client.post(&url).json(&body).send().await?;
                    anyhow::ensure!(
                        response.status() == 201,
                        "intake answered {}",
                        response.status()
                    );
                }
                Ok(())
            });
        }
        while let Some(done) = posts.join_next().await {
            done??;
        }
        eprintln!(
            "run {run}: {} enquiries posted in {:.2} s",
            args.enquiries,
            posted.elapsed().as_secs_f64()
        );
        let deadline = Instant::now() + Duration::from_secs(args.enquiries as u64 * 2 + 60);
        while sandbox.received_enquiries().len() < args.enquiries {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the drain did not finish in time"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let times: Vec<f64> = sandbox
            .received_enquiries()
            .iter()
            .map(|r| r.received_at.unix_timestamp_nanos() as f64 / 1e9)
            .collect();
        let mut per_window: BTreeMap<i64, usize> = BTreeMap::new();
        for t in &times {
            *per_window.entry(t.floor() as i64).or_default() += 1;
        }
        let first = times.iter().copied().fold(f64::INFINITY, f64::min);
        let last = times.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (first_w, last_w) = (first.floor() as i64, last.floor() as i64);
        let whole = (last_w - first_w - 1).max(0);
        let in_whole: usize = per_window.range(first_w + 1..last_w).map(|(_, n)| n).sum();
        let achieved = in_whole as f64 / (whole.max(1) as f64 * f64::from(args.limit));
        println!(
            "| {run} | {} | {} | {whole} | {in_whole} | {:.1} % | {:.2} | {} | {} |",
            args.enquiries,
            args.limit,
            achieved * 100.0,
            (times.len() - 1) as f64 / (last - first).max(f64::EPSILON),
            sandbox.too_many_requests_count(),
            sandbox.request_count(),
        );
        service.shutdown().await?;
        db.drop_database().await;
    }
    if args.trickle > 0 {
        sandbox.reset();
        let Some(db) = BenchDb::create(Db::Sqlite, "drain").await? else {
            anyhow::bail!("SQLite is always available");
        };
        let service = service::start(&db, &carehq_url, &extra, true).await?;
        let delays = trickle(sandbox, &service, args.trickle, args.trickle_gap_ms).await?;
        println!();
        println!(
            "| Enquiries | Gap ms | Ack → record in CareHQ: p50 ms | p99 ms | max ms | min ms |"
        );
        println!("|---:|---:|---:|---:|---:|---:|");
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            delays.len(),
            args.trickle_gap_ms,
            percentile(&delays, 0.50),
            percentile(&delays, 0.99),
            delays.last().copied().unwrap_or_default(),
            delays.first().copied().unwrap_or_default(),
        );
        service.shutdown().await?;
        db.drop_database().await;
    }
    bench_sandbox.stop().await;
    Ok(())
}

/// Post `n` enquiries one at a time, `gap_ms` apart, and return for each the
/// milliseconds from the moment its 201 was read to the moment the sandbox
/// recorded it, sorted. Negative when the worker's send, woken by the
/// commit, reached CareHQ before the answer reached the client.
async fn trickle(
    sandbox: &Sandbox,
    service: &Service,
    n: usize,
    gap_ms: u64,
) -> anyhow::Result<Vec<f64>> {
    let client = reqwest::Client::new();
    let mut acked = BTreeMap::new();
    for i in 0..n {
        let email = format!("trickle-{i}@example.com");
        let body = serde_json::json!({
            "first_name": "Trickle",
            "last_name": format!("Family {i}"),
            "email": email,
            "phone": "01632 960123",
            "care_requirements": "Residential care",
        });
        let response = client.post(service.form_url()).json(&body).send().await?;
        let status = response.status();
        response.bytes().await?;
        let at = time::OffsetDateTime::now_utc();
        anyhow::ensure!(status == 201, "intake answered {status}");
        acked.insert(email, at);
        tokio::time::sleep(Duration::from_millis(gap_ms)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while sandbox.received_enquiries().len() < n {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the trickle was not delivered in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut delays: Vec<f64> = sandbox
        .received_enquiries()
        .iter()
        .filter_map(|r| {
            let at = acked.get(r.field("email")?)?;
            Some((r.received_at - *at).as_seconds_f64() * 1000.0)
        })
        .collect();
    anyhow::ensure!(
        delays.len() == n,
        "{} of {n} trickle enquiries matched",
        delays.len()
    );
    delays.sort_by(f64::total_cmp);
    Ok(delays)
}

/// The value below which `q` of the sorted `values` fall.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
