//! Intake benchmark (issues 2 and 31): how fast and how steadily
//! `POST /forms/{site}` answers a family, on SQLite and PostgreSQL, while
//! CareHQ answers in 0 ms or in 2 s or delivery is paused, at 1, 16 and 64
//! concurrent clients, on an empty database or on N stored enquiries of
//! history; plus the idle memory of the real release binary and, on
//! SQLite, the WAL's peak during each measured window. Prints Markdown
//! tables for BENCHMARKS.md: every run, then per database a summary with
//! min / median / max over the runs, the command and the machine.
//!
//! Run: `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench intake`
//! Subset: `cargo bench --bench intake -- --db sqlite --latency-ms 0 --clients 16`
//! Issue 31: `… -- --stored 0,1000000 --delivery on,paused --latency-ms 0
//! --clients 16,64 --runs 5` (`--seconds 300 --max-requests 0` for the WAL).
//! Encryption at rest off and on, same run: add `--encryption off,on`.
//! Bot flood: `cargo bench --bench intake -- --traffic mixed --bots 64 --db sqlite`
//! (family clients alone, then the same clients beside the bots; add
//! `--bot-rate 500,2000` to pace the bots to those totals per second).
//!
//! Everything runs on loopback: the CareHQ sandbox in this process, the
//! service as a separate process (the binary Cargo built for this bench),
//! a fresh one on a fresh copy of the stored history for every run.

// The test kit tests and benches share (tests/kit/); common/service.rs
// names it for the benches.
#[path = "../tests/kit/mod.rs"]
mod kit;

// A bench's root is its own crate root: its modules live in benches/intake/,
// and what the benches share in benches/common/ (each uses part of it).
#[path = "intake/delivery.rs"]
mod delivery;
#[path = "intake/load.rs"]
mod load;
#[path = "intake/mixed.rs"]
mod mixed;
#[path = "intake/report.rs"]
mod report;
#[path = "intake/scenario.rs"]
mod scenario;
#[path = "intake/stored.rs"]
mod stored;
#[path = "intake/summary.rs"]
mod summary;
#[path = "intake/wal.rs"]
mod wal;

// The seeded history, shared with the staff reads bench.
#[allow(dead_code)]
#[path = "common/history.rs"]
mod history;
#[path = "common/numbers.rs"]
mod numbers;
#[allow(dead_code)]
#[path = "common/people.rs"]
mod people;
#[allow(dead_code)]
#[path = "common/recent.rs"]
mod recent;
#[allow(dead_code)]
#[path = "common/seed.rs"]
mod seed;
#[allow(dead_code)]
#[path = "common/service.rs"]
mod service;

use std::time::Duration;

use clap::Parser;
use enquiry_relay::sandbox::SandboxConfig;

use delivery::Delivery;
use load::LoadPlan;
use scenario::{Bench, Scenario};
use stored::Stored;

/// Which scenarios to run and for how long.
#[derive(Parser, Debug)]
#[command(about = "Intake benchmark for enquiry-relay")]
struct Args {
    /// Databases: sqlite, postgres (postgres needs TEST_DATABASE_URL).
    #[arg(long, value_delimiter = ',', default_values = ["sqlite", "postgres"])]
    db: Vec<String>,
    /// Enquiries stored before the service starts, one size after another:
    /// a year of an agency's 50 homes (at least 550 a day), seeded once per
    /// database and size, kept (SQLite: a file under target/tmp;
    /// PostgreSQL: a template database relay_bench_intake_<N>_<key>) and
    /// copied for each run. 0 is an empty database; otherwise at least 1,200.
    #[arg(long, value_delimiter = ',', default_values_t = [0])]
    stored: Vec<usize>,
    /// Seed the stored history again even if a kept seed fits.
    #[arg(long)]
    reseed: bool,
    /// The worker: on (CareHQ answers after --latency-ms), paused (CareHQ
    /// refuses the credentials, 401, so delivery pauses; nothing is sent
    /// during the run), or both.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["on"])]
    delivery: Vec<Delivery>,
    /// CareHQ (sandbox) answer delays in milliseconds (delivery on only).
    #[arg(long, value_delimiter = ',', default_values_t = [0, 2000])]
    latency_ms: Vec<u64>,
    /// Concurrent clients per run.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 16, 64])]
    clients: Vec<usize>,
    /// Runs of each scenario, each on a fresh service and a fresh copy of
    /// the stored history (not for --traffic mixed).
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Measured seconds per run.
    #[arg(long, default_value_t = 8)]
    seconds: u64,
    /// Warm-up seconds before each measured run (not recorded).
    #[arg(long, default_value_t = 1)]
    warmup_seconds: u64,
    /// Upper bound on requests per measured run, whatever the time; 0: none.
    #[arg(long, default_value_t = 200_000)]
    max_requests: u64,
    /// Seconds the service sits idle after start-up before its memory is read.
    #[arg(long, default_value_t = 3)]
    idle_seconds: u64,
    /// TOML appended verbatim to the service's config (e.g. to lift intake
    /// rate limits that would otherwise refuse one loopback address). A
    /// `[sync]` table here clashes with `--delivery paused`'s own.
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
    let began = time::OffsetDateTime::now_utc();
    // The sandbox's own limit (10/s by default) would throttle delivery and
    // change what the worker does; the benchmark is about intake.
    let bench_sandbox = service::BenchSandbox::start_with(SandboxConfig {
        rate_limit_per_second: 100_000,
        ..Default::default()
    })
    .await;
    let bench = Bench {
        sandbox: &bench_sandbox.sandbox,
        carehq_url: bench_sandbox.url.clone(),
        plan: LoadPlan {
            measured: Duration::from_secs(args.seconds),
            warmup: Duration::from_secs(args.warmup_seconds),
            max_requests: match args.max_requests {
                0 => u64::MAX,
                cap => cap,
            },
            traffic: args.traffic,
        },
        extra_toml: args.extra_toml.clone(),
        idle: Duration::from_secs(args.idle_seconds),
    };
    let mut rows = Vec::new();
    let mut mixed = Vec::new();
    let mut memory = Vec::new();
    'databases: for db in dbs {
        for &n in &args.stored {
            let Some(stored) = Stored::prepare(db, n, args.reseed).await? else {
                continue 'databases;
            };
            for base in scenarios(db, n, &args, &encryption) {
                eprintln!(
                    "== {} / {} stored / CareHQ {} / encryption {}",
                    db.name(),
                    report::thousands(n),
                    report::carehq_words(&base),
                    if base.encrypted { "on" } else { "off" }
                );
                if args.traffic == load::Traffic::Mixed {
                    let Some((rows, mem)) = mixed::on_one_service(
                        &bench,
                        base,
                        &stored,
                        &args.clients,
                        args.bots,
                        &args.bot_rate,
                    )
                    .await?
                    else {
                        continue 'databases;
                    };
                    mixed.extend(rows);
                    memory.push(mem);
                    continue;
                }
                for &clients in &args.clients {
                    let s = Scenario { clients, ..base };
                    for run in 1..=args.runs.max(1) {
                        let Some((row, mem)) = bench.run_once(s, &stored, run).await? else {
                            continue 'databases;
                        };
                        rows.push(row);
                        if run == 1 {
                            memory.push(mem);
                        }
                    }
                }
            }
        }
    }
    bench_sandbox.stop().await;

    println!("Traffic: {:?}\n", args.traffic);
    if args.traffic == load::Traffic::Mixed {
        println!("{}", report::mixed_markdown(&mixed, &memory));
    } else {
        println!("{}", report::markdown(&rows, &memory));
        let when = began
            .format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .unwrap_or_default();
        println!("{}", summary::markdown(&rows, &when));
    }
    Ok(())
}

/// Every delivery mode × CareHQ delay × encryption of one database and
/// size, their client count still to fill in (a paused run has no delay).
fn scenarios(db: service::Db, stored: usize, args: &Args, encryption: &[bool]) -> Vec<Scenario> {
    let mut all = Vec::new();
    for &delivery in &args.delivery {
        let delays = match delivery {
            Delivery::On => args.latency_ms.clone(),
            Delivery::Paused => vec![0],
        };
        for latency_ms in delays {
            for &encrypted in encryption {
                all.push(Scenario {
                    db,
                    stored,
                    delivery,
                    latency_ms,
                    encrypted,
                    clients: 0,
                });
            }
        }
    }
    all
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
