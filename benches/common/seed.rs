//! Seeding one database with N enquiries of history (shared by the staff
//! reads and intake benches): the migrations, N enquiries spread back from
//! now at a [`Shape`]'s pace over its homes (the staff reads: an agency of
//! 50 homes receiving about 550 a day), the history older than 30 days sent
//! and scrubbed by bulk SQL ([`crate::history`]), the last 30 days through
//! the real intake path and then moved to their states ([`crate::recent`]).
//! The unfinished backlog is a fixed number of enquiries, whatever N is.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use enquiry_relay::storage::Store;
use sqlx::Connection as _;

use crate::history;
use crate::people;
use crate::recent;

/// The agency's enquiries a day (the staff reads' pace).
pub const PER_DAY: i64 = 550;
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Personal data is kept this long (`retention.synced`, default 30 days).
pub const RETENTION_MS: i64 = 30 * DAY_MS;
/// The newest enquiry arrived this long before the seed.
pub const LEAD_MS: i64 = 60_000;

/// How the history looks: how many enquiries arrive a day, and the homes
/// they arrive at (enquiry `k` at home `k % homes.len()`).
#[derive(Clone, Debug)]
pub struct Shape {
    pub per_day: i64,
    /// Site slugs.
    pub homes: Vec<String>,
}

impl Shape {
    /// The agency of the staff reads: [`PER_DAY`] a day at its 50 homes.
    pub fn agency() -> Shape {
        Shape {
            per_day: PER_DAY,
            homes: (0..people::SITES).map(|i| people::site(i).0).collect(),
        }
    }

    /// Between two enquiries, on average.
    pub fn step_ms(&self) -> i64 {
        DAY_MS / self.per_day
    }

    /// How long ago enquiry `k` (0 is the newest) arrived. Strictly growing
    /// in `k`: the jitter is under half a step. [`history`] writes the same
    /// formula in SQL.
    pub fn age_ms(&self, k: i64) -> i64 {
        let step = self.step_ms();
        LEAD_MS + k * step + (k * 7919) % (step / 2)
    }

    /// The slug of enquiry `k`'s home.
    pub fn home(&self, k: usize) -> &str {
        &self.homes[k % self.homes.len()]
    }
}

/// The unfinished backlog: the same absolute numbers at every size, placed
/// among the recent enquiries (waiting ones within the last two days, the
/// retry schedule's span; the others over the 30 days).
pub const BACKLOG: [(Kind, usize); 4] = [
    (Kind::Waiting, 300),
    (Kind::Failed, 60),
    (Kind::Held, 120),
    (Kind::Closed, 100),
];

/// What becomes of a recent enquiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Synced (the home visit too, if any).
    Sent,
    /// Pending, its next attempt hours away (CareHQ unreachable for now).
    Waiting,
    /// CareHQ refused it (400); staff must act.
    Failed,
    /// Quarantined, not yet released.
    Held,
    /// Deleted by staff: scrubbed, its steps expired.
    Closed,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Sent => "sent",
            Kind::Waiting => "waiting",
            Kind::Failed => "failed",
            Kind::Held => "held",
            Kind::Closed => "closed",
        }
    }
}

/// A seeded database and what the reads search for.
pub struct Seeded {
    pub enquiries: usize,
    /// Received in the last 30 days (stored through intake, not scrubbed).
    pub recent: usize,
    pub unique_email: String,
    pub phone_as_typed: String,
    pub common_surname: &'static str,
    pub unique_surname: &'static str,
    /// How long each part of the seed took.
    pub phases: Vec<(&'static str, Duration)>,
}

/// Migrate and seed `n` enquiries shaped by `shape` into the (empty)
/// database at `url`.
pub async fn seed(url: &str, n: usize, shape: &Shape, now: i64) -> anyhow::Result<Seeded> {
    let recent = (0..n as i64)
        .take_while(|&k| shape.age_ms(k) < RETENTION_MS)
        .count();
    let backlog: usize = BACKLOG.iter().map(|(_, count)| count).sum();
    anyhow::ensure!(
        recent >= 2 * backlog,
        "{n} enquiries are too few: the fixed backlog of {backlog} needs at least {} in the last 30 days",
        2 * backlog
    );
    let mut phases = Vec::new();
    let started = Instant::now();
    let store = Store::connect(url, 16)
        .await
        .with_context(|| format!("connecting the store to {url}"))?;
    store.migrate().await.context("running the migrations")?;
    phases.push(("migrations", started.elapsed()));

    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .with_context(|| format!("connecting to {url} for the bulk seed"))?;
    let dialect = history::Dialect::of(url);
    dialect.prepare_bulk(&mut conn).await?;
    let started = Instant::now();
    history::insert(&mut conn, dialect, shape, recent as i64, n as i64, now).await?;
    phases.push(("history (bulk SQL)", started.elapsed()));

    let plan = recent::plan(recent, shape);
    let started = Instant::now();
    let ids = recent::intake(&store, &plan, now).await?;
    phases.push(("last 30 days (intake path)", started.elapsed()));

    // Intake leaves each enquiry's search terms to the service's indexer
    // (src/ops/search_index.rs). A year of real history has them all
    // written; without this, every run on the seed would start with the
    // indexer backfilling the last 30 days beside the load it measures.
    let started = Instant::now();
    store
        .fill_search_terms(500)
        .await
        .context("writing the search terms of the last 30 days")?;
    store.close().await;
    phases.push(("last 30 days (search terms)", started.elapsed()));

    let started = Instant::now();
    recent::settle(&mut conn, dialect, &plan, &ids, now).await?;
    phases.push(("last 30 days (states)", started.elapsed()));

    let started = Instant::now();
    dialect.finish(&mut conn).await?;
    let _ = conn.close().await;
    phases.push((dialect.finish_label(), started.elapsed()));

    let family = plan.family(plan.email_row);
    Ok(Seeded {
        enquiries: n,
        recent,
        unique_email: family.email.clone(),
        phone_as_typed: family.phone_as_typed(),
        common_surname: crate::people::SURNAMES[0],
        unique_surname: crate::people::UNIQUE_SURNAME,
        phases,
    })
}
