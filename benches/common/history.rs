//! The history older than 30 days, in bulk SQL: enquiries sent and scrubbed
//! (payload, hashes NULL, `scrubbed_at` set), each with its synced `enquiry`
//! delivery and one attempt, one in ten with a home visit (request, synced
//! `home_visit` delivery, attempt). `INSERT … SELECT` over a run of numbers
//! (PostgreSQL `generate_series`, SQLite a recursive CTE), 100,000
//! enquiries per transaction, with column lists, so columns added later
//! with defaults (and triggers on these tables) keep working.

use anyhow::Context as _;
use sqlx::Connection as _;

use crate::seed::{LEAD_MS, RETENTION_MS, Shape};

/// Enquiries per transaction.
const CHUNK: i64 = 100_000;

/// The SQL that differs between the two databases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn of(url: &str) -> Dialect {
        if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else {
            Dialect::Postgres
        }
    }

    /// `expr` as lower-case hex, zero-padded to `width`.
    pub fn hex(self, expr: &str, width: usize) -> String {
        match self {
            Dialect::Sqlite => format!("printf('%0{width}x', {expr})"),
            Dialect::Postgres => format!("lpad(to_hex({expr}), {width}, '0')"),
        }
    }

    /// A FROM item of the integers `lo..hi` as column `k`.
    fn numbers(self, lo: i64, hi: i64) -> String {
        match self {
            Dialect::Sqlite => format!(
                "(WITH RECURSIVE n(k) AS (SELECT {lo} UNION ALL SELECT k + 1 FROM n WHERE k + 1 < {hi}) \
                 SELECT k FROM n) AS g"
            ),
            Dialect::Postgres => format!("generate_series({lo}::bigint, {hi} - 1) AS g(k)"),
        }
    }

    pub fn least(self, a: &str, b: &str) -> String {
        match self {
            Dialect::Sqlite => format!("min({a}, {b})"),
            Dialect::Postgres => format!("LEAST({a}, {b})"),
        }
    }

    /// Unix ms as `YYYY-MM-DD HH:MM:SS` (UTC).
    fn utc_text(self, ms: &str) -> String {
        match self {
            Dialect::Sqlite => format!("datetime(({ms}) / 1000, 'unixepoch')"),
            Dialect::Postgres => format!(
                "to_char(to_timestamp(({ms}) / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
            ),
        }
    }

    /// A UUID-shaped id (version 7 layout: `ts` ms first, so ids sort by
    /// time), unique per (`tag`, `n`).
    pub fn uuid(self, ts: &str, tag: &str, n: &str) -> String {
        format!(
            "{} || '-' || {} || '-7' || {} || '-8000-' || {}",
            self.hex(&format!("({ts}) >> 16"), 8),
            self.hex(&format!("({ts}) & 65535"), 4),
            self.hex(tag, 3),
            self.hex(n, 12),
        )
    }

    /// The seed's own connection: SQLite without fsyncs and with a large
    /// cache (the service's connections keep `synchronous = FULL`).
    pub async fn prepare_bulk(self, conn: &mut sqlx::AnyConnection) -> anyhow::Result<()> {
        if self == Dialect::Sqlite {
            for pragma in [
                "PRAGMA synchronous = OFF",
                "PRAGMA cache_size = -262144",
                "PRAGMA busy_timeout = 60000",
            ] {
                sqlx::query(pragma).execute(&mut *conn).await?;
            }
        }
        Ok(())
    }

    /// After the seed: PostgreSQL gets the statistics and visibility map
    /// autovacuum would have made over five years; SQLite's WAL is folded in.
    /// (The service never runs ANALYZE on SQLite, so neither does the seed.)
    pub async fn finish(self, conn: &mut sqlx::AnyConnection) -> anyhow::Result<()> {
        let sql = match self {
            Dialect::Sqlite => "PRAGMA wal_checkpoint(TRUNCATE)",
            Dialect::Postgres => "VACUUM ANALYZE",
        };
        sqlx::query(sql)
            .execute(&mut *conn)
            .await
            .with_context(|| format!("{sql} after the seed"))?;
        Ok(())
    }

    pub fn finish_label(self) -> &'static str {
        match self {
            Dialect::Sqlite => "WAL checkpoint",
            Dialect::Postgres => "VACUUM ANALYZE",
        }
    }
}

/// Tags of the ids of one history enquiry `k`.
const ENQUIRY: &str = "3584"; // 0xe00
const ENQUIRY_STEP: &str = "3329"; // 0xd01
const VISIT_STEP: &str = "3330"; // 0xd02
const ENQUIRY_ATTEMPT: &str = "2561"; // 0xa01
const VISIT_ATTEMPT: &str = "2562"; // 0xa02

/// Insert enquiries `recent..n` (numbered from the newest), oldest first.
pub async fn insert(
    conn: &mut sqlx::AnyConnection,
    dialect: Dialect,
    shape: &Shape,
    recent: i64,
    n: i64,
    now: i64,
) -> anyhow::Result<()> {
    let mut hi = n;
    while hi > recent {
        let lo = (hi - CHUNK).max(recent);
        let mut tx = conn.begin().await?;
        if dialect == Dialect::Postgres {
            // Triggers off for the bulk load: the totals trigger would update
            // the same few rows a hundred thousand times in one transaction,
            // each time walking the row versions it made before (minutes).
            // Every history row is synced, so its state is the default and
            // the totals are counted once below, as migration 0019 does.
            sqlx::query("SET LOCAL session_replication_role = replica")
                .execute(&mut *tx)
                .await
                .context("turning triggers off for the bulk load (needs a superuser)")?;
        }
        for (what, sql) in statements(dialect, shape, lo, hi, now) {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await
                .with_context(|| format!("bulk insert of {what}, enquiries {lo}..{hi}"))?;
        }
        tx.commit().await?;
        hi = lo;
    }
    if n > recent && dialect == Dialect::Postgres {
        sqlx::query(
            "INSERT INTO delivery_totals (site, step, status, n) \
             SELECT e.site, d.step, d.status, COUNT(*) FROM deliveries d JOIN enquiries e ON e.id = d.enquiry_id \
              WHERE d.status IN ('synced', 'expired') GROUP BY e.site, d.step, d.status \
             ON CONFLICT (site, step, status) DO UPDATE SET n = delivery_totals.n + excluded.n",
        )
        .execute(&mut *conn)
        .await
        .context("counting the history's finished deliveries")?;
    }
    if n > recent {
        // Every slot of the history's visits, counted once all are in.
        sqlx::query(
            "INSERT INTO visit_slots (site, slot_at, taken) \
             SELECT site, slot_at, COUNT(*) FROM visit_requests GROUP BY site, slot_at",
        )
        .execute(&mut *conn)
        .await
        .context("counting the history's visit slots")?;
    }
    Ok(())
}

/// The five INSERTs of enquiries `lo..hi`, each with what it inserts.
fn statements(
    d: Dialect,
    shape: &Shape,
    lo: i64,
    hi: i64,
    now: i64,
) -> Vec<(&'static str, String)> {
    let step = shape.step_ms();
    let jitter = step / 2;
    // `at`: arrival, the same formula as Shape::age_ms.
    let rows = format!(
        "(SELECT k, {now} - ({LEAD_MS} + k * {step} + (k * 7919) % {jitter}) AS at FROM {}) AS r",
        d.numbers(lo, hi)
    );
    let visit = "(k / 50) % 10 = 3";
    let site = site_case(&shape.homes);
    let enquiry_id = d.uuid("at", ENQUIRY, "k");
    let enquiry_step = d.uuid("at", ENQUIRY_STEP, "k");
    let visit_step = d.uuid("at", VISIT_STEP, "k");
    // Scrubbed by the daily retention pass within a day of turning 30 days old.
    let scrubbed = d.least(
        &format!("at + {RETENTION_MS} + ((k * 7) % 24) * 3600000"),
        &now.to_string(),
    );
    // Three days after it arrived, on the hour.
    let slot = "((at / 3600000) + 72) * 3600000";
    vec![
        (
            "enquiries",
            format!(
                "INSERT INTO enquiries (id, site, received_at, payload, spam_verdict, scrubbed_at, \
                 original_payload, email_hash, phone_hash) \
                 SELECT {enquiry_id}, {site}, at, NULL, 'clean', {scrubbed}, NULL, NULL, NULL FROM {rows}"
            ),
        ),
        (
            "enquiry deliveries",
            format!(
                "INSERT INTO deliveries (id, enquiry_id, step, status, attempts, ambiguous, next_attempt_at, \
                 remote_id, created_at, updated_at, pending_since) \
                 SELECT {enquiry_step}, {enquiry_id}, 'enquiry', 'synced', 1, 0, at, '65' || {}, \
                 at, at + 2000, at FROM {rows}",
                d.hex("k", 22)
            ),
        ),
        (
            "visit requests",
            format!(
                "INSERT INTO visit_requests (enquiry_id, site, slot_at, local_time, time_zone, visit_type, created_at) \
                 SELECT {enquiry_id}, {site}, {slot}, {}, 'UTC', \
                 CASE WHEN k % 3 = 0 THEN 'virtual' ELSE 'in_person' END, at FROM {rows} WHERE {visit}",
                d.utc_text(slot)
            ),
        ),
        (
            "visit deliveries",
            format!(
                "INSERT INTO deliveries (id, enquiry_id, step, status, attempts, ambiguous, next_attempt_at, \
                 remote_id, created_at, updated_at, pending_since) \
                 SELECT {visit_step}, {enquiry_id}, 'home_visit', 'synced', 1, 0, at + 2000, '66' || {}, \
                 at, at + 4000, at + 2000 FROM {rows} WHERE {visit}",
                d.hex("k", 22)
            ),
        ),
        (
            "attempts",
            format!(
                "INSERT INTO delivery_attempts (id, delivery_id, started_at, duration_ms, outcome, http_status, \
                 hint, arg_errors, error) \
                 SELECT {}, {enquiry_step}, at + 1500, 300 + (k * 13) % 600, 'synced', 200, NULL, NULL, NULL \
                 FROM {rows} \
                 UNION ALL \
                 SELECT {}, {visit_step}, at + 3500, 300 + (k * 17) % 600, 'synced', 200, NULL, NULL, NULL \
                 FROM {rows} WHERE {visit}",
                d.uuid("at", ENQUIRY_ATTEMPT, "k"),
                d.uuid("at", VISIT_ATTEMPT, "k"),
            ),
        ),
    ]
}

/// The slug of home `k % homes.len()`, as SQL.
fn site_case(homes: &[String]) -> String {
    let arms: String = (homes.iter().enumerate())
        .map(|(i, slug)| format!(" WHEN {i} THEN '{slug}'"))
        .collect();
    format!("CASE k % {}{arms} END", homes.len())
}
