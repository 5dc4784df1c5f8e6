//! Intake benchmark (issue 2): how fast and how steadily `POST /forms/{site}`
//! answers a family, on SQLite and PostgreSQL, while CareHQ answers in 0 ms or
//! in 2 s, at 1, 16 and 64 concurrent clients; plus the idle memory of the
//! real release binary. Prints Markdown tables for BENCHMARKS.md.
//!
//! Run: `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench intake`
//! Subset: `cargo bench --bench intake -- --db sqlite --latency-ms 0 --clients 16`
//! Encryption at rest off and on, same run: add `--encryption off,on`.
//! Bot flood: `cargo bench --bench intake -- --traffic mixed --bots 64 --db sqlite`
//! (family clients alone, then the same clients beside the bots; add
//! `--bot-rate 500,2000` to pace the bots to those totals per second).
//!
//! Everything runs on loopback: the CareHQ sandbox in this process, the
//! service as a separate process (the binary Cargo built for this bench).

// A bench's root is its own crate root: its modules live in benches/intake/,
// and what the three benches share in benches/common/ (each uses part of it).
#[path = "intake/load.rs"]
mod load;
#[path = "intake/report.rs"]
mod report;
#[allow(dead_code)]
#[path = "common/service.rs"]
mod service;

use std::time::Duration;

use clap::Parser;
use enquiry_relay::sandbox::{Faults, SandboxConfig};

use load::LoadPlan;
use report::{MemoryRow, MixedRow, Row};
use service::{BenchDb, Service};

/// Which scenarios to run and for how long.
#[derive(Parser, Debug)]
#[command(about = "Intake benchmark for enquiry-relay")]
struct Args {
    /// Databases: sqlite, postgres (postgres needs TEST_DATABASE_URL).
    #[arg(long, value_delimiter = ',', default_values = ["sqlite", "postgres"])]
    db: Vec<String>,
    /// CareHQ (sandbox) answer delays in milliseconds.
    #[arg(long, value_delimiter = ',', default_values_t = [0, 2000])]
    latency_ms: Vec<u64>,
    /// Concurrent clients per run.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 16, 64])]
    clients: Vec<usize>,
    /// Measured seconds per run.
    #[arg(long, default_value_t = 8)]
    seconds: u64,
    /// Warm-up seconds before each measured run (not recorded).
    #[arg(long, default_value_t = 1)]
    warmup_seconds: u64,
    /// Upper bound on requests per measured run, whatever the time.
    #[arg(long, default_value_t = 200_000)]
    max_requests: u64,
    /// Seconds the service sits idle after start-up before its memory is read.
    #[arg(long, default_value_t = 3)]
    idle_seconds: u64,
    /// TOML appended verbatim to the service's config (e.g. to lift intake
    /// rate limits that would otherwise refuse one loopback address).
    #[arg(long, default_value = "")]
    extra_toml: String,
    /// What the clients post: family enquiries, honeypot bots, posts past
    /// the per-IP rate limit (the service then keeps its default limits), or
    /// mixed: `--clients` families beside `--bots` honeypot bots.
    #[arg(long, value_enum, default_value = "family")]
    traffic: load::Traffic,
    /// Bot clients flooding alongside the families (`--traffic mixed` only).
    #[arg(long, default_value_t = 64)]
    bots: usize,
    /// The bots' total posts per second, one mixed run per value; 0 means
    /// as fast as they can (`--traffic mixed` only).
    #[arg(long, value_delimiter = ',', default_values_t = [0.0])]
    bot_rate: Vec<f64>,
    /// Personal data encrypted at rest (`database.encryption_key_file`):
    /// off, on, or both (`off,on`: one service each, the same run).
    #[arg(long, value_delimiter = ',', default_values = ["off"])]
    encryption: Vec<String>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    service::runtime()?.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let dbs = parse_dbs(&args.db)?;
    let encryption = (args.encryption.iter())
        .map(|e| match e.as_str() {
            "off" => Ok(false),
            "on" => Ok(true),
            other => anyhow::bail!("unknown --encryption {other}: use off, on or off,on"),
        })
        .collect::<anyhow::Result<Vec<bool>>>()?;
    // The sandbox's own limit (10/s by default) would throttle delivery and
    // change what the worker does; the benchmark is about intake.
    let bench_sandbox = service::BenchSandbox::start(SandboxConfig {
        rate_limit_per_second: 100_000,
        ..Default::default()
    })
    .await?;
    let (sandbox, carehq_url) = (&bench_sandbox.sandbox, bench_sandbox.url.clone());

    let plan = LoadPlan {
        measured: Duration::from_secs(args.seconds),
        warmup: Duration::from_secs(args.warmup_seconds),
        max_requests: args.max_requests,
        traffic: args.traffic,
    };
    let mut rows = Vec::new();
    let mut mixed = Vec::new();
    let mut memory = Vec::new();
    for db in dbs {
        for (&latency_ms, &encrypted) in
            (args.latency_ms.iter()).flat_map(|l| encryption.iter().map(move |e| (l, e)))
        {
            let Some(bench_db) = BenchDb::create(db, "intake").await? else {
                continue;
            };
            sandbox.reset();
            sandbox.set_faults(Faults {
                latency_ms,
                ..Default::default()
            });
            eprintln!(
                "== {} / CareHQ {latency_ms} ms / encryption {}: starting the service",
                db.name(),
                if encrypted { "on" } else { "off" }
            );
            let service = Service::start_with(
                &bench_db,
                &carehq_url,
                &args.extra_toml,
                args.traffic != load::Traffic::RateLimited,
                encrypted,
            )
            .await?;
            tokio::time::sleep(Duration::from_secs(args.idle_seconds)).await;
            let idle_kb = service.memory_kb("VmRSS")?;
            let client = load::client()?;
            let tick = service::ticks_per_second() as f64;
            for &clients in &args.clients {
                if args.traffic == load::Traffic::Mixed {
                    for &rate in &args.bot_rate {
                        let tag = format!("{}-{latency_ms}-{clients}-{rate}", db.name());
                        let bots = Flood {
                            clients: args.bots,
                            rate: (rate > 0.0).then_some(rate),
                        };
                        let figures =
                            mixed_run(&client, &service, clients, bots, &plan, &tag).await;
                        mixed.push(MixedRow {
                            db: db.name(),
                            latency_ms,
                            ..figures
                        });
                    }
                    continue;
                }
                let delivered_before = sandbox.request_count();
                let cpu_before = (service.cpu_ticks()?, service::cpu_ticks("/proc/self/stat")?);
                let started = std::time::Instant::now();
                let tag = format!("{}-{latency_ms}-{clients}", db.name());
                let stats = load::run(&client, &service.form_url(), clients, &plan, &tag).await;
                let delivered = sandbox.request_count() - delivered_before;
                // Ticks that make 1 % of one core over this run.
                let one_percent = started.elapsed().as_secs_f64() * tick / 100.0;
                let service_cpu = (service.cpu_ticks()? - cpu_before.0) as f64 / one_percent;
                let bench_cpu =
                    (service::cpu_ticks("/proc/self/stat")? - cpu_before.1) as f64 / one_percent;
                eprintln!(
                    "   {clients:>3} clients: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, non-201 {}",
                    stats.per_second(),
                    report::ms(stats.percentile(0.50)),
                    report::ms(stats.percentile(0.99)),
                    stats.non_201
                );
                rows.push(Row {
                    db: db.name(),
                    latency_ms,
                    encrypted,
                    clients,
                    stats,
                    carehq_calls: delivered,
                    load_avg: report::load_avg(),
                    service_cpu,
                    bench_cpu,
                });
            }
            memory.push(MemoryRow {
                db: db.name(),
                latency_ms,
                encrypted,
                idle_kb,
                peak_kb: service.memory_kb("VmHWM")?,
            });
            let stopped = service.stop().await?;
            if !stopped.status.success() {
                eprintln!("   the service exited with {}", stopped.status);
            }
            eprintln!(
                "   service stopped; its log was {} bytes",
                stopped.log_bytes
            );
            bench_db.drop_database().await;
        }
    }
    bench_sandbox.stop().await;

    println!("Traffic: {:?}\n", args.traffic);
    if args.traffic == load::Traffic::Mixed {
        println!("{}", report::mixed_markdown(&mixed, &memory));
    } else {
        println!("{}", report::markdown(&rows, &memory));
    }
    Ok(())
}

/// The honeypot bots of a mixed run: how many, and their total posts per
/// second (`None`: as fast as they can).
#[derive(Clone, Copy)]
struct Flood {
    clients: usize,
    rate: Option<f64>,
}

/// The family clients alone, then the same clients while the bots post, on
/// the same service (database and CareHQ latency are filled in by the caller).
async fn mixed_run(
    client: &reqwest::Client,
    service: &Service,
    clients: usize,
    bots: Flood,
    plan: &LoadPlan,
    tag: &str,
) -> MixedRow {
    let families = LoadPlan {
        traffic: load::Traffic::Family,
        ..*plan
    };
    let alone = load::run(
        client,
        &service.form_url(),
        clients,
        &families,
        &format!("a{tag}"),
    )
    .await;
    let (family, bot) = load::run_mixed(
        client,
        &service.form_url(),
        (clients, bots.clients),
        bots.rate,
        plan,
        tag,
    )
    .await;
    eprintln!(
        "   {clients:>3} families: p50 {:.2} → {:.2} ms, p99 {:.2} → {:.2} ms beside {} bots at {:.0} req/s",
        report::ms(alone.percentile(0.50)),
        report::ms(family.percentile(0.50)),
        report::ms(alone.percentile(0.99)),
        report::ms(family.percentile(0.99)),
        bots.clients,
        bot.per_second(),
    );
    MixedRow {
        db: "",
        latency_ms: 0,
        clients,
        bots: bots.clients,
        bot_rate: bots.rate,
        alone,
        family,
        bot,
        load_avg: report::load_avg(),
    }
}

fn parse_dbs(names: &[String]) -> anyhow::Result<Vec<service::Db>> {
    names
        .iter()
        .map(|name| match name.as_str() {
            "sqlite" => Ok(service::Db::Sqlite),
            "postgres" => Ok(service::Db::Postgres),
            other => anyhow::bail!("unknown --db {other}: use sqlite, postgres or both"),
        })
        .collect()
}
