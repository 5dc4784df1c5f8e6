//! Markdown for BENCHMARKS.md: every run, the memory, and each issue-2 target
//! checked against the figures just measured (the summary across runs is
//! [`crate::summary`]).

use std::fmt::Write as _;
use std::time::Duration;

use crate::load::Stats;
pub use crate::numbers::thousands;
use crate::scenario::Scenario;
use crate::wal::FileSizes;

/// Issue 2's targets.
const P99_TARGET_MS: f64 = 15.0;
const P99_TARGET_CLIENTS: usize = 16;
const SLOW_CAREHQ_TOLERANCE: f64 = 1.10;
const IDLE_RSS_TARGET_MIB: f64 = 30.0;

pub struct Row {
    pub scenario: Scenario,
    /// 1 to `--runs`.
    pub run: usize,
    pub stats: Stats,
    /// Requests the sandbox received during the measured window.
    pub carehq_calls: u64,
    /// The machine's 1-minute load average as the run ended: other people's
    /// builds share these cores, and this says how much.
    pub load_avg: String,
    /// CPU used during the measured window, in % of one core: the service,
    /// and this process (load generator + sandbox).
    pub service_cpu: f64,
    pub bench_cpu: f64,
    /// SQLite's peak WAL and database file (`None` on PostgreSQL).
    pub files: Option<FileSizes>,
}

impl Row {
    /// The run's figures on one line, for the progress output.
    pub fn line(&self) -> String {
        format!(
            "{} clients: {:.0} acks/s, p50 {:.2} ms, p99 {:.2} ms, non-201 {}, CareHQ calls {}{}",
            self.scenario.clients,
            self.stats.per_second(),
            ms(self.stats.percentile(0.50)),
            ms(self.stats.percentile(0.99)),
            self.stats.non_201,
            self.carehq_calls,
            self.files.map_or(String::new(), |f| format!(
                ", WAL peak {:.1} MiB, database {:.1} MiB",
                bytes_mib(f.wal_peak),
                bytes_mib(f.db)
            )),
        )
    }
}

/// One `--traffic mixed` run: the families alone, then beside the bots.
pub struct MixedRow {
    pub db: &'static str,
    pub latency_ms: u64,
    pub clients: usize,
    pub bots: usize,
    /// The bots' total posts per second asked for; `None`: as fast as they can.
    pub bot_rate: Option<f64>,
    pub alone: Stats,
    pub family: Stats,
    pub bot: Stats,
    pub load_avg: String,
}

/// A service's memory: idle after start-up, and its peak after the run.
pub struct MemoryRow {
    pub scenario: Scenario,
    pub idle_kb: u64,
    pub peak_kb: u64,
}

/// "2000/s", or "flat out" for bots that post as fast as they can.
fn rate_words(rate: Option<f64>) -> String {
    rate.map_or_else(|| "flat out".to_owned(), |rate| format!("{rate:.0}/s"))
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The 1-minute load average, or "?" where /proc/loadavg cannot be read.
pub fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

pub fn bytes_mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// "0 ms", or "paused" when nothing is sent.
pub fn carehq_words(s: &Scenario) -> String {
    match s.delivery {
        crate::delivery::Delivery::On => format!("{} ms", s.latency_ms),
        crate::delivery::Delivery::Paused => "paused".to_owned(),
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "**met**" } else { "**MISSED**" }
}

pub fn markdown(rows: &[Row], memory: &[MemoryRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| Database | Stored | CareHQ answers in | Encrypted | Clients | Run | Requests | Requests/s | p50 ms | p99 ms | max ms | non-201 | CareHQ calls meanwhile | WAL peak MiB | DB MiB | service CPU % | bench CPU % | load avg |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in rows {
        let s = &r.scenario;
        let (wal, db) = r.files.map_or(("—".to_owned(), "—".to_owned()), |f| {
            (
                format!("{:.1}", bytes_mib(f.wal_peak)),
                format!("{:.1}", bytes_mib(f.db)),
            )
        });
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.1} | {} | {} | {wal} | {db} | {:.0} | {:.0} | {} |",
            s.db.name(),
            thousands(s.stored),
            carehq_words(s),
            on_off(s.encrypted),
            s.clients,
            r.run,
            r.stats.requests(),
            r.stats.per_second(),
            ms(r.stats.percentile(0.50)),
            ms(r.stats.percentile(0.99)),
            ms(r.stats.max()),
            r.stats.non_201,
            r.carehq_calls,
            r.service_cpu,
            r.bench_cpu,
            r.load_avg,
        );
    }
    let _ = writeln!(out);
    encryption_cost(&mut out, rows);
    memory_table(&mut out, memory);
    let _ = writeln!(out);
    targets(&mut out, rows, memory);
    out
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// Each run with encryption on beside the same run with it off.
fn encryption_cost(out: &mut String, rows: &[Row]) {
    let pairs: Vec<(&Row, &Row)> = (rows.iter().filter(|r| r.scenario.encrypted))
        .filter_map(|on| {
            let plain = Scenario {
                encrypted: false,
                ..on.scenario
            };
            (rows.iter())
                .find(|off| off.scenario == plain && off.run == on.run)
                .map(|off| (off, on))
        })
        .collect();
    if pairs.is_empty() {
        return;
    }
    let _ = writeln!(out, "Encryption at rest, on vs off (same run):");
    for (off, on) in pairs {
        let _ = writeln!(
            out,
            "- {} {} stored, CareHQ {}, {} clients, run {}: {:.0} vs {:.0} req/s (×{:.2}), p99 {:.2} vs {:.2} ms",
            on.scenario.db.name(),
            thousands(on.scenario.stored),
            carehq_words(&on.scenario),
            on.scenario.clients,
            on.run,
            on.stats.per_second(),
            off.stats.per_second(),
            on.stats.per_second() / off.stats.per_second().max(f64::EPSILON),
            ms(on.stats.percentile(0.99)),
            ms(off.stats.percentile(0.99)),
        );
    }
    let _ = writeln!(out);
}

/// The mixed runs: family latency alone and during the flood, side by side,
/// and how fast the bots were shed meanwhile.
pub fn mixed_markdown(rows: &[MixedRow], memory: &[MemoryRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| Database | CareHQ answers in | Family clients | Bot clients | Bot rate asked | Family alone req/s | alone p50 ms | alone p99 ms | Family during flood req/s | flood p50 ms | flood p99 ms | flood max ms | Bot req/s | non-201 (family / bot) | load avg |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} ms | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} | {:.1} | {:.0} | {} / {} | {} |",
            r.db,
            r.latency_ms,
            r.clients,
            r.bots,
            rate_words(r.bot_rate),
            r.alone.per_second(),
            ms(r.alone.percentile(0.50)),
            ms(r.alone.percentile(0.99)),
            r.family.per_second(),
            ms(r.family.percentile(0.50)),
            ms(r.family.percentile(0.99)),
            ms(r.family.max()),
            r.bot.per_second(),
            r.alone.non_201 + r.family.non_201,
            r.bot.non_201,
            r.load_avg,
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Family latency during the flood:");
    for r in rows {
        for (label, p) in [("p50", 0.50), ("p99", 0.99)] {
            let (a, b) = (ms(r.alone.percentile(p)), ms(r.family.percentile(p)));
            let _ = writeln!(
                out,
                "- {} {} families beside {} bots ({}), {label}: {b:.2} ms vs {a:.2} ms alone (×{:.2})",
                r.db,
                r.clients,
                r.bots,
                rate_words(r.bot_rate),
                b / a.max(f64::EPSILON)
            );
        }
    }
    let _ = writeln!(out);
    memory_table(&mut out, memory);
    out
}

fn memory_table(out: &mut String, memory: &[MemoryRow]) {
    if memory.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "| Database | Stored | CareHQ answers in | Encrypted | Clients | Idle RSS (MiB) | Peak RSS after the run (MiB) |"
    );
    let _ = writeln!(out, "|---|---:|---|---|---:|---:|---:|");
    for m in memory {
        let s = &m.scenario;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:.1} | {:.1} |",
            s.db.name(),
            thousands(s.stored),
            carehq_words(s),
            on_off(s.encrypted),
            s.clients,
            mib(m.idle_kb),
            mib(m.peak_kb)
        );
    }
}

fn targets(out: &mut String, rows: &[Row], memory: &[MemoryRow]) {
    let _ = writeln!(out, "Targets:");
    let on = crate::delivery::Delivery::On;
    for r in rows.iter().filter(|r| {
        r.scenario.db == crate::service::Db::Sqlite && r.scenario.clients == P99_TARGET_CLIENTS
    }) {
        let p99 = ms(r.stats.percentile(0.99));
        let _ = writeln!(
            out,
            "- p99 ≤ {P99_TARGET_MS} ms at {P99_TARGET_CLIENTS} clients on SQLite, {} stored, CareHQ {}, run {}: {p99:.2} ms, {}",
            thousands(r.scenario.stored),
            carehq_words(&r.scenario),
            r.run,
            verdict(p99 <= P99_TARGET_MS)
        );
    }
    for slow in (rows.iter()).filter(|r| r.scenario.delivery == on && r.scenario.latency_ms > 0) {
        let instant = Scenario {
            latency_ms: 0,
            ..slow.scenario
        };
        let Some(fast) = (rows.iter()).find(|f| f.scenario == instant && f.run == slow.run) else {
            continue;
        };
        for (label, p) in [("p50", 0.50), ("p99", 0.99)] {
            let (a, b) = (ms(fast.stats.percentile(p)), ms(slow.stats.percentile(p)));
            let ratio = b / a.max(f64::EPSILON);
            let _ = writeln!(
                out,
                "- {} {} stored, {} clients, run {} {label}: CareHQ {} ms {b:.2} ms vs 0 ms {a:.2} ms (×{ratio:.2}; ≤ ×{SLOW_CAREHQ_TOLERANCE:.2} wanted): {}",
                slow.scenario.db.name(),
                thousands(slow.scenario.stored),
                slow.scenario.clients,
                slow.run,
                slow.scenario.latency_ms,
                verdict(ratio <= SLOW_CAREHQ_TOLERANCE)
            );
        }
    }
    for m in memory {
        let idle = mib(m.idle_kb);
        let _ = writeln!(
            out,
            "- idle RSS ≤ {IDLE_RSS_TARGET_MIB} MiB ({}, {} stored, CareHQ {}): {idle:.1} MiB, {}",
            m.scenario.db.name(),
            thousands(m.scenario.stored),
            carehq_words(&m.scenario),
            verdict(idle <= IDLE_RSS_TARGET_MIB)
        );
    }
    let non_201: u64 = rows.iter().map(|r| r.stats.non_201).sum();
    let _ = writeln!(
        out,
        "- every answer a 201: {non_201} other answers or failures, {}",
        verdict(non_201 == 0)
    );
}
