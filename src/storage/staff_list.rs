//! The staff console's view of enquiries: one state per enquiry (stored,
//! kept from all of its delivery steps by migration 0018's triggers),
//! filters by state, home and date, search by name word, email or phone,
//! keyset pages; and the counts behind the overview. Read-only, and bounded
//! by what a page or a window shows, never by how many enquiries are stored.

use super::models::EnquiryId;
use super::sealing::Place;
use super::search_terms::TermQuery;
use super::status::sites_clause;
use super::{Store, StoreError};

/// An enquiry's state as staff see it, over all its delivery steps: a
/// failed step makes the enquiry failed, then held, then waiting, and it is
/// sent once every step is.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum EnquiryState {
    Sent,
    Waiting,
    Failed,
    Held,
    /// Never sent and never will be: deleted by staff or expired while held.
    Closed,
}

impl EnquiryState {
    /// Its text in `enquiries.state` and in the list's filter.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// When the next attempt of page row `p` is due, if one is: read for the rows of a
/// page only (a correlated subquery on the step index, per row shown).
/// The status test sits in the CASE, not the WHERE: as a WHERE term SQLite's
/// planner (without statistics) read it from the status index, walking
/// every waiting delivery for each row shown (55 ms a 500-row chunk with
/// 300 waiting).
const NEXT_ATTEMPT: &str = "(SELECT MIN(CASE WHEN d.status IN ('pending', 'sending') \
  THEN d.next_attempt_at END) FROM deliveries d WHERE d.enquiry_id = p.id)";

/// What the list shows; `None` means any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaffFilter {
    pub state: Option<EnquiryState>,
    pub site: Option<String>,
    /// Received at or after (Unix ms).
    pub from: Option<i64>,
    /// Received before (Unix ms).
    pub until: Option<i64>,
    /// A whole name word, email address or phone number (see
    /// `search_terms`); matched through the lookup terms, never by reading
    /// the stored enquiries.
    pub search: Option<String>,
    /// Only enquiries of these sites (an account's staff token's); `None`
    /// for every site. Applies on top of `site`.
    pub sites: Option<Vec<String>>,
}

/// A row of the list as a place to page from: its arrival and id, the
/// list's order (newest first, ties by id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub received_at: i64,
    pub id: String,
}

impl Cursor {
    /// The cursor of a row shown.
    pub fn of(row: &StaffRow) -> Cursor {
        Cursor {
            received_at: row.received_at,
            id: row.id.to_string(),
        }
    }

    /// As it travels in a link: `<received_at>_<id>`.
    pub fn to_param(&self) -> String {
        format!("{}_{}", self.received_at, self.id)
    }

    /// A link's cursor; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Cursor> {
        let (at, id) = text.split_once('_')?;
        let valid_id = !id.is_empty()
            && id.len() <= 64
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        Some(Cursor {
            received_at: at.parse().ok()?,
            id: valid_id.then(|| id.to_owned())?,
        })
    }
}

/// Which page of the list: the newest, or the rows just older or just newer
/// than a row shown. Every page is read from an index at its cursor, so
/// page 500 costs what page 1 does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Page {
    #[default]
    Newest,
    Older(Cursor),
    Newer(Cursor),
}

/// One line of the list. Names and contact details are personal data: they
/// are shown to signed-in staff and never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffRow {
    pub id: EnquiryId,
    pub site: String,
    pub received_at: i64,
    pub state: EnquiryState,
    pub next_attempt_at: Option<i64>,
    /// The stored enquiry (JSON); `None` once scrubbed.
    pub payload: Option<String>,
}

impl std::fmt::Debug for StaffRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffRow")
            .field("id", &self.id)
            .field("site", &self.site)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

type Row = (String, String, i64, String, Option<i64>, Option<String>);

impl Store {
    /// Up to `limit` enquiries matching `filter` on `page`, newest first.
    ///
    /// One statement, bounded by `limit` and never by the table: the stored
    /// state, the home and the keyset `(received_at, id)` are read from an
    /// index that ends in that order; an account's homes are read one range
    /// each (at most `limit` rows per home) and merged; a search is driven
    /// by the lookup terms of its words.
    pub async fn staff_enquiries(
        &self,
        filter: &StaffFilter,
        limit: i64,
        page: &Page,
    ) -> Result<Vec<StaffRow>, StoreError> {
        let Some(sites) = sites_to_read(filter) else {
            return Ok(Vec::new());
        };
        let words = match filter.search.as_deref() {
            None => None,
            Some(text) => match self.term_query(text) {
                Some(words) if words.0.iter().all(|word| !word.is_empty()) => Some(words),
                // Nothing in it can match a stored term (punctuation only).
                _ => return Ok(Vec::new()),
            },
        };
        let newer = matches!(page, Page::Newer(_));
        let mut list = ListQuery::default();
        let sql = list.build(filter, &sites, words.as_ref(), page, limit.max(0));
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for value in list.binds {
            query = match value {
                Bind::Text(text) => query.bind(text),
                Bind::Int(n) => query.bind(n),
            };
        }
        let mut conn = self.staff_read().await?;
        let rows: Vec<Row> = query.fetch_all(conn.as_mut()).await?;
        conn.done();
        let mut found = rows
            .into_iter()
            .map(|(id, site, received_at, state, next_attempt_at, payload)| {
                Ok(StaffRow {
                    state: (state.parse::<EnquiryState>())
                        .map_err(|_| StoreError::Corrupt(format!("enquiry state `{state}`")))?,
                    payload: (self.sealing).open_opt(payload, Place::payload(&id))?,
                    id: EnquiryId::from_stored(id),
                    site,
                    received_at,
                    next_attempt_at,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        if newer {
            found.reverse();
        }
        Ok(found)
    }

    /// Enquiries received at or after `since` (Unix ms), of `sites` only
    /// (every site for `None`), counted per site, UTC day (days since
    /// `since`) and state: what the overview's windows and chart show.
    /// Reads the covering index `(received_at, id, site, state)` over the
    /// window: the cost of the window's enquiries, not of history.
    pub async fn staff_day_counts(
        &self,
        since: i64,
        sites: Option<&[String]>,
    ) -> Result<Vec<DayCount>, StoreError> {
        // Named for SQLite, whose planner (without statistics, or with them
        // on a table this skewed) may prefer scanning a home index whole.
        let sql = format!(
            "SELECT e.site, (e.received_at - $1) / {DAY_MS}, e.state, COUNT(*) FROM enquiries e {} \
             WHERE e.received_at >= $1 {} GROUP BY 1, 2, 3",
            self.indexed_by("enquiries_received"),
            sites_clause("e.site", sites, 2)
        );
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(since);
        for site in sites.unwrap_or_default() {
            query = query.bind(site);
        }
        let mut conn = self.staff_read().await?;
        let rows: Vec<(String, i64, String, i64)> = query.fetch_all(conn.as_mut()).await?;
        conn.done();
        rows.into_iter()
            .map(|(site, day, state, count)| {
                let state = (state.parse::<EnquiryState>())
                    .map_err(|_| StoreError::Corrupt(format!("enquiry state `{state}`")))?;
                Ok(DayCount {
                    site,
                    day,
                    state,
                    count,
                })
            })
            .collect()
    }
}

/// Enquiries of one home, one UTC day and one state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayCount {
    pub site: String,
    /// Whole days since the start asked for (0 = that day).
    pub day: i64,
    pub state: EnquiryState,
    pub count: i64,
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The homes a list reads: `Some(None)` every home, `Some(Some(list))`
/// those, `None` none at all (a home outside the account's, or an account
/// without homes).
fn sites_to_read(filter: &StaffFilter) -> Option<Option<Vec<String>>> {
    match (&filter.site, &filter.sites) {
        (None, None) => Some(None),
        (Some(site), None) => Some(Some(vec![site.clone()])),
        (None, Some(sites)) if sites.is_empty() => None,
        (None, Some(sites)) => Some(Some(sites.clone())),
        (Some(site), Some(sites)) => sites.contains(site).then(|| Some(vec![site.clone()])),
    }
}

/// A value bound to a `$n` of a [`ListQuery`].
enum Bind {
    Text(String),
    Int(i64),
}

/// Where one index range of the list reads: one home (or every home), one
/// search term (or none).
#[derive(Clone, Copy)]
struct Range<'a> {
    site: Option<&'a String>,
    term: Option<&'a String>,
}

/// The list's statement, written for its filter so each planner sees plain
/// equalities and ranges it can serve from an index (no `$1 = '' OR …`).
#[derive(Default)]
struct ListQuery {
    binds: Vec<Bind>,
}

impl ListQuery {
    fn param(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn build(
        &mut self,
        filter: &StaffFilter,
        sites: &Option<Vec<String>>,
        words: Option<&TermQuery>,
        page: &Page,
        limit: i64,
    ) -> String {
        let order = match page {
            Page::Newer(_) => "ASC",
            _ => "DESC",
        };
        let homes: Vec<Option<&String>> = match sites {
            None => vec![None],
            Some(sites) => sites.iter().map(Some).collect(),
        };
        // A search's first word under each key it may be stored with.
        let firsts: Vec<Option<&String>> = match words {
            None => vec![None],
            Some(words) => words.0.first().into_iter().flatten().map(Some).collect(),
        };
        let others = words.map_or(&[][..], |w| w.0.get(1..).unwrap_or_default());
        // One index range per home and first term, each at most a page and
        // read in the list's order from its cursor, merged: an IN list would
        // make the planner sort every row of those homes (or every match of
        // a common surname) before the first page.
        let mut ranges = Vec::new();
        for home in &homes {
            for first in &firsts {
                let range = Range {
                    site: *home,
                    term: *first,
                };
                ranges.push(self.one_range(filter, range, others, page, limit, order));
            }
        }
        let rows = match ranges.as_slice() {
            [one] => one.clone(),
            _ => {
                let parts: Vec<String> = (ranges.iter().enumerate())
                    .map(|(n, range)| format!("SELECT * FROM ({range}) AS r{n}"))
                    .collect();
                let limit = self.param(Bind::Int(limit));
                format!(
                    "{} ORDER BY received_at {order}, id {order} LIMIT {limit}",
                    parts.join(" UNION ALL ")
                )
            }
        };
        // The next attempt is read for the rows of the page only.
        format!(
            "SELECT p.id, p.site, p.received_at, p.state, {NEXT_ATTEMPT}, p.payload FROM ({rows}) AS p \
             ORDER BY p.received_at {order}, p.id {order}"
        )
    }

    /// One index range: of one home (or every home), or of one search term,
    /// from the page's cursor.
    fn one_range(
        &mut self,
        filter: &StaffFilter,
        range: Range<'_>,
        others: &[Vec<String>],
        page: &Page,
        limit: i64,
        order: &str,
    ) -> String {
        // A search walks its first word's term in arrival order (the
        // term's key ends in it); otherwise the enquiries' own indexes.
        let (from, at, id) = match range.term {
            Some(_) => (
                "enquiry_terms t JOIN enquiries e ON e.id = t.enquiry_id",
                "t.received_at",
                "t.enquiry_id",
            ),
            None => ("enquiries e", "e.received_at", "e.id"),
        };
        let mut conditions = Vec::new();
        if let Some(term) = range.term {
            let p = self.param(Bind::Text(term.clone()));
            conditions.push(format!("t.term = {p}"));
        }
        for word in others {
            let list = self.list(word);
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM enquiry_terms u WHERE u.enquiry_id = e.id AND u.term IN ({list}))"
            ));
        }
        if let Some(state) = filter.state {
            let p = self.param(Bind::Text(state.as_str().to_owned()));
            conditions.push(format!("e.state = {p}"));
        }
        if let Some(site) = range.site {
            let p = self.param(Bind::Text(site.clone()));
            conditions.push(format!("e.site = {p}"));
        }
        // A cursor inside the dates implies the date bound on its side; that
        // bound is then left out, as SQLite would take it for the range and
        // scan from the date to the cursor on every page (an export of
        // 100,000 rows: 10.6 s instead of 0.7).
        let implied = |bound: i64, older: bool| match page {
            Page::Older(cursor) => older && cursor.received_at < bound,
            Page::Newer(cursor) => !older && cursor.received_at >= bound,
            Page::Newest => false,
        };
        if let Some(from) = filter.from.filter(|&from| !implied(from, false)) {
            let p = self.param(Bind::Int(from));
            conditions.push(format!("{at} >= {p}"));
        }
        if let Some(until) = filter.until.filter(|&until| !implied(until, true)) {
            let p = self.param(Bind::Int(until));
            conditions.push(format!("{at} < {p}"));
        }
        if let Page::Older(cursor) | Page::Newer(cursor) = page {
            let compare = if order == "ASC" { ">" } else { "<" };
            let a = self.param(Bind::Int(cursor.received_at));
            let b = self.param(Bind::Text(cursor.id.clone()));
            conditions.push(format!("({at}, {id}) {compare} ({a}, {b})"));
        }
        let conditions = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let limit = self.param(Bind::Int(limit));
        format!(
            "SELECT e.id AS id, e.site AS site, e.received_at AS received_at, e.state AS state, \
             e.payload AS payload FROM {from} {conditions} ORDER BY {at} {order}, {id} {order} LIMIT {limit}"
        )
    }

    /// `$a, $b, …` binding each of `values`.
    fn list(&mut self, values: &[String]) -> String {
        let params: Vec<String> = values
            .iter()
            .map(|v| self.param(Bind::Text(v.clone())))
            .collect();
        params.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use strum::VariantArray;

    #[test]
    fn states_read_back_as_written() {
        let names: Vec<&str> = EnquiryState::VARIANTS.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["sent", "waiting", "failed", "held", "closed"]);
        for &state in EnquiryState::VARIANTS {
            assert_eq!(state.as_str().parse(), Ok(state));
        }
    }
}
