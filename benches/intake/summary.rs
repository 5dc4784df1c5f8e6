//! The summary to paste into BENCHMARKS.md: per database, the command line
//! and the machine, then one line per scenario with min / median / max over
//! its runs of acks/s and p99 (and SQLite's peak WAL and database size).

use std::fmt::Write as _;

use crate::report::{Row, bytes_mib, carehq_words, ms, thousands};
use crate::scenario::Scenario;
use crate::service::Db;

/// (min, median, max) of `values` (the lower median of an even count: a
/// figure some run did reach).
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return (0.0, 0.0, 0.0);
    }
    (values[0], values[(n - 1) / 2], values[n - 1])
}

/// The command as typed, give or take quoting: `cargo bench`'s own
/// `--bench` flag left out.
pub fn command_line() -> String {
    let args: Vec<String> = (std::env::args().skip(1))
        .filter(|a| a != "--bench")
        .collect();
    let url = std::env::var("TEST_DATABASE_URL")
        .map(|u| format!("TEST_DATABASE_URL={u} "))
        .unwrap_or_default();
    format!("{url}cargo bench --bench intake -- {}", args.join(" "))
}

/// `nproc`, the CPU model, the memory, the kernel.
pub fn machine() -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let field = |text: &str, key: &str| {
        (text.lines())
            .find_map(|l| {
                l.strip_prefix(key)?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "?".to_owned())
    };
    let cpu = field(&read("/proc/cpuinfo"), "model name");
    let mem_kb: f64 = (field(&read("/proc/meminfo"), "MemTotal"))
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap_or(0.0);
    let mem = format!("{:.1} GiB", mem_kb / (1024.0 * 1024.0));
    let kernel = read("/proc/sys/kernel/osrelease");
    format!(
        "nproc {nproc}, CPU {cpu}, memory {mem}, Linux {}",
        kernel.trim()
    )
}

/// One table per database, scenarios in the order they ran.
pub fn markdown(rows: &[Row], when: &str) -> String {
    let mut out = String::new();
    for db in [Db::Sqlite, Db::Postgres] {
        let mine: Vec<&Row> = rows.iter().filter(|r| r.scenario.db == db).collect();
        if mine.is_empty() {
            continue;
        }
        let _ = writeln!(out, "#### {} ({when})\n", db.name());
        let _ = writeln!(
            out,
            "```\n{}\n# machine: {}\n```\n",
            command_line(),
            machine()
        );
        let _ = writeln!(
            out,
            "| Stored | CareHQ | Encrypted | Clients | Runs | acks/s min / median / max | p99 ms min / median / max | CareHQ calls/s (median) | WAL peak MiB (max) | DB MiB (max) | non-201 |"
        );
        let _ = writeln!(out, "|---:|---|---|---:|---:|---|---|---:|---:|---:|---:|");
        let mut scenarios: Vec<Scenario> = Vec::new();
        for r in &mine {
            if !scenarios.contains(&r.scenario) {
                scenarios.push(r.scenario);
            }
        }
        for s in scenarios {
            let runs: Vec<&&Row> = mine.iter().filter(|r| r.scenario == s).collect();
            let acks = spread(runs.iter().map(|r| r.stats.per_second()).collect());
            let p99 = spread(
                (runs.iter())
                    .map(|r| ms(r.stats.percentile(0.99)))
                    .collect(),
            );
            let calls = spread(
                (runs.iter())
                    .map(|r| r.carehq_calls as f64 / r.stats.elapsed.as_secs_f64().max(1e-9))
                    .collect(),
            );
            let files: Vec<_> = runs.iter().filter_map(|r| r.files).collect();
            let (wal, size) = if files.is_empty() {
                ("—".to_owned(), "—".to_owned())
            } else {
                let wal = files.iter().map(|f| f.wal_peak).max().unwrap_or(0);
                let size = files.iter().map(|f| f.db).max().unwrap_or(0);
                (
                    format!("{:.1}", bytes_mib(wal)),
                    format!("{:.1}", bytes_mib(size)),
                )
            };
            let non_201: u64 = runs.iter().map(|r| r.stats.non_201).sum();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {:.0} / {:.0} / {:.0} | {:.2} / {:.2} / {:.2} | {:.0} | {wal} | {size} | {non_201} |",
                thousands(s.stored),
                carehq_words(&s),
                if s.encrypted { "on" } else { "off" },
                s.clients,
                runs.len(),
                acks.0,
                acks.1,
                acks.2,
                p99.0,
                p99.1,
                p99.2,
                calls.1,
            );
        }
        let _ = writeln!(out);
    }
    out
}
