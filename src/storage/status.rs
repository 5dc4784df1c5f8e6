//! Figures for staff: queue counts, ages and per-site totals behind `/status`
//! and `/metrics`. Read-only; every query uses the reader pool.

use super::models::DeliveryStatus;
use super::{Store, StoreError};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The queue at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueFigures {
    pub pending: i64,
    pub sending: i64,
    pub synced: i64,
    pub failed: i64,
    pub held: i64,
    /// Follow-up steps (home visits) waiting for their enquiry to be synced.
    pub waiting: i64,
    /// Held past `retention.held` with nobody releasing them: scrubbed, never sent.
    pub expired: i64,
    /// Deliveries that reached `synced` in the 24 h before `now`.
    pub synced_last_24h: i64,
    /// Since when the longest-waiting delivery (pending or sending) has
    /// waited: when it last became pending, not when it was created, so a
    /// staff retry or release of an old row starts its wait afresh.
    pub oldest_pending_at: Option<i64>,
}

impl QueueFigures {
    fn add(&mut self, status: &str, n: i64) {
        match status.parse::<DeliveryStatus>().ok() {
            Some(DeliveryStatus::Pending) => self.pending += n,
            Some(DeliveryStatus::Sending) => self.sending += n,
            Some(DeliveryStatus::Synced) => self.synced += n,
            Some(DeliveryStatus::Failed) => self.failed += n,
            Some(DeliveryStatus::Held) => self.held += n,
            Some(DeliveryStatus::Waiting) => self.waiting += n,
            Some(DeliveryStatus::Expired) => self.expired += n,
            None => {}
        }
    }

    /// The count for one state.
    pub fn count(&self, status: DeliveryStatus) -> i64 {
        match status {
            DeliveryStatus::Pending => self.pending,
            DeliveryStatus::Sending => self.sending,
            DeliveryStatus::Synced => self.synced,
            DeliveryStatus::Failed => self.failed,
            DeliveryStatus::Held => self.held,
            DeliveryStatus::Waiting => self.waiting,
            DeliveryStatus::Expired => self.expired,
        }
    }
}

/// Everything `/status` reads from the database.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatusFigures {
    pub total: QueueFigures,
    /// Per site slug, sorted by slug.
    pub sites: Vec<(String, QueueFigures)>,
    /// Per delivery step (`enquiry`, `home_visit`), sorted by step.
    pub steps: Vec<(String, QueueFigures)>,
    /// Deliveries with at least one send whose outcome is unknown.
    pub ambiguous: i64,
    /// Home visits waiting for an enquiry step that failed (their slot given back).
    pub visits_waiting_on_failed: i64,
    /// When CareHQ last gave a hint, and the enquiry it was about. The hint
    /// itself is not here: it can quote what the family typed, so it is
    /// shown only by `enquiries show` (and cleared by retention).
    pub last_hint: Option<(i64, String)>,
}

impl StatusFigures {
    /// The figures a row of `site` and `step` adds to: the total, the
    /// site's and the step's.
    fn queues(&mut self, site: &str, step: &str) -> [&mut QueueFigures; 3] {
        let StatusFigures {
            total,
            sites,
            steps,
            ..
        } = self;
        [total, entry(sites, site), entry(steps, step)]
    }

    /// Failed deliveries in words, by step: "2 enquiries and 1 home visit".
    pub fn failed_in_words(&self) -> String {
        let count = |step: &str| {
            self.steps
                .iter()
                .find(|(s, _)| s == step)
                .map_or(0, |(_, q)| q.failed)
        };
        let plural =
            |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let parts: Vec<String> = [
            (count("enquiry"), "enquiry", "enquiries"),
            (count("home_visit"), "home visit", "home visits"),
            (count("fallback_email"), "fallback email", "fallback emails"),
        ]
        .into_iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, one, many)| plural(n, one, many))
        .collect();
        match parts.as_slice() {
            // Figures read without the per-step split: say what is known.
            [] => plural(self.total.failed, "delivery", "deliveries"),
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        }
    }
}

/// The entry for `key` in a list of named figures, added when missing.
fn entry<'a>(list: &'a mut Vec<(String, QueueFigures)>, key: &str) -> &'a mut QueueFigures {
    let index = match list.iter().position(|(k, _)| k == key) {
        Some(i) => i,
        None => {
            list.push((key.to_owned(), QueueFigures::default()));
            list.len() - 1
        }
    };
    &mut list[index].1
}

/// `AND {column} IN ($first, …)` limiting a query to `sites`; nothing for
/// every site (`None`). An empty list matches nothing: an account without
/// sites sees none, not all. Its values are bound in order after the others.
pub(super) fn sites_clause(column: &str, sites: Option<&[String]>, first: usize) -> String {
    match sites {
        None => String::new(),
        Some([]) => "AND 1 = 0".to_owned(),
        Some(sites) => {
            let list: Vec<String> = (first..first + sites.len())
                .map(|n| format!("${n}"))
                .collect();
            format!("AND {column} IN ({})", list.join(", "))
        }
    }
}

impl Store {
    /// Queue figures overall and per site, as of `now` (Unix ms).
    pub async fn status_figures(&self, now: i64) -> Result<StatusFigures, StoreError> {
        self.status_figures_of(now, None).await
    }

    /// [`Store::status_figures`] over the enquiries of `sites` only (every
    /// site for `None`): what an account's staff token sees.
    ///
    /// Callers asking at once share one reading (see `figures_once`).
    pub async fn status_figures_of(
        &self,
        now: i64,
        sites: Option<&[String]>,
    ) -> Result<StatusFigures, StoreError> {
        let once = std::sync::Arc::clone(&self.figures_once);
        once.get(sites, || self.read_status_figures(now, sites))
            .await
    }

    async fn read_status_figures(
        &self,
        now: i64,
        sites: Option<&[String]>,
    ) -> Result<StatusFigures, StoreError> {
        let only = sites.unwrap_or_default();
        let mut conn = self.staff_read().await?;
        let mut figures = StatusFigures::default();
        // What is unfinished, from the status index: small whatever the
        // history. Count and the longest wait per (site, step, status).
        // CROSS JOIN keeps SQLite's planner on the deliveries first (with
        // statistics it would rather scan every enquiry of the homes).
        let sql = format!(
            "SELECT e.site, d.step, d.status, COUNT(*), MIN(COALESCE(d.pending_since, d.created_at)) \
               FROM deliveries d CROSS JOIN enquiries e \
              WHERE e.id = d.enquiry_id AND d.status IN ('pending', 'sending', 'waiting', 'failed', 'held') {} \
              GROUP BY 1, 2, 3",
            sites_clause("e.site", sites, 1)
        );
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for site in only {
            query = query.bind(site);
        }
        let rows: Vec<(String, String, String, i64, Option<i64>)> =
            query.fetch_all(conn.as_mut()).await?;
        for (site, step, status, n, oldest) in rows {
            let waiting = matches!(status.as_str(), "pending" | "sending");
            for queue in figures.queues(&site, &step) {
                queue.add(&status, n);
                if waiting {
                    queue.oldest_pending_at = match (queue.oldest_pending_at, oldest) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
            }
        }
        // What is finished (most of history): the totals the triggers of
        // migration 0018 keep.
        let sql = format!(
            "SELECT site, step, status, n FROM delivery_totals WHERE n <> 0 {}",
            sites_clause("site", sites, 1)
        );
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for site in only {
            query = query.bind(site);
        }
        let rows: Vec<(String, String, String, i64)> = query.fetch_all(conn.as_mut()).await?;
        for (site, step, status, n) in rows {
            for queue in figures.queues(&site, &step) {
                queue.add(&status, n);
            }
        }
        // Synced in the last day: a range of a partial index on the synced
        // (named for SQLite, which would take the status index and walk
        // every synced row).
        let sql = format!(
            "SELECT e.site, d.step, COUNT(*) FROM deliveries d {} CROSS JOIN enquiries e \
              WHERE e.id = d.enquiry_id AND d.status = 'synced' AND d.updated_at >= $1 {} GROUP BY 1, 2",
            self.indexed_by("deliveries_synced_at"),
            sites_clause("e.site", sites, 2)
        );
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(now - DAY_MS);
        for site in only {
            query = query.bind(site);
        }
        let rows: Vec<(String, String, i64)> = query.fetch_all(conn.as_mut()).await?;
        for (site, step, n) in rows {
            for queue in figures.queues(&site, &step) {
                queue.synced_last_24h += n;
            }
        }
        // From the partial index on `ambiguous > 0`; the enquiries are
        // joined only to tell an account's homes apart.
        let sql = match sites {
            None => "SELECT COUNT(*) FROM deliveries d WHERE d.ambiguous > 0".to_owned(),
            Some(_) => format!(
                "SELECT COUNT(*) FROM deliveries d JOIN enquiries e ON e.id = d.enquiry_id \
                 WHERE d.ambiguous > 0 {}",
                sites_clause("e.site", sites, 1)
            ),
        };
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for site in only {
            query = query.bind(site);
        }
        let (ambiguous,): (i64,) = query.fetch_one(conn.as_mut()).await?;
        figures.ambiguous = ambiguous;
        let sql = format!(
            "SELECT COUNT(*) FROM deliveries w JOIN enquiries e ON e.id = w.enquiry_id \
             WHERE w.step = 'home_visit' AND w.status = 'waiting' {} \
             AND EXISTS (SELECT 1 FROM deliveries f WHERE f.enquiry_id = w.enquiry_id \
                          AND f.step = 'enquiry' AND f.status = 'failed')",
            sites_clause("e.site", sites, 1)
        );
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for site in only {
            query = query.bind(site);
        }
        let (stuck,): (i64,) = query.fetch_one(conn.as_mut()).await?;
        figures.visits_waiting_on_failed = stuck;
        figures.sites.sort_by(|a, b| a.0.cmp(&b.0));
        figures.steps.sort_by(|a, b| a.0.cmp(&b.0));
        let sql = format!(
            "SELECT a.started_at, d.enquiry_id FROM delivery_attempts a \
             JOIN deliveries d ON d.id = a.delivery_id JOIN enquiries e ON e.id = d.enquiry_id \
             WHERE a.hint IS NOT NULL {} \
             ORDER BY a.started_at DESC LIMIT 1",
            sites_clause("e.site", sites, 1)
        );
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for site in only {
            query = query.bind(site);
        }
        figures.last_hint = query.fetch_optional(conn.as_mut()).await?;
        conn.done();
        Ok(figures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_deliveries_are_named_by_step() {
        let failed = |n| QueueFigures {
            failed: n,
            ..QueueFigures::default()
        };
        let mut figures = StatusFigures::default();
        figures.total.failed = 3;
        assert_eq!(figures.failed_in_words(), "3 deliveries");
        figures.steps = vec![
            ("enquiry".into(), failed(2)),
            ("home_visit".into(), failed(1)),
        ];
        assert_eq!(figures.failed_in_words(), "2 enquiries and 1 home visit");
        figures.steps = vec![("home_visit".into(), failed(2))];
        assert_eq!(figures.failed_in_words(), "2 home visits");
        figures.steps = vec![("enquiry".into(), failed(1))];
        assert_eq!(figures.failed_in_words(), "1 enquiry");
    }
}
