//! What staff do to enquiries from the command line: list them, read one,
//! send failed ones again, release held ones. Every change is one statement
//! (or one transaction), so it is safe beside a running server.

use super::models::EnquiryId;
use super::sealing::Place;
use super::{Store, StoreError, now_ms};

/// One line of `enquiries list`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct EnquirySummary {
    pub id: String,
    pub site: String,
    pub received_at: i64,
    /// The status of its first delivery step (the care enquiry).
    pub status: String,
    /// The status of its home-visit step, when a visit was asked for.
    pub visit_status: Option<String>,
    pub attempts: i64,
    pub remote_id: Option<String>,
    pub spam_verdict: String,
    pub scrubbed: bool,
}

/// Filters of `enquiries list`; `None` means any.
#[derive(Clone, Debug, Default)]
pub struct EnquiryFilter {
    pub status: Option<String>,
    pub site: Option<String>,
    /// Received at or after this time (Unix ms).
    pub since: Option<i64>,
    pub limit: i64,
    /// Only enquiries of these sites (`--account`'s); `None` for every site.
    pub sites: Option<Vec<String>>,
}

/// An enquiry's stored row, for `enquiries show`. The payload is personal data.
#[derive(Clone, PartialEq, Eq)]
pub struct EnquiryRecord {
    pub id: String,
    pub site: String,
    pub received_at: i64,
    pub payload: Option<String>,
    pub spam_verdict: String,
    pub scrubbed_at: Option<i64>,
    /// The consent wording agreed to; kept after the payload is scrubbed.
    pub consent: Option<super::ConsentRecord>,
    /// Which way it came in (`hosted form`, `site form`, `webhook NAME`,
    /// `partner helparound`); `None` for enquiries stored before it was
    /// recorded (migration 0032 / PostgreSQL 0042).
    pub intake: Option<String>,
}

impl EnquiryRecord {
    /// Which way it came in, for staff: as recorded, or "not recorded" for
    /// an enquiry stored before it was.
    pub fn came_in(&self) -> &str {
        self.intake.as_deref().unwrap_or("not recorded")
    }
}

impl std::fmt::Debug for EnquiryRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnquiryRecord")
            .field("id", &self.id)
            .field("site", &self.site)
            .field("received_at", &self.received_at)
            .field("payload", &self.payload.as_ref().map(|_| "[redacted]"))
            .field("spam_verdict", &self.spam_verdict)
            .field("scrubbed_at", &self.scrubbed_at)
            .field("consent", &self.consent)
            .field("intake", &self.intake)
            .finish()
    }
}

type SummaryRow = (
    String,
    String,
    i64,
    Option<String>,
    Option<i64>,
    Option<String>,
    String,
    Option<i64>,
    Option<String>,
);

type RecordRow = (
    String,
    String,
    i64,
    Option<String>,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl Store {
    /// Enquiries, newest first, with the state of their care-enquiry and
    /// home-visit deliveries. A status filter matches either step, so
    /// `failed` also finds a failed visit and `waiting` a visit waiting for
    /// its enquiry.
    pub async fn list_enquiries(
        &self,
        filter: &EnquiryFilter,
    ) -> Result<Vec<EnquirySummary>, StoreError> {
        // Optional filters as "$n = '' OR …"; only the site list is spliced
        // in, as placeholders ($5 on), never as values. A status filter is
        // read where its rows are few: the unfinished from the status index,
        // the expired among the closed enquiries; synced (most rows) walks
        // the newest enquiries and stops at the limit.
        let status = match filter.status.as_deref() {
            None | Some("synced") => "($1 = '' OR d.status = $1 OR v.status = $1)",
            Some("expired") => "e.state = 'closed' AND (d.status = $1 OR v.status = $1)",
            Some(_) => "e.id IN (SELECT s.enquiry_id FROM deliveries s WHERE s.status = $1)",
        };
        let sql = format!(
            "SELECT e.id, e.site, e.received_at, d.status, d.attempts, d.remote_id, e.spam_verdict, e.scrubbed_at, v.status \
               FROM enquiries e LEFT JOIN deliveries d ON d.enquiry_id = e.id AND d.step = 'enquiry' \
               LEFT JOIN deliveries v ON v.enquiry_id = e.id AND v.step = 'home_visit' \
              WHERE {status} AND ($2 = '' OR e.site = $2) AND e.received_at >= $3 {} \
              ORDER BY e.received_at DESC, e.id DESC LIMIT $4",
            super::status::sites_clause("e.site", filter.sites.as_deref(), 5)
        );
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(filter.status.as_deref().unwrap_or(""))
            .bind(filter.site.as_deref().unwrap_or(""))
            .bind(filter.since.unwrap_or(0))
            .bind(filter.limit);
        for site in filter.sites.iter().flatten() {
            query = query.bind(site);
        }
        let mut conn = self.staff_read().await?;
        let rows: Vec<SummaryRow> = query.fetch_all(conn.as_mut()).await?;
        conn.done();
        Ok(rows
            .into_iter()
            .map(
                |(
                    id,
                    site,
                    received_at,
                    status,
                    attempts,
                    remote_id,
                    spam_verdict,
                    scrubbed,
                    visit_status,
                )| {
                    EnquirySummary {
                        id,
                        site,
                        received_at,
                        status: status.unwrap_or_else(|| "-".into()),
                        visit_status,
                        attempts: attempts.unwrap_or(0),
                        remote_id,
                        spam_verdict,
                        scrubbed: scrubbed.is_some(),
                    }
                },
            )
            .collect())
    }

    /// One enquiry's stored row (a staff read).
    pub async fn enquiry(&self, id: &EnquiryId) -> Result<Option<EnquiryRecord>, StoreError> {
        let mut conn = self.staff_read().await?;
        let row: Option<RecordRow> =
            sqlx::query_as(
                "SELECT id, site, received_at, payload, spam_verdict, scrubbed_at, consent_version, consent_sha256, intake \
                 FROM enquiries WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(conn.as_mut())
            .await?;
        conn.done();
        row.map(
            |(
                id,
                site,
                received_at,
                payload,
                spam_verdict,
                scrubbed_at,
                version,
                sha256,
                intake,
            )| {
                let payload = (self.sealing).open_opt(payload, Place::payload(&id))?;
                Ok(EnquiryRecord {
                    id,
                    site,
                    received_at,
                    payload,
                    spam_verdict,
                    scrubbed_at,
                    consent: version
                        .zip(sha256)
                        .map(|(version, sha256)| super::ConsentRecord { version, sha256 }),
                    intake,
                })
            },
        )
        .transpose()
    }

    /// Make an enquiry's failed deliveries pending again, due now. The attempt
    /// counter starts again from zero so the whole retry schedule applies; the
    /// attempts already made stay recorded. `pending_since` restarts too: the
    /// row's wait for CareHQ begins now, whenever it first arrived. Returns
    /// how many rows changed.
    pub async fn retry_failed(&self, enquiry_id: &EnquiryId) -> Result<u64, StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, updated_at = $1, pending_since = $1 \
             WHERE enquiry_id = $2 AND status = 'failed'",
        )
        .bind(now)
        .bind(enquiry_id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    /// [`Store::retry_failed`] for every failed delivery. Returns the
    /// (enquiry Id, step) of each row made pending, oldest enquiry first, so
    /// staff can see what is being sent again.
    pub async fn retry_all_failed(&self) -> Result<Vec<(String, String)>, StoreError> {
        let now = now_ms();
        let mut retried: Vec<(String, String)> = sqlx::query_as(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, updated_at = $1, pending_since = $1 \
             WHERE status = 'failed' RETURNING enquiry_id, step",
        )
        .bind(now)
        .fetch_all(&self.writer)
        .await?;
        // Enquiry Ids are UUIDv7: their order is the order they arrived in.
        retried.sort();
        Ok(retried)
    }

    /// Release an enquiry's held deliveries: pending, due now.
    pub async fn release_held(&self, enquiry_id: &EnquiryId) -> Result<u64, StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = $1, updated_at = $1, pending_since = $1 \
             WHERE enquiry_id = $2 AND status = 'held'",
        )
        .bind(now)
        .bind(enquiry_id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }
}
