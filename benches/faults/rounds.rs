//! One fault round (issue 11): the real `enquiry-relay` binary on a fresh
//! database, families posting, CareHQ (the sandbox, in this process) slow to
//! create (latency) and, on a few creates, creating the record and then
//! answering after `carehq.timeout`, closing the connection or breaking a
//! 200's body; the service
//! killed (SIGKILL) or stopped (SIGTERM) at a random moment and restarted,
//! then drained with no faults and checked: every acknowledged enquiry is in
//! CareHQ, and every extra record of an enquiry is covered by a send of that
//! row whose outcome was unknown (`deliveries.ambiguous`).
//!
//! Shared by the bench (`benches/faults.rs`, many rounds, release binary) and
//! the integration suite (`tests/api/fault_rounds.rs`, a few rounds, debug
//! binary), which include this file with `#[path]`.
//!
//! Every random choice (timings, faults, signal) comes from a generator seeded
//! with (seed, round), so a failing round can be replayed with the same plan.
//! The verdict never depends on timing: only the checks above decide it.

// The database, process and sandbox handling the intake and drain benches
// use too (relative to this file, whoever includes it).
#[allow(dead_code)]
#[path = "../common/service.rs"]
mod service;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use enquiry_relay::sandbox::{Faults, SandboxConfig, seed};
use sqlx::Connection as _;
use tokio_util::sync::CancellationToken;

pub use service::Db;
use service::{BenchDb, BenchSandbox, SITE, Service, free_port};

/// Short, so that a created-then-delayed answer times out quickly.
const CAREHQ_TIMEOUT: &str = "1s";
/// The shortest lease the config accepts (timeout + 5 s): a killed send's
/// row is due again this long after its claim.
const LEASE: &str = "6s";
/// Longer than `carehq.timeout`: the relay gives up on a send CareHQ has.
const ANSWER_DELAY_MS: u64 = 1_500;
const CLIENTS: usize = 3;
/// Posts per client between two restarts, whatever the timing.
const MAX_POSTS_PER_PHASE: usize = 40;
/// Time for the last start to send everything (a killed send waits out its
/// lease first); far above what a round needs, so load cannot fail it.
const SETTLE_LIMIT: Duration = Duration::from_secs(120);
/// Retries enough that no fault of a round can exhaust them: each round
/// faults at most 2 × 3 creates, and latency stays below the timeout.
const RETRY_SCHEDULE: &str = r#"["100ms", "100ms", "100ms", "100ms", "100ms", "200ms", "200ms", "200ms", "200ms", "200ms", "300ms", "300ms", "300ms", "300ms", "300ms", "500ms", "500ms", "500ms", "500ms", "500ms"]"#;

/// What rounds saw, summed with [`Tally::add`].
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub rounds: u64,
    /// Interruptions by signal.
    pub kills: u64,
    pub terms: u64,
    /// SIGTERMs after which the process did not exit 0.
    pub unclean_terms: u64,
    /// Enquiries posted, and answered 201.
    pub posted: u64,
    pub acknowledged: u64,
    /// Posts stored although their answer was lost to the signal.
    pub stored_unacknowledged: u64,
    /// Acknowledged enquiries found in CareHQ at least once.
    pub delivered: u64,
    /// Care-enquiry records CareHQ holds, and create requests it answered.
    pub records: u64,
    pub carehq_requests: u64,
    /// Sends of unknown outcome the relay counted (`deliveries.ambiguous`):
    /// those it recorded (a timeout) and lost leases (a send cut off).
    pub ambiguous_timeouts: u64,
    pub ambiguous_cut_off: u64,
    /// Records beyond the first of an enquiry.
    pub duplicates: u64,
    /// Duplicates on a row with a cut-off send, or only with timed-out sends.
    pub duplicates_after_cut_off: u64,
    pub duplicates_after_timeout: u64,
    /// Duplicates beyond the row's ambiguous count: a bug.
    pub unexplained: u64,
    /// Acknowledged enquiries CareHQ never received: a bug.
    pub lost: u64,
    /// Records CareHQ holds that match no stored enquiry: a bug.
    pub phantom: u64,
    /// Rows the relay gave up on (`failed`).
    pub failed: u64,
    /// Seconds the rounds took.
    pub seconds: f64,
    /// One line per failed check, naming seed, round and enquiry.
    pub problems: Vec<String>,
}

impl Tally {
    pub fn add(&mut self, o: &Tally) {
        self.rounds += o.rounds;
        self.kills += o.kills;
        self.terms += o.terms;
        self.unclean_terms += o.unclean_terms;
        self.posted += o.posted;
        self.acknowledged += o.acknowledged;
        self.stored_unacknowledged += o.stored_unacknowledged;
        self.delivered += o.delivered;
        self.records += o.records;
        self.carehq_requests += o.carehq_requests;
        self.ambiguous_timeouts += o.ambiguous_timeouts;
        self.ambiguous_cut_off += o.ambiguous_cut_off;
        self.duplicates += o.duplicates;
        self.duplicates_after_cut_off += o.duplicates_after_cut_off;
        self.duplicates_after_timeout += o.duplicates_after_timeout;
        self.unexplained += o.unexplained;
        self.lost += o.lost;
        self.phantom += o.phantom;
        self.failed += o.failed;
        self.seconds += o.seconds;
        self.problems.extend(o.problems.iter().cloned());
    }

    /// No lost enquiry, no unexplained duplicate, no phantom record.
    pub fn ok(&self) -> bool {
        self.lost == 0 && self.unexplained == 0 && self.phantom == 0 && self.problems.is_empty()
    }
}

/// splitmix64: small, seedable, good enough to pick timings.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, round: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ round.wrapping_add(1).wrapping_mul(0xD1B5_4A32_D192_ED03))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// What CareHQ does with its answer after it created the record.
#[derive(Clone, Copy, Debug)]
enum AfterCreate {
    /// Answers `ANSWER_DELAY_MS` late: after the relay's timeout.
    Delay,
    /// Closes the connection with no answer at all.
    Close,
    /// Sends 200 and breaks the body: the relay must count it as synced,
    /// so this one must never make a duplicate.
    BreakBody,
}

/// One interruption of a round, drawn before it starts.
#[derive(Debug)]
struct Phase {
    /// Posting without faults this long first.
    calm_ms: u64,
    /// Then: CareHQ sleeps this long before creating, ...
    latency_ms: u64,
    /// ... and on this many creates does `after_create` once it has the record.
    faulted_creates: u32,
    after_create: AfterCreate,
    /// The signal lands this long after the faults are on.
    signal_after_ms: u64,
    signal: &'static str,
    /// Milliseconds between one client's posts (each client its own).
    pauses_ms: [u64; CLIENTS],
}

fn plan(rng: &mut Rng) -> Vec<Phase> {
    (0..rng.range(1, 2))
        .map(|_| Phase {
            calm_ms: rng.range(50, 600),
            latency_ms: if rng.chance(50) {
                0
            } else {
                rng.range(20, 300)
            },
            faulted_creates: rng.range(1, 3) as u32,
            after_create: match rng.range(0, 9) {
                0..=5 => AfterCreate::Delay,
                6 | 7 => AfterCreate::Close,
                _ => AfterCreate::BreakBody,
            },
            signal_after_ms: rng.range(0, 1_500),
            signal: if rng.chance(50) { "KILL" } else { "TERM" },
            pauses_ms: [rng.range(2, 40), rng.range(2, 40), rng.range(2, 40)],
        })
        .collect()
}

/// One post: the unique email it carried, and the id if it was acknowledged.
struct Post {
    email: String,
    id: Option<String>,
}

/// Run round `round` of seed `seed` on `db`; what it saw. An `Err` is a
/// round that could not run (a database or the binary would not start),
/// not a failed check: those are in [`Tally::problems`].
pub async fn run_round(seed: u64, round: u64, db: Db) -> anyhow::Result<Tally> {
    let started = Instant::now();
    let mut rng = Rng::new(seed, round);
    let phases = plan(&mut rng);
    let tag = format!("seed {seed} round {round} ({})", db.name());

    let Some(database) = BenchDb::create(db, "faults").await? else {
        bail!("PostgreSQL rounds need TEST_DATABASE_URL");
    };
    // CareHQ's own 10/s limit would only slow the rounds down with 429s,
    // which hold sends without changing what is checked here.
    let bench_sandbox = BenchSandbox::start_with(SandboxConfig {
        rate_limit_per_second: 100_000,
        ..Default::default()
    })
    .await;
    let (sandbox, carehq_url) = (&bench_sandbox.sandbox, bench_sandbox.url.clone());

    let port = free_port();
    let config = database.dir.path().join("enquiry-relay.toml");
    let log = |start: usize| database.dir.path().join(format!("relay-{start}.log"));
    std::fs::write(&config, config_toml(&database.url, &carehq_url, port))?;
    let posts = Arc::new(Mutex::new(Vec::<Post>::new()));
    let mut tally = Tally {
        rounds: 1,
        ..Tally::default()
    };

    for (n, phase) in phases.iter().enumerate() {
        let service = Service::launch(&config, port, &log(n)).await?;
        let stop_posting = CancellationToken::new();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let posts = Arc::clone(&posts);
                let url = format!("{}/forms/{SITE}", service.address);
                let stop = stop_posting.clone();
                let pause = Duration::from_millis(phase.pauses_ms[c]);
                let prefix = format!("s{seed}-r{round}-p{n}-c{c}");
                tokio::spawn(post_until_stopped(url, prefix, pause, stop, posts))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(phase.calm_ms)).await;
        sandbox.set_faults(Faults {
            latency_ms: phase.latency_ms,
            answer_delay_ms: match phase.after_create {
                AfterCreate::Delay => ANSWER_DELAY_MS,
                _ => 0,
            },
            close_after_create: matches!(phase.after_create, AfterCreate::Close),
            drop_after_create: matches!(phase.after_create, AfterCreate::BreakBody),
            after_create_times: Some(phase.faulted_creates),
            ..Faults::default()
        });
        tokio::time::sleep(Duration::from_millis(phase.signal_after_ms)).await;
        service.signal(phase.signal);
        // SIGTERM waits for sends in flight (shutdown grace: timeout + 5 s).
        let status = service.finish(Duration::from_secs(30)).await?.status;
        if phase.signal == "TERM" {
            tally.terms += 1;
            if !status.success() {
                tally.unclean_terms += 1;
            }
        } else {
            tally.kills += 1;
        }
        stop_posting.cancel();
        for client in clients {
            client.await?;
        }
    }

    // The last start: no faults, everything is sent (a row a killed process
    // was sending is due again when its lease ends).
    sandbox.set_faults(Faults::default());
    let service = Service::launch(&config, port, &log(phases.len())).await?;
    let settled = settle(&database.url).await?;
    let status = service.shutdown().await?.status;
    if !settled {
        tally.problems.push(format!(
            "{tag}: rows still pending or sending {} s after the last start",
            SETTLE_LIMIT.as_secs()
        ));
    }
    if !status.success() {
        tally.unclean_terms += 1;
    }

    let rows = read_rows(&database.url).await?;
    let posts = std::mem::take(&mut *posts.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    let received = sandbox.received_enquiries();
    tally.carehq_requests = sandbox.request_count();
    bench_sandbox.stop().await;

    check(&tag, &posts, &rows, &received, &mut tally);
    tally.seconds = started.elapsed().as_secs_f64();
    if !tally.problems.is_empty() {
        let kept = database.keep();
        tally.problems.push(format!(
            "{tag}: plan {phases:?}; database, config and logs kept in {}",
            kept.display()
        ));
    } else {
        database.drop_database().await;
    }
    Ok(tally)
}

/// The checks of a round, from what was posted, what the relay stored and
/// what CareHQ holds.
fn check(
    tag: &str,
    posts: &[Post],
    rows: &[Row],
    received: &[enquiry_relay::sandbox::ReceivedEnquiry],
    tally: &mut Tally,
) {
    let mut records: HashMap<&str, u64> = HashMap::new();
    for r in received {
        *records.entry(r.field("email").unwrap_or("")).or_default() += 1;
    }
    tally.records = received.len() as u64;
    let by_email: HashMap<&str, &Row> = rows.iter().map(|r| (r.email.as_str(), r)).collect();

    for post in posts {
        tally.posted += 1;
        let Some(id) = &post.id else {
            if by_email.contains_key(post.email.as_str()) {
                tally.stored_unacknowledged += 1;
            }
            continue;
        };
        tally.acknowledged += 1;
        if records.get(post.email.as_str()).copied().unwrap_or(0) > 0 {
            tally.delivered += 1;
            continue;
        }
        tally.lost += 1;
        let row = by_email.get(post.email.as_str());
        tally.problems.push(format!(
            "{tag}: LOST acknowledged enquiry {id} ({}): {}",
            post.email,
            row.map_or("no row in the database".to_owned(), |r| format!(
                "row {} status {}, ambiguous {}",
                r.enquiry_id, r.status, r.ambiguous
            ))
        ));
    }

    for row in rows {
        if row.status == "failed" {
            tally.failed += 1;
        }
        let cut_off = row.ambiguous - row.ambiguous_attempts.min(row.ambiguous);
        tally.ambiguous_timeouts += row.ambiguous - cut_off;
        tally.ambiguous_cut_off += cut_off;
        let extra = records
            .get(row.email.as_str())
            .copied()
            .unwrap_or(0)
            .saturating_sub(1);
        if extra == 0 {
            continue;
        }
        tally.duplicates += extra;
        if extra > row.ambiguous {
            tally.unexplained += extra - row.ambiguous;
            tally.problems.push(format!(
                "{tag}: UNEXPLAINED duplicate: enquiry {} ({}) is in CareHQ {} times, but only {} of its sends were ambiguous (status {})",
                row.enquiry_id,
                row.email,
                extra + 1,
                row.ambiguous,
                row.status
            ));
        } else if cut_off > 0 {
            tally.duplicates_after_cut_off += extra;
        } else {
            tally.duplicates_after_timeout += extra;
        }
    }

    for (email, n) in &records {
        if !by_email.contains_key(email) {
            tally.phantom += n;
            tally.problems.push(format!(
                "{tag}: CareHQ holds {n} record(s) for {email:?}, which the relay never stored"
            ));
        }
    }
}

/// Post enquiries with unique emails until stopped, the server goes away,
/// or `MAX_POSTS_PER_PHASE`.
async fn post_until_stopped(
    url: String,
    prefix: String,
    pause: Duration,
    stop: CancellationToken,
    posts: Arc<Mutex<Vec<Post>>>,
) {
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    else {
        return;
    };
    for i in 0..MAX_POSTS_PER_PHASE {
        if stop.is_cancelled() {
            return;
        }
        let email = format!("{prefix}-n{i}@example.com");
        let body = serde_json::json!({
            "first_name": "Zoë",
            "last_name": format!("Fault {i}"),
            "email": email,
            "phone": "01632 960123",
            "care_requirements": "Respite care from 1 March",
        });
        let answer = client.post(&url).json(&body).send().await;
        let (id, gone) = match answer {
            Ok(r) if r.status() == 201 => {
                let body: serde_json::Value = r.json().await.unwrap_or_default();
                (body["id"].as_str().map(str::to_owned), false)
            }
            // e.g. 503 while shutting down: not acknowledged, keep going.
            Ok(_) => (None, false),
            Err(_) => (None, true),
        };
        if let Ok(mut posts) = posts.lock() {
            posts.push(Post { email, id });
        }
        if gone {
            return;
        }
        tokio::time::sleep(pause).await;
    }
}

/// One delivery row as stored, with the email it carries.
struct Row {
    enquiry_id: String,
    email: String,
    status: String,
    ambiguous: u64,
    /// Attempts recorded as ambiguous (timeouts, broken answers); the rest
    /// of `ambiguous` are lost leases (sends cut off by the signal).
    ambiguous_attempts: u64,
}

async fn read_rows(url: &str) -> anyhow::Result<Vec<Row>> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await?;
    let rows: Vec<(String, Option<String>, String, i64, i64)> = sqlx::query_as(
        "SELECT e.id, e.payload, d.status, d.ambiguous, \
         (SELECT COUNT(*) FROM delivery_attempts a WHERE a.delivery_id = d.id AND a.outcome = 'ambiguous') \
         FROM enquiries e JOIN deliveries d ON d.enquiry_id = e.id AND d.step = 'enquiry'",
    )
    .fetch_all(&mut conn)
    .await?;
    let _ = conn.close().await;
    rows.into_iter()
        .map(|(enquiry_id, payload, status, ambiguous, attempts)| {
            let payload: serde_json::Value =
                serde_json::from_str(payload.as_deref().unwrap_or("{}"))
                    .with_context(|| format!("payload of {enquiry_id}"))?;
            Ok(Row {
                email: payload["email"].as_str().unwrap_or_default().to_owned(),
                enquiry_id,
                status,
                ambiguous: ambiguous.max(0) as u64,
                ambiguous_attempts: attempts.max(0) as u64,
            })
        })
        .collect()
}

/// Wait until no row is pending or sending; false after `SETTLE_LIMIT`.
async fn settle(url: &str) -> anyhow::Result<bool> {
    sqlx::any::install_default_drivers();
    let start = Instant::now();
    while start.elapsed() < SETTLE_LIMIT {
        let mut conn = sqlx::AnyConnection::connect(url).await?;
        let (open,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM deliveries WHERE status IN ('pending', 'sending')",
        )
        .fetch_one(&mut conn)
        .await?;
        let _ = conn.close().await;
        if open == 0 {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(false)
}

fn config_toml(db_url: &str, carehq_url: &str, port: u16) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:{port}"

[database]
url = "{db_url}"

[carehq]
base_url = "{carehq_url}"
account_id = "{account}"
api_key = "{key}"
api_secret = "{secret}"
timeout = "{CAREHQ_TIMEOUT}"

[sync]
retry_schedule = {RETRY_SCHEDULE}
poll_interval = "500ms"
lease = "{LEASE}"

# Every post comes from one loopback address, at once.
[spam]
min_fill_time = "0s"
[rate_limit]
per_ip = "100000/1s"
per_site = "100000/1s"

[[sites]]
slug = "{SITE}"
name = "Upton Court"
location = "{location}"
sales_channel = "{channel}"

[sites.defaults]
service = "residential_home"
funding_type = "not_sure"
"#,
        account = seed::ACCOUNT_ID,
        key = seed::API_KEY,
        secret = seed::API_SECRET,
        location = seed::DEMO_LOCATION,
        channel = seed::DEMO_SALES_CHANNEL,
    )
}
