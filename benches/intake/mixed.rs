//! `--traffic mixed`: on one service per scenario, for each client count and
//! bot rate, the family clients alone, then the same clients while honeypot
//! bots flood the form.

use crate::load::{self, LoadPlan};
use crate::report::{self, MemoryRow, MixedRow};
use crate::scenario::{Bench, Scenario};
use crate::service::Service;
use crate::stored::Stored;

/// The honeypot bots of a mixed run: how many, and their total posts per
/// second (`None`: as fast as they can).
#[derive(Clone, Copy)]
pub struct Flood {
    pub clients: usize,
    pub rate: Option<f64>,
}

/// Every client count × bot rate on one service for `base` (its client
/// count unused); `None` when the database is not available.
pub async fn on_one_service(
    bench: &Bench<'_>,
    base: Scenario,
    stored: &Stored,
    clients: &[usize],
    bots: usize,
    bot_rates: &[f64],
) -> anyhow::Result<Option<(Vec<MixedRow>, MemoryRow)>> {
    let Some((bench_db, service)) = bench.start(&base, stored).await? else {
        return Ok(None);
    };
    tokio::time::sleep(bench.idle).await;
    let idle_kb = service.memory_kb("VmRSS")?;
    let client = load::client()?;
    let mut rows = Vec::new();
    for &families in clients {
        for &rate in bot_rates {
            let tag = format!(
                "{}-{}-{}-{families}-{rate}",
                base.db.name(),
                base.stored,
                base.latency_ms
            );
            let flood = Flood {
                clients: bots,
                rate: (rate > 0.0).then_some(rate),
            };
            let figures = mixed_run(&client, &service, families, flood, &bench.plan, &tag).await;
            rows.push(MixedRow {
                db: base.db.name(),
                latency_ms: base.latency_ms,
                ..figures
            });
        }
    }
    let memory = MemoryRow {
        scenario: base,
        idle_kb,
        peak_kb: service.memory_kb("VmHWM")?,
    };
    let stopped = service.shutdown().await?;
    if !stopped.status.success() {
        eprintln!("   the service exited with {}", stopped.status);
    }
    bench_db.drop_database().await;
    Ok(Some((rows, memory)))
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
    let (url, alone_tag) = (service.form_url(), format!("a{tag}"));
    load::warm(client, &url, clients, &families, &alone_tag).await;
    let alone = load::measure(client, &url, clients, &families, &alone_tag).await;
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
