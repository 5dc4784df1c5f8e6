//! The load generator: N tokio tasks posting JSON enquiries over keep-alive
//! connections, each request's latency recorded; bounded by time and count.
//! In the mixed scenario two groups run at once (families and honeypot bots),
//! each with its own figures; the bots either post as fast as they can or are
//! paced to a total rate, the way a flood arrives from outside.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

/// How long to load the service, the most requests to send, and what to send.
#[derive(Clone, Copy)]
pub struct LoadPlan {
    pub measured: Duration,
    pub warmup: Duration,
    pub max_requests: u64,
    pub traffic: Traffic,
}

/// What the clients post.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Traffic {
    /// Valid enquiries: stored, answered 201.
    Family,
    /// Bots that fill the honeypot: answered 201 like success, nothing stored.
    Honeypot,
    /// Posts past the per-IP rate limit: answered 429.
    RateLimited,
    /// Family clients (`--clients`) and honeypot bots (`--bots`) at once:
    /// do real enquiries keep their latency during a bot flood?
    Mixed,
}

impl Traffic {
    fn expected(self) -> StatusCode {
        match self {
            Traffic::Family | Traffic::Honeypot | Traffic::Mixed => StatusCode::CREATED,
            Traffic::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn body(self, tag: &str, task: usize, n: u64) -> serde_json::Value {
        let mut body = family(tag, task, n);
        if self == Traffic::Honeypot {
            body["website"] = serde_json::json!("http://cheap-pills.example");
        }
        body
    }
}

/// One measured run.
pub struct Stats {
    /// Sorted, one per answered-or-failed request.
    latencies: Vec<Duration>,
    pub elapsed: Duration,
    /// Answers other than the traffic's expected one (201, or 429 for
    /// rate-limited traffic), plus requests that got no answer at all.
    pub non_201: u64,
}

impl Stats {
    fn empty() -> Stats {
        Stats {
            latencies: Vec::new(),
            elapsed: Duration::ZERO,
            non_201: 0,
        }
    }

    pub fn requests(&self) -> usize {
        self.latencies.len()
    }

    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// Nearest-rank percentile (`p` in 0..=1); zero when nothing was sent.
    pub fn percentile(&self, p: f64) -> Duration {
        let n = self.latencies.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = (p * n as f64).ceil() as usize;
        self.latencies[rank.clamp(1, n) - 1]
    }

    pub fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }
}

/// One client shared by all tasks: its pool keeps one connection per task alive.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()
}

/// The warm-up alone (its figures discarded): `plan.warmup`, at most
/// 10,000 requests.
pub async fn warm(client: &reqwest::Client, url: &str, clients: usize, plan: &LoadPlan, tag: &str) {
    let groups = one_group(plan, clients);
    let warm_cap = plan.max_requests.min(10_000);
    let tag = format!("w{tag}");
    load(client, url, &groups, plan.warmup, warm_cap, &tag).await;
}

/// The measured run alone: `plan.measured`, at most `plan.max_requests`.
pub async fn measure(
    client: &reqwest::Client,
    url: &str,
    clients: usize,
    plan: &LoadPlan,
    tag: &str,
) -> Stats {
    let groups = one_group(plan, clients);
    let mut stats = load(client, url, &groups, plan.measured, plan.max_requests, tag).await;
    stats.pop().unwrap_or_else(Stats::empty)
}

fn one_group(plan: &LoadPlan, clients: usize) -> [Group; 1] {
    [Group {
        traffic: plan.traffic,
        clients,
        pace: None,
    }]
}

/// Post one family enquiry, expecting its 201.
pub async fn post_one(client: &reqwest::Client, url: &str, tag: &str) -> anyhow::Result<()> {
    post(client, url, &family(tag, 0, 0), StatusCode::CREATED)
        .await
        .map_err(|why| anyhow::anyhow!("posting one enquiry: {why}"))
}

/// `families` clients posting enquiries while `bots` clients post honeypot
/// bots at the same time, together `bot_rate` posts a second (`None`: as fast
/// as they can): (the families' figures, the bots' figures).
pub async fn run_mixed(
    client: &reqwest::Client,
    url: &str,
    (families, bots): (usize, usize),
    bot_rate: Option<f64>,
    plan: &LoadPlan,
    tag: &str,
) -> (Stats, Stats) {
    // Each bot posts once per `pace`, so all of them together make the rate.
    let pace = bot_rate
        .filter(|rate| *rate > 0.0)
        .map(|rate| Duration::from_secs_f64(bots as f64 / rate));
    let groups = [
        Group {
            traffic: Traffic::Family,
            clients: families,
            pace: None,
        },
        Group {
            traffic: Traffic::Honeypot,
            clients: bots,
            pace,
        },
    ];
    let mut stats = run_groups(client, url, &groups, plan, tag)
        .await
        .into_iter();
    let family = stats.next().unwrap_or_else(Stats::empty);
    let bot = stats.next().unwrap_or_else(Stats::empty);
    (family, bot)
}

/// Clients that post the same traffic; with a `pace`, each client posts at
/// most once per `pace` (an open loop: a slow answer does not slow the flood
/// beyond the client's own wait).
#[derive(Clone, Copy)]
struct Group {
    traffic: Traffic,
    clients: usize,
    pace: Option<Duration>,
}

async fn run_groups(
    client: &reqwest::Client,
    url: &str,
    groups: &[Group],
    plan: &LoadPlan,
    tag: &str,
) -> Vec<Stats> {
    let warm_cap = plan.max_requests.min(10_000);
    load(
        client,
        url,
        groups,
        plan.warmup,
        warm_cap,
        &format!("w{tag}"),
    )
    .await;
    load(client, url, groups, plan.measured, plan.max_requests, tag).await
}

/// One client task: post `traffic` until the time or the group's count runs
/// out; with a pace, the n-th post waits for `first + n × pace`.
async fn client_task(
    client: reqwest::Client,
    url: String,
    (traffic, pace): (Traffic, Option<(Duration, Duration)>),
    task: usize,
    (start, limit): (Instant, Duration),
    (issued, max_requests): (Arc<AtomicU64>, u64),
    tag: String,
) -> (Vec<Duration>, u64) {
    let mut latencies = Vec::new();
    let mut non_201 = 0u64;
    let mut n = 0u64;
    while start.elapsed() < limit && issued.fetch_add(1, Ordering::Relaxed) < max_requests {
        if let Some((first, every)) = pace {
            let due = start + first + every.mul_f64(n as f64);
            tokio::time::sleep_until(due.into()).await;
            if start.elapsed() >= limit {
                break;
            }
        }
        let body = traffic.body(&tag, task, n);
        n += 1;
        let sent = Instant::now();
        let answer = post(&client, &url, &body, traffic.expected()).await;
        latencies.push(sent.elapsed());
        if let Err(why) = answer {
            // The first failure per task says enough; the count says the rest.
            if non_201 == 0 {
                eprintln!("   client {task}: {why}");
            }
            non_201 += 1;
        }
    }
    (latencies, non_201)
}

/// Every group's clients at once; one `Stats` per group, in order. Each group
/// has its own request cap, so a bot flood cannot use up the families' share.
async fn load(
    client: &reqwest::Client,
    url: &str,
    groups: &[Group],
    limit: Duration,
    max_requests: u64,
    tag: &str,
) -> Vec<Stats> {
    let start = Instant::now();
    let mut first_task = 0;
    let mut spawned = Vec::new();
    for &Group {
        traffic,
        clients,
        pace,
    } in groups
    {
        let issued = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (first_task..first_task + clients)
            .map(|task| {
                // Paced clients start spread over one pace, not all at once.
                let offset = (task - first_task) as f64 / clients.max(1) as f64;
                let pace = pace.map(|every| (every.mul_f64(offset), every));
                tokio::spawn(client_task(
                    client.clone(),
                    url.to_owned(),
                    (traffic, pace),
                    task,
                    (start, limit),
                    (Arc::clone(&issued), max_requests),
                    tag.to_owned(),
                ))
            })
            .collect();
        first_task += clients;
        spawned.push(tasks);
    }
    let mut all = Vec::new();
    for tasks in spawned {
        let mut latencies = Vec::new();
        let mut non_201 = 0;
        for task in tasks {
            match task.await {
                Ok((l, bad)) => {
                    latencies.extend(l);
                    non_201 += bad;
                }
                Err(e) => eprintln!("a load task failed: {e}"),
            }
        }
        latencies.sort_unstable();
        all.push(Stats {
            latencies,
            elapsed: start.elapsed(),
            non_201,
        });
    }
    all
}

/// Post one enquiry and read the whole answer; an error unless it is `expected`.
async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    expected: StatusCode,
) -> Result<(), String> {
    let response = client
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| format!("answer {status} broke off: {e}"))?;
    if status != expected {
        return Err(format!("answer {status}: {text}"));
    }
    Ok(())
}

/// A valid enquiry with a unique email, as a website's JSON post would send it.
fn family(tag: &str, task: usize, n: u64) -> serde_json::Value {
    serde_json::json!({
        "first_name": "Zoë",
        "last_name": format!("O'Brien {task}-{n}"),
        "email": format!("family-{tag}-{task}-{n}@example.com").to_lowercase(),
        "phone": "01632 960123",
        "care_requirements": "Respite care from 1 March\nGround-floor room",
        "service": "residential_home",
        "funding_type": "private",
    })
}
