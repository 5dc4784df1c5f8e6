//! The load generator: N tokio tasks posting JSON enquiries over keep-alive
//! connections, each request's latency recorded; bounded by time and count.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

/// How long to load the service, the most requests to send, and what to send.
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
}

impl Traffic {
    fn expected(self) -> StatusCode {
        match self {
            Traffic::Family | Traffic::Honeypot => StatusCode::CREATED,
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

/// Warm up (discarded), then the measured run.
pub async fn run(
    client: &reqwest::Client,
    url: &str,
    clients: usize,
    plan: &LoadPlan,
    tag: &str,
) -> Stats {
    let warm_cap = plan.max_requests.min(10_000);
    load(
        client,
        url,
        clients,
        plan.warmup,
        warm_cap,
        plan.traffic,
        &format!("w{tag}"),
    )
    .await;
    load(
        client,
        url,
        clients,
        plan.measured,
        plan.max_requests,
        plan.traffic,
        tag,
    )
    .await
}

async fn load(
    client: &reqwest::Client,
    url: &str,
    clients: usize,
    limit: Duration,
    max_requests: u64,
    traffic: Traffic,
    tag: &str,
) -> Stats {
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|task| {
            let client = client.clone();
            let url = url.to_owned();
            let issued = Arc::clone(&issued);
            let tag = tag.to_owned();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut non_201 = 0u64;
                let mut n = 0u64;
                while start.elapsed() < limit
                    && issued.fetch_add(1, Ordering::Relaxed) < max_requests
                {
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
            })
        })
        .collect();
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
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    Stats {
        latencies,
        elapsed,
        non_201,
    }
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
