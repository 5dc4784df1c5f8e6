//! Fault suite (issue 11): many rounds of the real release binary against the
//! CareHQ sandbox with create-then-delay answers, latency and SIGKILL/SIGTERM
//! at random moments (see `faults/rounds.rs` for one round). Prints a line
//! per round and a Markdown table for BENCHMARKS.md; exits non-zero when an
//! acknowledged enquiry was lost or a duplicate is not covered by an
//! ambiguous send.
//!
//! Run: `cargo bench --bench faults -- --rounds 40`
//! PostgreSQL: `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench faults -- --db postgres --rounds 10`
//! Replay one round: `cargo bench --bench faults -- --seed 1 --first-round 17 --rounds 1`
//!
//! Everything runs on loopback and stops by itself: rounds are bounded in
//! count, posts per round and time.

// The test kit tests and benches share (tests/kit/); common/service.rs
// names it for the benches.
#[path = "../tests/kit/mod.rs"]
mod kit;
#[path = "faults/rounds.rs"]
mod rounds;

use clap::Parser;

use rounds::{Db, Tally};

#[derive(Parser, Debug)]
#[command(about = "Fault suite for enquiry-relay: signals and late CareHQ answers")]
struct Args {
    /// Rounds per database (at most 1000).
    #[arg(long, default_value_t = 30)]
    rounds: u64,
    /// The first round's number (to replay one: `--first-round N --rounds 1`).
    #[arg(long, default_value_t = 0)]
    first_round: u64,
    /// Seed of every random choice, with the round number.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Databases: sqlite, postgres (postgres needs TEST_DATABASE_URL).
    #[arg(long, value_delimiter = ',', default_values = ["sqlite"])]
    db: Vec<String>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.rounds > 1_000 {
        anyhow::bail!("--rounds is at most 1000");
    }
    // Two workers: the machine has two cores, shared with the service.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let results = runtime.block_on(run(&args))?;
    println!("{}", markdown(&args, &results));
    let mut ok = true;
    for (_, tally) in &results {
        for problem in &tally.problems {
            eprintln!("PROBLEM {problem}");
        }
        ok &= tally.ok();
    }
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}

async fn run(args: &Args) -> anyhow::Result<Vec<(Db, Tally)>> {
    let mut results = Vec::new();
    for name in &args.db {
        let db = match name.as_str() {
            "sqlite" => Db::Sqlite,
            "postgres" => Db::Postgres,
            other => anyhow::bail!("unknown --db {other}: use sqlite, postgres or both"),
        };
        let mut total = Tally::default();
        for round in args.first_round..args.first_round + args.rounds {
            let t = rounds::run_round(args.seed, round, db).await?;
            eprintln!(
                "{} round {round:>3}: {:>4.1} s, kill {} term {}, posted {:>3}, acked {:>3}, delivered {:>3}, records {:>3}, ambiguous {}+{}, duplicates {} (cut-off {}, timeout {}), unexplained {}, lost {}{}",
                db.name(),
                t.seconds,
                t.kills,
                t.terms,
                t.posted,
                t.acknowledged,
                t.delivered,
                t.records,
                t.ambiguous_cut_off,
                t.ambiguous_timeouts,
                t.duplicates,
                t.duplicates_after_cut_off,
                t.duplicates_after_timeout,
                t.unexplained,
                t.lost,
                if t.ok() { "" } else { "  FAILED" },
            );
            total.add(&t);
        }
        results.push((db, total));
    }
    Ok(results)
}

fn markdown(args: &Args, results: &[(Db, Tally)]) -> String {
    let mut out = format!(
        "Seed {}, rounds {}..{}\n\n| Database | Rounds | SIGKILL | SIGTERM | unclean SIGTERM exits | Posted | Acknowledged (201) | Stored, answer lost | Delivered (acked in CareHQ) | Lost | CareHQ records | CareHQ requests | Ambiguous sends: cut off / timed out | Duplicates | after a cut-off send | after a timed-out send | Unexplained | Failed rows | Phantom records | Time s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        args.seed,
        args.first_round,
        args.first_round + args.rounds - 1,
    );
    for (db, t) in results {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} | {} | {} | {} | {} | {:.0} |\n",
            db.name(),
            t.rounds,
            t.kills,
            t.terms,
            t.unclean_terms,
            t.posted,
            t.acknowledged,
            t.stored_unacknowledged,
            t.delivered,
            t.lost,
            t.records,
            t.carehq_requests,
            t.ambiguous_cut_off,
            t.ambiguous_timeouts,
            t.duplicates,
            t.duplicates_after_cut_off,
            t.duplicates_after_timeout,
            t.unexplained,
            t.failed,
            t.phantom,
            t.seconds,
        ));
    }
    out
}
