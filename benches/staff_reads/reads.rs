//! The reads, in order, each timed after one warm-up: `/status`,
//! `/metrics`, the console's overview, list pages and searches, the CSV
//! export (one row, and a date range of about 100,000 rows while the
//! service's memory is sampled), the `enquiries export` command as a
//! process; then the service's memory after them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::client::{Auth, Outcome, Sample, Staff, TIMEOUT};
use crate::html;
use crate::idle::Idle;
use crate::seed::{DAY_MS, Seeded};
use crate::service::Service;

/// A read whose warm-up took longer than this is timed once more, not
/// `--repeat` times: the run stays bounded on slow code.
const SLOW_MS: f64 = 5_000.0;
/// The page the deep-page read asks for.
pub const DEEP_PAGE: u32 = 500;
/// Longest walk along next links to the deep page.
const WALK_LIMIT: Duration = Duration::from_secs(600);
/// Days of the bulk CSV's date range: about 100,000 enquiries at 550 a day.
const CSV_DAYS: i64 = 182;

/// Every read, in the order they run and are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    Status,
    Metrics,
    Overview,
    FirstPage,
    DeepPage,
    Failed,
    Email,
    Phone,
    CommonSurname,
    UniqueSurname,
    CsvOne,
    CsvBulk,
    Cli,
}

impl Read {
    pub const ALL: [Read; 13] = [
        Read::Status,
        Read::Metrics,
        Read::Overview,
        Read::FirstPage,
        Read::DeepPage,
        Read::Failed,
        Read::Email,
        Read::Phone,
        Read::CommonSurname,
        Read::UniqueSurname,
        Read::CsvOne,
        Read::CsvBulk,
        Read::Cli,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Read::Status => "`GET /status`",
            Read::Metrics => "`GET /metrics`",
            Read::Overview => "`GET /staff` (overview)",
            Read::FirstPage => "`GET /staff/enquiries` page 1",
            Read::DeepPage => "`GET /staff/enquiries` page 500",
            Read::Failed => "`?state=failed`",
            Read::Email => "`?q=` unique email",
            Read::Phone => "`?q=` phone, spaced as typed",
            Read::CommonSurname => "`?q=` common surname",
            Read::UniqueSurname => "`?q=` unique surname",
            Read::CsvOne => "`GET /staff/export.csv?q=` unique email",
            Read::CsvBulk => "`GET /staff/export.csv` 182 days",
            Read::Cli => "`enquiry-relay enquiries export --email`",
        }
    }

    /// Whether an answer with this status is the read working.
    fn fine(self, status: u16) -> bool {
        status == 200 || (self == Read::Status && status == 503)
    }
}

/// One read's figures.
#[derive(Clone, Debug)]
pub struct Measured {
    pub read: Read,
    /// Milliseconds of the timed runs that were answered.
    pub samples: Vec<f64>,
    /// What went wrong, if anything did (a timeout, a status, an error).
    pub trouble: Option<String>,
    /// Only one timed run: the warm-up was slow.
    pub single: bool,
    /// A run got no answer within the client's timeout.
    pub timed_out: bool,
    /// Rows listed or exported by the last answer.
    pub rows: Option<usize>,
    /// Bytes of the last answer.
    pub bytes: usize,
    pub status: Option<u16>,
}

impl Measured {
    pub fn median(&self) -> Option<f64> {
        let mut sorted = self.samples.clone();
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.len() / 2;
        match sorted.len() {
            0 => None,
            n if n.is_multiple_of(2) => Some((sorted[mid - 1] + sorted[mid]) / 2.0),
            _ => Some(sorted[mid]),
        }
    }

    pub fn min_max(&self) -> Option<(f64, f64)> {
        let min = self.samples.iter().copied().reduce(f64::min)?;
        let max = self.samples.iter().copied().reduce(f64::max)?;
        Some((min, max))
    }

    fn failed(read: Read, trouble: String) -> Measured {
        Measured {
            read,
            samples: Vec::new(),
            trouble: Some(trouble),
            single: false,
            timed_out: false,
            rows: None,
            bytes: 0,
            status: None,
        }
    }
}

/// Everything one service run measured.
pub struct RunFigures {
    pub reads: Vec<Measured>,
    /// The page the deep-page read fetched, and how its address was found.
    pub deep_page: (u32, String),
    /// Service memory after the reads, kB.
    pub rss_after_kb: u64,
    pub hwm_after_kb: u64,
    /// Peak service memory while the bulk CSV downloaded, kB.
    pub csv_peak_kb: u64,
    pub csv_peak_how: &'static str,
    /// The bulk CSV's date range.
    pub csv_range: (String, String),
    pub load_before: String,
}

/// Run every read against the signed-in `staff` of `service`.
pub async fn run(
    service: &Service,
    db_url: &str,
    config: &std::path::Path,
    seeded: &Seeded,
    repeat: usize,
    now: i64,
) -> anyhow::Result<RunFigures> {
    let load_before = load_avg();
    let staff = Staff::sign_in(&service.address, crate::setup::STAFF_TOKEN)
        .await
        .context("signing in to the staff console")?;
    show_queue(&staff).await;
    let list = "/staff/enquiries";
    let search = |q: &str| format!("{list}?q={}", encode(q));
    let idle = Idle {
        service,
        postgres: db_url.starts_with("postgres").then_some(db_url),
    };
    let mut reads = Vec::new();
    for (read, path, auth) in [
        (Read::Status, "/status".to_owned(), Auth::Bearer),
        (Read::Metrics, "/metrics".to_owned(), Auth::Bearer),
        (Read::Overview, "/staff".to_owned(), Auth::Session),
        (Read::FirstPage, list.to_owned(), Auth::Session),
    ] {
        let measured = time_get(&staff, read, &path, auth, repeat).await;
        idle.keep(&mut reads, measured).await;
    }
    let deep = match deep_page(&staff, seeded.enquiries).await {
        Ok((path, page, how)) => {
            let measured = time_get(&staff, Read::DeepPage, &path, Auth::Session, repeat).await;
            idle.keep(&mut reads, measured).await;
            (page, how)
        }
        Err(e) => {
            idle.wait().await;
            reads.push(Measured::failed(Read::DeepPage, format!("{e:#}")));
            (0, "not reached".to_owned())
        }
    };
    for (read, path) in [
        (Read::Failed, format!("{list}?state=failed")),
        (Read::Email, search(&seeded.unique_email)),
        (Read::Phone, search(&seeded.phone_as_typed)),
        (Read::CommonSurname, search(seeded.common_surname)),
        (Read::UniqueSurname, search(seeded.unique_surname)),
        (
            Read::CsvOne,
            format!("/staff/export.csv?q={}", encode(&seeded.unique_email)),
        ),
    ] {
        let measured = time_get(&staff, read, &path, Auth::Session, repeat).await;
        idle.keep(&mut reads, measured).await;
    }
    let csv_range = (day(now - (CSV_DAYS - 1) * DAY_MS)?, day(now)?);
    let bulk = format!("/staff/export.csv?from={}&to={}", csv_range.0, csv_range.1);
    let hwm_before = service.memory_kb("VmHWM")?;
    let reset = service.reset_peak_memory().is_ok();
    let (bulk_read, sampled_kb) = time_sampled(&staff, service, &bulk, repeat).await;
    let hwm_since = service.memory_kb("VmHWM")?;
    idle.keep(&mut reads, bulk_read).await;
    let measured = time_cli(config, &seeded.unique_email, repeat).await;
    idle.keep(&mut reads, measured).await;
    let (csv_peak_kb, csv_peak_how) = if reset {
        (
            sampled_kb.max(hwm_since),
            "VmHWM, reset before the download",
        )
    } else {
        (sampled_kb, "VmRSS sampled every 5 ms")
    };
    Ok(RunFigures {
        reads,
        deep_page: deep,
        rss_after_kb: service.memory_kb("VmRSS")?,
        hwm_after_kb: hwm_before.max(service.memory_kb("VmHWM")?),
        csv_peak_kb,
        csv_peak_how,
        csv_range,
        load_before,
    })
}

/// What `/status` says of the queue (stderr): a check of the seed.
async fn show_queue(staff: &Staff) {
    let sample = staff.get("/status", Auth::Bearer).await;
    let status: Option<serde_json::Value> =
        (sample.body.as_deref()).and_then(|b| serde_json::from_str(b).ok());
    match status {
        Some(s) => eprintln!(
            "   /status: queue {}; problems {}",
            s["queue"], s["problems"]
        ),
        None => eprintln!("   /status: {:?}", sample.outcome),
    }
}

/// Time `path`: one warm-up, then `repeat` runs (one, if the warm-up was slow).
async fn time_get(staff: &Staff, read: Read, path: &str, auth: Auth, repeat: usize) -> Measured {
    eprintln!("   {}", read.label());
    measure(read, repeat, || staff.get(path, auth)).await
}

async fn measure<F, Fut>(read: Read, repeat: usize, mut once: F) -> Measured
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Sample>,
{
    let warm = once().await;
    let mut measured = Measured {
        read,
        samples: Vec::new(),
        trouble: None,
        single: warm.ms > SLOW_MS,
        timed_out: false,
        rows: None,
        bytes: 0,
        status: None,
    };
    if !record(&mut measured, &warm, false) {
        return measured;
    }
    let runs = if measured.single { 1 } else { repeat.max(1) };
    for _ in 0..runs {
        let sample = once().await;
        if !record(&mut measured, &sample, true) {
            break;
        }
    }
    measured
}

/// Note a sample; false when the read should stop (it timed out or failed).
fn record(measured: &mut Measured, sample: &Sample, timed: bool) -> bool {
    match &sample.outcome {
        Outcome::Answered {
            status,
            bytes,
            lines,
        } => {
            measured.status = Some(*status);
            measured.bytes = *bytes;
            if !measured.read.fine(*status) {
                measured.trouble = Some(format!("answered {status}"));
            }
            measured.rows = rows(measured.read, sample.body.as_deref(), *lines);
            if timed {
                measured.samples.push(sample.ms);
            }
            true
        }
        Outcome::TimedOut => {
            measured.timed_out = true;
            measured.trouble = Some(format!(">{} s", TIMEOUT.as_secs()));
            false
        }
        Outcome::Failed(e) => {
            measured.trouble = Some(e.clone());
            false
        }
    }
}

/// Rows in an answer: list rows of a list page, data lines of a CSV.
fn rows(read: Read, body: Option<&str>, lines: usize) -> Option<usize> {
    match read {
        Read::CsvOne | Read::CsvBulk => Some(lines.saturating_sub(1)),
        Read::FirstPage
        | Read::DeepPage
        | Read::Failed
        | Read::Email
        | Read::Phone
        | Read::CommonSurname
        | Read::UniqueSurname => body.map(html::list_rows),
        _ => None,
    }
}

/// The address of page 500 of the list (or of its last page, when there
/// are fewer), which page that is, and how the address was found: from
/// the page number of an offset link, else by following each page's next
/// link (a keyset cursor cannot be guessed).
async fn deep_page(staff: &Staff, total: usize) -> anyhow::Result<(String, u32, String)> {
    let list = "/staff/enquiries";
    let first = staff.text(list).await?;
    let per_page = html::list_rows(&first).max(1);
    let Some(href) = html::next_href(&first) else {
        return Ok((list.to_owned(), 1, "the only page".to_owned()));
    };
    let mut next = html::resolve(&href, &staff.base);
    if html::page_number(&next).is_some() {
        let last = u32::try_from(total.div_ceil(per_page))?;
        let page = DEEP_PAGE.min(last);
        let how = if page < DEEP_PAGE { "last page; " } else { "" };
        return Ok((
            html::with_page(&next, page),
            page,
            format!("{how}address from the next link's page number (offset paging)"),
        ));
    }
    let mut page = 2;
    let walked = Instant::now();
    loop {
        if page == DEEP_PAGE || walked.elapsed() > WALK_LIMIT {
            break;
        }
        let text = staff.text(&next).await?;
        match html::next_href(&text) {
            Some(href) => {
                next = html::resolve(&href, &staff.base);
                page += 1;
            }
            None => break,
        }
    }
    let last = match (page < DEEP_PAGE, walked.elapsed() > WALK_LIMIT) {
        (true, true) => "the walk's time limit ran out here; ",
        (true, false) => "last page; ",
        _ => "",
    };
    Ok((
        next,
        page,
        format!(
            "{last}followed {} next links in {:.1} s (keyset paging)",
            page - 1,
            walked.elapsed().as_secs_f64()
        ),
    ))
}

/// Time the bulk CSV while sampling the service's resident memory; the
/// highest sample, kB.
async fn time_sampled(
    staff: &Staff,
    service: &Service,
    path: &str,
    repeat: usize,
) -> (Measured, u64) {
    eprintln!("   {}", Read::CsvBulk.label());
    let peak = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let sampler = async {
        while !done.load(Ordering::Relaxed) {
            if let Ok(kb) = service.memory_kb("VmRSS") {
                peak.fetch_max(kb, Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let downloads = async {
        let measured = measure(Read::CsvBulk, repeat, || staff.get(path, Auth::Session)).await;
        done.store(true, Ordering::Relaxed);
        measured
    };
    let (measured, ()) = tokio::join!(downloads, sampler);
    (measured, peak.load(Ordering::Relaxed))
}

/// Time `enquiry-relay --config FILE enquiries export --email ADDRESS`
/// from start to exit.
async fn time_cli(config: &std::path::Path, email: &str, repeat: usize) -> Measured {
    eprintln!("   {}", Read::Cli.label());
    measure(Read::Cli, repeat, || async {
        let started = Instant::now();
        let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_enquiry-relay"))
            .arg("--config")
            .arg(config)
            .args(["enquiries", "export", "--email", email])
            .env("NO_COLOR", "1")
            .kill_on_drop(true)
            .output();
        let outcome = match tokio::time::timeout(TIMEOUT, run).await {
            Err(_) => Outcome::TimedOut,
            Ok(Err(e)) => Outcome::Failed(format!("could not run the binary: {e}")),
            Ok(Ok(out)) if out.status.success() => Outcome::Answered {
                status: 200,
                bytes: out.stdout.len(),
                lines: 0,
            },
            Ok(Ok(out)) => Outcome::Failed(format!(
                "exited {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        };
        Sample {
            ms: started.elapsed().as_secs_f64() * 1000.0,
            outcome,
            body: None,
        }
    })
    .await
}

/// `YYYY-MM-DD` (UTC) of Unix ms.
fn day(ms: i64) -> anyhow::Result<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Ok(time::OffsetDateTime::from_unix_timestamp(ms / 1000)?
        .date()
        .format(&format)?)
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The 1, 5 and 15 minute load averages.
pub fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
