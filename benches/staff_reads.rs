//! Staff reads benchmark (issue 30): how the staff's reads — `/status`,
//! `/metrics`, the console's overview, list pages, filters and searches,
//! the CSV export and the `enquiries export` command — grow from 10,000
//! stored enquiries to 1,000,000 (five years of an agency's 50 homes), on
//! SQLite and PostgreSQL, and how much memory the service holds meanwhile.
//! Prints a Markdown table per database and checks the goals (PASS/FAIL).
//!
//! Run: `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench staff_reads`
//! Subset: `cargo bench --bench staff_reads -- --db sqlite --sizes 10000 --repeat 3`
//!
//! Per database and size: a fresh database, seeded ([`seed`]); the real
//! release binary started on it, idle but for the reads ([`setup`]); each
//! read timed after a warm-up ([`reads`]); the database dropped.

// The test kit tests and benches share (tests/kit/); common/service.rs
// names it for the benches.
#[path = "staff_reads/client.rs"]
mod client;
#[path = "staff_reads/html.rs"]
mod html;
#[path = "staff_reads/idle.rs"]
mod idle;
#[path = "../tests/kit/mod.rs"]
mod kit;
#[path = "staff_reads/reads.rs"]
mod reads;
#[path = "staff_reads/report.rs"]
mod report;
#[path = "staff_reads/setup.rs"]
mod setup;

// The seeded history, shared with the intake bench.
#[path = "common/history.rs"]
mod history;
#[path = "common/numbers.rs"]
mod numbers;
#[path = "common/people.rs"]
mod people;
#[path = "common/recent.rs"]
mod recent;
#[path = "common/seed.rs"]
mod seed;
// Shared with the other benches; each uses part of it.
#[allow(dead_code)]
#[path = "common/service.rs"]
mod service;

use clap::Parser;

use service::{BenchDb, Db};

#[derive(Parser, Debug)]
#[command(about = "Staff reads benchmark for enquiry-relay")]
struct Args {
    /// Databases: sqlite, postgres or both (postgres needs TEST_DATABASE_URL).
    #[arg(long, value_delimiter = ',', default_values = ["both"])]
    db: Vec<String>,
    /// Stored enquiries, one fresh database each (at least 1,200).
    #[arg(long, value_delimiter = ',', default_values_t = [10_000, 1_000_000])]
    sizes: Vec<usize>,
    /// Timed runs of each read, after one warm-up.
    #[arg(long, default_value_t = 7)]
    repeat: usize,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    service::runtime()?.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    html::self_check()?;
    let dbs = parse_dbs(&args.db)?;
    let mut sizes = args.sizes.clone();
    sizes.sort_unstable();
    for db in dbs {
        let mut columns = Vec::new();
        for &size in &sizes {
            match one_size(db, size, args.repeat).await? {
                Some(column) => columns.push(column),
                None => break,
            }
        }
        report::print(db.name(), &columns);
    }
    Ok(())
}

/// Seed, start, read, stop, drop: one column of the table. `None` when
/// the database is not available (PostgreSQL without TEST_DATABASE_URL).
async fn one_size(db: Db, size: usize, repeat: usize) -> anyhow::Result<Option<report::Column>> {
    let Some(bench_db) = BenchDb::create(db, "staff_reads").await? else {
        return Ok(None);
    };
    eprintln!("== {} / {} enquiries", db.name(), report::thousands(size));
    // Dropped whatever happened: a failed size leaves no database behind.
    let column = measure_size(&bench_db, size, repeat).await;
    bench_db.drop_database().await;
    column.map(Some)
}

async fn measure_size(
    bench_db: &BenchDb,
    size: usize,
    repeat: usize,
) -> anyhow::Result<report::Column> {
    let now = enquiry_relay::storage::now_ms();
    eprintln!("   seeding");
    let seeded = seed::seed(&bench_db.url, size, &seed::Shape::agency(), now).await?;
    eprintln!("   starting the service; waiting for its first retention pass");
    let running = setup::start(bench_db).await?;
    let figures = reads::run(
        &running.service,
        &bench_db.url,
        &running.config,
        &seeded,
        repeat,
        now,
    )
    .await?;
    let stopped = running.service.shutdown().await?;
    if !stopped.status.success() {
        eprintln!("   the service exited with {}", stopped.status);
    }
    Ok(report::Column {
        seeded,
        figures,
        retention_secs: running.retention_secs,
    })
}

fn parse_dbs(names: &[String]) -> anyhow::Result<Vec<Db>> {
    let mut dbs = Vec::new();
    for name in names {
        match name.as_str() {
            "sqlite" => dbs.push(Db::Sqlite),
            "postgres" => dbs.push(Db::Postgres),
            "both" => dbs.extend([Db::Sqlite, Db::Postgres]),
            other => anyhow::bail!("unknown --db {other}: use sqlite, postgres or both"),
        }
    }
    Ok(dbs)
}
