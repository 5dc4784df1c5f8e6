//! One measured run of one scenario: a fresh copy of the stored history, a
//! fresh service on it, CareHQ (the sandbox) set for the delivery mode, the
//! idle memory read, the warm-up, then the measured window with the WAL
//! sampled and the service's CPU and CareHQ's calls counted over it.

use std::time::{Duration, Instant};

use enquiry_relay::sandbox::Sandbox;

use crate::delivery::Delivery;
use crate::load::{self, LoadPlan, Traffic};
use crate::report::{self, MemoryRow, Row};
use crate::service::{self, BenchDb, Db, Service};
use crate::stored::{self, Stored};
use crate::wal::WalSampler;

/// What a run measures; the runs of one scenario differ only in their number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scenario {
    pub db: Db,
    /// Enquiries stored before the service started.
    pub stored: usize,
    pub delivery: Delivery,
    /// CareHQ's answer delay (delivery on only).
    pub latency_ms: u64,
    /// Personal data encrypted at rest (`database.encryption_key_file`).
    pub encrypted: bool,
    pub clients: usize,
}

/// What every run shares.
pub struct Bench<'a> {
    pub sandbox: &'a Sandbox,
    pub carehq_url: String,
    pub plan: LoadPlan,
    /// `--extra-toml`, verbatim.
    pub extra_toml: String,
    pub idle: Duration,
}

impl Bench<'_> {
    /// The service's config additions for a run: the user's TOML, the
    /// delivery mode's, the other homes of the seeded agency.
    fn extra(&self, delivery: Delivery) -> String {
        format!(
            "{}\n{}{}",
            self.extra_toml,
            delivery.toml(),
            stored::other_homes_toml()
        )
    }

    /// Start a service for `s` on a fresh copy of `stored`; `None` when the
    /// database is not available.
    pub async fn start(
        &self,
        s: &Scenario,
        stored: &Stored,
    ) -> anyhow::Result<Option<(BenchDb, Service)>> {
        let Some(bench_db) = stored.instance(s.db).await? else {
            return Ok(None);
        };
        self.sandbox.reset();
        self.sandbox.set_faults(s.delivery.faults(s.latency_ms));
        let service = service::start_with(
            &bench_db,
            &self.carehq_url,
            &self.extra(s.delivery),
            self.plan.traffic != Traffic::RateLimited,
            s.encrypted,
        )
        .await?;
        Ok(Some((bench_db, service)))
    }

    /// One measured run of `s`, the `run`-th.
    pub async fn run_once(
        &self,
        s: Scenario,
        stored: &Stored,
        run: usize,
    ) -> anyhow::Result<Option<(Row, MemoryRow)>> {
        let Some((bench_db, service)) = self.start(&s, stored).await? else {
            return Ok(None);
        };
        // Dropped whatever happened: a failed run leaves no database behind.
        let measured = self.measure(&s, run, &bench_db, &service).await;
        let stopped = service.shutdown().await;
        bench_db.drop_database().await;
        let (row, idle_kb, peak_kb) = measured?;
        let stopped = stopped?;
        if !stopped.status.success() {
            eprintln!("   the service exited with {}", stopped.status);
        }
        Ok(Some((
            row,
            MemoryRow {
                scenario: s,
                idle_kb,
                peak_kb,
            },
        )))
    }

    async fn measure(
        &self,
        s: &Scenario,
        run: usize,
        bench_db: &BenchDb,
        service: &Service,
    ) -> anyhow::Result<(Row, u64, u64)> {
        tokio::time::sleep(self.idle).await;
        let idle_kb = service.memory_kb("VmRSS")?;
        s.delivery
            .settle(service, &bench_db.url, self.sandbox)
            .await?;
        let client = load::client()?;
        let tag = format!(
            "{}-{}-{}-{}-{}-{run}",
            s.db.name(),
            s.stored,
            s.delivery.name(),
            s.latency_ms,
            s.clients
        );
        let url = service.form_url();
        load::warm(&client, &url, s.clients, &self.plan, &tag).await;

        let delivered_before = self.sandbox.request_count();
        let cpu_before = (service.cpu_ticks()?, service::cpu_ticks("/proc/self/stat")?);
        let started = Instant::now();
        let sampler = WalSampler::start(bench_db.sqlite_file());
        let stats = load::measure(&client, &url, s.clients, &self.plan, &tag).await;
        let files = match sampler {
            Some(sampler) => Some(sampler.finish().await),
            None => None,
        };
        let carehq_calls = self.sandbox.request_count() - delivered_before;
        // Ticks that make 1 % of one core over this run.
        let one_percent =
            started.elapsed().as_secs_f64() * service::ticks_per_second() as f64 / 100.0;
        let service_cpu = (service.cpu_ticks()? - cpu_before.0) as f64 / one_percent;
        let bench_cpu =
            (service::cpu_ticks("/proc/self/stat")? - cpu_before.1) as f64 / one_percent;
        let row = Row {
            scenario: *s,
            run,
            stats,
            carehq_calls,
            load_avg: report::load_avg(),
            service_cpu,
            bench_cpu,
            files,
        };
        eprintln!("   run {run}: {}", row.line());
        Ok((row, idle_kb, service.memory_kb("VmHWM")?))
    }
}
