//! Row types and state transitions of the outbox.

use std::borrow::Cow;

use strum::VariantArray;

/// Where a delivery stands.
/// Stored as its snake_case name in `deliveries.status`; the names are part
/// of the contract (CLI, `/status`, metrics).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    serde::Serialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::Display,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or for delivery to resume).
    Pending,
    /// Leased by a worker that is sending it now.
    Sending,
    /// CareHQ has it.
    Synced,
    /// Gave up: CareHQ refused it or the retry schedule is spent. Staff act on it.
    Failed,
    /// Quarantined; a person must release it before it is sent.
    Held,
    /// A later step (a home visit) waiting for its enquiry to be synced; it
    /// becomes pending in the same transaction that records the enquiry synced.
    Waiting,
    /// Held (or waiting on a held enquiry) longer than `retention.held` with
    /// nobody releasing it: the personal data is scrubbed and it is never
    /// sent. Final, like `synced`.
    Expired,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The Id of a stored enquiry: a UUID v7 made at intake (time-ordered, so
/// Ids sort by arrival), kept as the text `enquiries.id` stores. Read and
/// bound as that text on both databases (`sqlx(transparent)`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, sqlx::Type)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct EnquiryId(String);

impl EnquiryId {
    /// A new Id, for an enquiry about to be stored.
    pub fn generate() -> EnquiryId {
        EnquiryId(uuid::Uuid::now_v7().to_string())
    }

    /// An Id read back from the database, as stored.
    pub fn from_stored(text: String) -> EnquiryId {
        EnquiryId(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Text that is not an enquiry Id as intake writes them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "not an enquiry Id (a UUID in lower case with hyphens, as the enquiry's page and the logs show it)"
)]
pub struct NotAnEnquiryId;

/// An Id as a person or a URL gives it: only the text intake writes (a
/// lower-case hyphenated UUID), so any other spelling finds nothing, as it
/// did when the text was looked up as given.
impl std::str::FromStr for EnquiryId {
    type Err = NotAnEnquiryId;

    fn from_str(text: &str) -> Result<EnquiryId, NotAnEnquiryId> {
        let uuid = uuid::Uuid::try_parse(text).map_err(|_| NotAnEnquiryId)?;
        let canonical = uuid.hyphenated().to_string();
        (canonical == text)
            .then_some(EnquiryId(canonical))
            .ok_or(NotAnEnquiryId)
    }
}

impl std::fmt::Display for EnquiryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an outbox row sends, and where; stored as its snake_case name in
/// `deliveries.step` (a destination's as `destination:NAME`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::Display, strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
pub enum Step {
    /// `PUT care-enquiries`: the enquiry itself.
    Enquiry,
    /// `PUT home-visits`: the visit asked for with it, once the enquiry is in.
    HomeVisit,
    /// The enquiry emailed to the site's `fallback_email`, made only when it
    /// is not in CareHQ within `sync.fallback_after`.
    FallbackEmail,
    /// The enquiry sent to one of the site's `also_send_to` destinations;
    /// stored as `destination:NAME` (which one is the lane's).
    Destination,
}

/// `deliveries.step` of the step for destination `name`.
pub fn destination_step(name: &str) -> String {
    format!("{DESTINATION_PREFIX}{name}")
}

const DESTINATION_PREFIX: &str = "destination:";

impl Step {
    /// The steps a CareHQ account's lane sends.
    pub const CAREHQ: &'static [Cow<'static, str>] =
        &[Cow::Borrowed("enquiry"), Cow::Borrowed("home_visit")];
    /// The steps the fallback email lane sends.
    pub const EMAIL: &'static [Cow<'static, str>] = &[Cow::Borrowed("fallback_email")];

    /// The step's kind; a destination's stored text also names it.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// What the step sends, in the log's words.
    pub fn noun(self) -> &'static str {
        match self {
            Step::Enquiry | Step::Destination => "enquiry",
            Step::HomeVisit => "home visit",
            Step::FallbackEmail => "fallback email",
        }
    }

    pub fn parse(s: &str) -> Option<Step> {
        if s.starts_with(DESTINATION_PREFIX) {
            return Some(Step::Destination);
        }
        (Step::VARIANTS.iter().copied())
            .filter(|step| *step != Step::Destination)
            .find(|step| step.as_str() == s)
    }
}

impl serde::Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// How one attempt ended: the text of `delivery_attempts.outcome` and of the
/// attempts metric's `outcome` label.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString, strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
pub enum AttemptOutcome {
    Synced,
    /// Failed, to be tried again.
    Retry,
    /// Failed in a way that may have reached CareHQ (a timeout, a broken
    /// answer), to be tried again.
    Ambiguous,
    Failed,
    /// Not sent, or refused with a 429: CareHQ's rate limit.
    RateLimited,
    /// CareHQ refused our credentials or access: delivery paused.
    Paused,
    /// Not sent: too little of the lease was left.
    Deferred,
    /// Not sent and no longer needed (a fallback email once CareHQ has the
    /// enquiry): the step is closed.
    NotNeeded,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A delivery a worker has leased, with what it needs to send it.
#[derive(Clone)]
pub struct ClaimedDelivery {
    pub id: String,
    pub enquiry_id: EnquiryId,
    pub step: Step,
    /// The step as stored (`destination:records` names its destination).
    pub step_name: String,
    /// Attempts already spent before this one.
    pub attempts: i64,
    /// True when the row was re-claimed after a lease expired: an earlier send may
    /// have reached CareHQ.
    pub lease_expired: bool,
    /// This claim's own token, kept in `lease_owner`: every outcome write
    /// names it, so a write from an earlier claim of the same row (a send that
    /// outlived its lease, even in this process) changes nothing.
    pub lease_token: String,
    /// When the lease ends at the latest, on this process's monotonic clock.
    /// Taken before the claim ran, so the database's lease ends no earlier.
    pub lease_deadline: std::time::Instant,
    /// The CareHQ account it was claimed for (its outcome updates that
    /// account's delivery state).
    pub account: String,
}

/// Which due rows a claim may take: those of one CareHQ account's sites.
#[derive(Clone, Copy, Debug)]
pub struct ClaimScope<'a> {
    /// The lane's name: a CareHQ account, or `(fallback email)`. Outcomes
    /// update its row of `account_delivery_state`.
    pub account: &'a str,
    /// The steps it sends, as stored (`Step::CAREHQ`, `Step::EMAIL`,
    /// `destination:NAME`), or every step but those (the lane that fails
    /// the steps no configured lane sends any more).
    pub steps: StepFilter<'a>,
    pub sites: SiteFilter<'a>,
}

/// What [`ClaimScope::due_rows`] selects, and how.
#[derive(Clone, Copy, Debug)]
pub(super) struct DueRows<'a> {
    /// Columns of `deliveries`, `next_attempt_at` among them (the steps'
    /// rows are merged by it).
    pub columns: &'a str,
    /// More conditions on each row, each with its `AND` (the time bound,
    /// the rows to skip).
    pub due: &'a str,
    /// At most this many rows (a number or a placeholder).
    pub limit: &'a str,
    /// Locking clause of each step's range (PostgreSQL's claim).
    pub lock: &'a str,
    /// `INDEXED BY deliveries_lane_due` on SQLite, which keeps no
    /// statistics here and reads a step's first row through the
    /// `(status, next_attempt_at)` index otherwise.
    pub index: &'a str,
    /// PostgreSQL: the unserved steps' ranges through `LATERAL`.
    pub lateral: bool,
}

/// The steps a claim takes, as stored in `deliveries.step`.
#[derive(Clone, Copy, Debug)]
pub enum StepFilter<'a> {
    Only(&'a [Cow<'static, str>]),
    AllBut(&'a [Cow<'static, str>]),
}

/// The sites whose rows a claim takes, by the enquiry's site slug.
#[derive(Clone, Copy, Debug)]
pub enum SiteFilter<'a> {
    /// These sites only (an `[[accounts]]` entry's).
    Only(&'a [String]),
    /// Every site but these (the default account's: it also takes rows of
    /// sites no longer in the config, which then fail with a message saying so).
    AllBut(&'a [String]),
}

impl ClaimScope<'_> {
    /// Every CareHQ row: one account, as before accounts existed.
    pub const ALL: ClaimScope<'static> = ClaimScope {
        account: "default",
        steps: StepFilter::Only(Step::CAREHQ),
        sites: SiteFilter::AllBut(&[]),
    };

    /// A SELECT of the lane's due rows, at most `rows.limit`, in
    /// `next_attempt_at` order, with placeholders from `$first`; its values,
    /// in order, are `self.values()`.
    ///
    /// Each step the lane sends is its own range of `deliveries_lane_due`
    /// (step, next_attempt_at; pending and sending rows only), read in order
    /// and cut at the limit, and the ranges are merged by time. So a lane
    /// reads its own due rows, never another lane's backlog: one `step IN
    /// (…)` over the `(status, next_attempt_at)` index walked every due row
    /// of every lane: 0.4-0.6 s per call (SQLite) beside a destination that
    /// is down with 900,000 rows waiting, 0.02-0.2 ms now (BENCHMARKS.md,
    /// write path).
    ///
    /// The lane of steps no configured lane sends (`StepFilter::AllBut`)
    /// first lists the steps that have pending or sending rows, one index
    /// probe each (a handful: the step kinds and destinations ever
    /// configured), keeps those not served, and reads their ranges. It runs
    /// on every pass, so a walk of all due rows would cost as much as before
    /// the index; listing the steps leaves the database's own text ordering
    /// to it (PostgreSQL's collation need not sort as Rust does).
    ///
    /// What this leaves to a walk: the site filter is asked of each row of
    /// the lane's steps through the enquiry's primary key, so an account's
    /// lane still steps over another account's due rows of the same steps
    /// that fall due before its own (BENCHMARKS.md says when that matters).
    pub(super) fn due_rows(&self, rows: &DueRows<'_>, first: usize) -> String {
        let DueRows {
            columns,
            due,
            limit,
            lock,
            index,
            lateral,
        } = *rows;
        let (StepFilter::Only(steps) | StepFilter::AllBut(steps)) = self.steps;
        let site = self.site_clause(first + steps.len());
        let status = "status IN ('pending', 'sending')";
        let arm = |step: &str| {
            format!(
                "SELECT {columns} FROM deliveries {index} \
                 WHERE step = {step} AND {status} {due} {site} \
                 ORDER BY next_attempt_at LIMIT {limit} {lock}"
            )
        };
        match self.steps {
            StepFilter::Only(steps) => {
                // One arm per step, each its own placeholder (every value
                // bound is used). The lists are fixed and distinct
                // (`Step::CAREHQ`, `Step::EMAIL`, one destination).
                let arms: Vec<String> = (first..first + steps.len())
                    .map(|n| arm(&format!("${n}")))
                    .collect();
                match arms.as_slice() {
                    [] => format!("SELECT {columns} FROM deliveries WHERE 1 = 0"),
                    [one] => one.clone(),
                    _ => {
                        let arms: Vec<String> = (arms.iter().enumerate())
                            .map(|(n, arm)| format!("SELECT * FROM ({arm}) AS lane_{n}"))
                            .collect();
                        format!(
                            "{} ORDER BY next_attempt_at LIMIT {limit}",
                            arms.join(" UNION ALL ")
                        )
                    }
                }
            }
            StepFilter::AllBut(_) => {
                let served = match steps.len() {
                    0 => String::new(),
                    n => {
                        let list: Vec<String> =
                            (first..first + n).map(|n| format!("${n}")).collect();
                        format!("AND lane_step NOT IN ({})", list.join(", "))
                    }
                };
                // The distinct steps of the index, each found from the one
                // before (a loose index scan).
                let steps = format!(
                    "WITH RECURSIVE lane_steps (lane_step) AS (\
                     SELECT MIN(step) FROM deliveries {index} WHERE {status} \
                     UNION ALL \
                     SELECT (SELECT MIN(step) FROM deliveries {index} WHERE {status} AND step > lane_step) \
                     FROM lane_steps WHERE lane_step IS NOT NULL)"
                );
                if lateral {
                    // PostgreSQL: each step's range read (and locked) on its
                    // own, as the arms above.
                    format!(
                        "{steps} SELECT lane.* FROM lane_steps CROSS JOIN LATERAL ({}) AS lane \
                         WHERE lane_step IS NOT NULL {served} ORDER BY next_attempt_at LIMIT {limit}",
                        arm("lane_step")
                    )
                } else {
                    // SQLite has no LATERAL; CROSS JOIN keeps the steps the
                    // outer loop, so each is one range of the index. The
                    // rows of unserved steps are all this lane's own.
                    format!(
                        "{steps} SELECT {columns} FROM lane_steps CROSS JOIN deliveries {index} \
                         WHERE lane_step IS NOT NULL {served} AND step = lane_step AND {status} {due} {site} \
                         ORDER BY next_attempt_at LIMIT {limit}"
                    )
                }
            }
        }
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &str> {
        let (StepFilter::Only(steps) | StepFilter::AllBut(steps)) = self.steps;
        (steps.iter().map(|step| step.as_ref()))
            .chain(self.site_values().iter().map(String::as_str))
    }

    fn site_clause(&self, first: usize) -> String {
        let (exists, sites) = match self.sites {
            SiteFilter::Only(sites) => ("EXISTS", sites),
            SiteFilter::AllBut(sites) => ("NOT EXISTS", sites),
        };
        if sites.is_empty() {
            return match self.sites {
                SiteFilter::Only(_) => "AND 1 = 0".to_owned(),
                SiteFilter::AllBut(_) => String::new(),
            };
        }
        let list: Vec<String> = (first..first + sites.len())
            .map(|n| format!("${n}"))
            .collect();
        // Asked of each due row through the enquiry's primary key, so the
        // cost follows the due rows, not every enquiry the sites ever had
        // (an `enquiry_id IN (SELECT id FROM enquiries WHERE site …)` list
        // grew with history: BENCHMARKS.md, write-path profile).
        format!(
            "AND {exists} (SELECT 1 FROM enquiries e WHERE e.id = deliveries.enquiry_id AND e.site IN ({}))",
            list.join(", ")
        )
    }

    fn site_values(&self) -> &[String] {
        match self.sites {
            SiteFilter::Only(sites) | SiteFilter::AllBut(sites) => sites,
        }
    }
}

/// One delivery attempt, as recorded for staff.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    pub started_at: i64,
    pub duration_ms: i64,
    pub outcome: AttemptOutcome,
    pub http_status: Option<u16>,
    pub hint: Option<String>,
    /// CareHQ's `arg_errors`, as JSON text.
    pub arg_errors: Option<String>,
    pub error: Option<String>,
}

impl AttemptRecord {
    /// An attempt that ended as `outcome` without CareHQ's answer (not sent,
    /// or failed before sending); the other fields say nothing yet.
    pub fn new(outcome: AttemptOutcome, started_at: i64) -> AttemptRecord {
        AttemptRecord {
            started_at,
            duration_ms: 0,
            outcome,
            http_status: None,
            hint: None,
            arg_errors: None,
            error: None,
        }
    }
}

/// What the outcome of an attempt does to its delivery.
#[derive(Clone, Debug, PartialEq)]
pub enum Transition {
    Synced {
        remote_id: Option<String>,
    },
    /// Back to pending for `retry_in_ms`, counted from the outcome write's
    /// "now" (the database's clock on PostgreSQL, so instances with skewed
    /// clocks agree on when the row falls due).
    Retry {
        retry_in_ms: i64,
        /// False for rate limits and pauses: CareHQ never judged the enquiry.
        spend_attempt: bool,
        /// The send may have reached CareHQ (timeout, broken answer).
        ambiguous: bool,
        error: String,
    },
    Failed {
        ambiguous: bool,
        error: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored texts, written out: a renamed variant must not change
    /// what rows already hold (they are read back by these names).
    #[test]
    fn the_stored_names_are_the_ones_rows_hold() {
        let statuses: Vec<&str> = DeliveryStatus::VARIANTS
            .iter()
            .map(|s| s.as_str())
            .collect();
        assert_eq!(
            statuses,
            [
                "pending", "sending", "synced", "failed", "held", "waiting", "expired"
            ]
        );
        let steps: Vec<&str> = Step::VARIANTS.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            steps,
            ["enquiry", "home_visit", "fallback_email", "destination"]
        );
        let outcomes: Vec<&str> = AttemptOutcome::VARIANTS
            .iter()
            .map(|o| o.as_str())
            .collect();
        assert_eq!(
            outcomes,
            [
                "synced",
                "retry",
                "ambiguous",
                "failed",
                "rate_limited",
                "paused",
                "deferred",
                "not_needed"
            ]
        );
        for status in DeliveryStatus::VARIANTS {
            assert_eq!(status.as_str().parse::<DeliveryStatus>(), Ok(*status));
            assert_eq!(status.to_string(), status.as_str());
        }
    }

    #[test]
    fn an_enquiry_id_is_read_only_as_intake_writes_it() {
        let id = EnquiryId::generate();
        assert_eq!(id.as_str().parse(), Ok(id.clone()));
        for other in [
            "",
            "any",
            "1",
            &id.as_str().to_uppercase(),
            &id.as_str().replace('-', ""),
            &format!("{{{id}}}"),
            &format!(" {id}"),
        ] {
            assert_eq!(other.parse::<EnquiryId>(), Err(NotAnEnquiryId), "{other:?}");
        }
    }

    #[test]
    fn a_step_reads_back_from_its_stored_text() {
        assert_eq!(Step::parse("home_visit"), Some(Step::HomeVisit));
        assert_eq!(Step::parse("destination:records"), Some(Step::Destination));
        // Only `destination:NAME` names a destination step.
        assert_eq!(Step::parse("destination"), None);
        assert_eq!(Step::parse("Enquiry"), None);
    }
}
