//! The staff console's view of enquiries: one state per enquiry (from all of
//! its delivery steps), filters by state, home and date, search by name,
//! email or phone, pages; and the rows behind the overview. Read-only.

use super::status::sites_clause;
use super::{Backend, Store, StoreError};

/// An enquiry's state as staff see it, over all its delivery steps: a
/// failed step makes the enquiry failed, then held, then waiting, and it is
/// sent once every step is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnquiryState {
    Sent,
    Waiting,
    Failed,
    Held,
    /// Never sent and never will be: deleted by staff or expired while held.
    Closed,
}

impl EnquiryState {
    pub const ALL: [EnquiryState; 5] = [
        EnquiryState::Sent,
        EnquiryState::Waiting,
        EnquiryState::Failed,
        EnquiryState::Held,
        EnquiryState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EnquiryState::Sent => "sent",
            EnquiryState::Waiting => "waiting",
            EnquiryState::Failed => "failed",
            EnquiryState::Held => "held",
            EnquiryState::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<EnquiryState> {
        EnquiryState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// The state of enquiry `e`, as SQL (see [`EnquiryState`]).
const STATE: &str = "CASE \
  WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND d.status = 'failed') THEN 'failed' \
  WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND d.status = 'held') THEN 'held' \
  WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND d.status IN ('pending', 'sending', 'waiting')) THEN 'waiting' \
  WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND d.status = 'expired') THEN 'closed' \
  ELSE 'sent' END";

/// When the next attempt of `e` is due, if one is.
const NEXT_ATTEMPT: &str = "(SELECT MIN(d.next_attempt_at) FROM deliveries d \
  WHERE d.enquiry_id = e.id AND d.status IN ('pending', 'sending'))";

/// What the list shows; `None` means any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaffFilter {
    pub state: Option<EnquiryState>,
    pub site: Option<String>,
    /// Received at or after (Unix ms).
    pub from: Option<i64>,
    /// Received before (Unix ms).
    pub until: Option<i64>,
    /// Part of a name, email address or phone number.
    pub search: Option<String>,
    /// Only enquiries of these sites (an account's staff token's); `None`
    /// for every site. Applies on top of `site`.
    pub sites: Option<Vec<String>>,
}

/// One line of the list. Names and contact details are personal data: they
/// are shown to signed-in staff and never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffRow {
    pub id: String,
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
    /// Up to `limit` enquiries matching `filter`, newest first, skipping `offset`.
    pub async fn staff_enquiries(
        &self,
        filter: &StaffFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<StaffRow>, StoreError> {
        let sql = format!(
            "SELECT id, site, received_at, state, next_at, payload FROM ( \
               SELECT e.id, e.site, e.received_at, {STATE} AS state, {NEXT_ATTEMPT} AS next_at, e.payload, \
                      {search} AS haystack FROM enquiries e) x \
             WHERE ($1 = '' OR state = $1) AND ($2 = '' OR site = $2) \
               AND received_at >= $3 AND received_at < $4 \
               AND ($5 = '' OR haystack LIKE $5 ESCAPE '\\' OR REPLACE(haystack, ' ', '') LIKE $6 ESCAPE '\\') \
               {sites} \
             ORDER BY received_at DESC, id DESC LIMIT $7 OFFSET $8",
            search = searchable(self.backend),
            sites = sites_clause("site", filter.sites.as_deref(), 9),
        );
        let (like, compact) = patterns(filter.search.as_deref());
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(filter.state.map_or("", EnquiryState::as_str))
            .bind(filter.site.as_deref().unwrap_or(""))
            .bind(filter.from.unwrap_or(0))
            .bind(filter.until.unwrap_or(i64::MAX))
            .bind(like)
            .bind(compact)
            .bind(limit.max(0))
            .bind(offset.max(0));
        for site in filter.sites.iter().flatten() {
            query = query.bind(site);
        }
        let rows: Vec<Row> = query.fetch_all(&self.reader).await?;
        rows.into_iter()
            .map(|(id, site, received_at, state, next_attempt_at, payload)| {
                Ok(StaffRow {
                    state: EnquiryState::parse(&state)
                        .ok_or_else(|| StoreError::Corrupt(format!("enquiry state `{state}`")))?,
                    id,
                    site,
                    received_at,
                    next_attempt_at,
                    payload,
                })
            })
            .collect()
    }

    /// Site, arrival and state of every enquiry received at or after `since`
    /// (Unix ms), of `sites` only (every site for `None`): what the overview
    /// counts and charts.
    pub async fn staff_states_since(
        &self,
        since: i64,
        sites: Option<&[String]>,
    ) -> Result<Vec<(String, i64, EnquiryState)>, StoreError> {
        let sql = format!(
            "SELECT e.site, e.received_at, {STATE} FROM enquiries e WHERE e.received_at >= $1 {}",
            sites_clause("e.site", sites, 2)
        );
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(since);
        for site in sites.unwrap_or_default() {
            query = query.bind(site);
        }
        let rows: Vec<(String, i64, String)> = query.fetch_all(&self.reader).await?;
        rows.into_iter()
            .map(|(site, at, state)| {
                let state = EnquiryState::parse(&state)
                    .ok_or_else(|| StoreError::Corrupt(format!("enquiry state `{state}`")))?;
                Ok((site, at, state))
            })
            .collect()
    }
}

/// The searchable text of `e`: names, email and phone, lower case. Each
/// dialect reads JSON its own way; a scrubbed enquiry has none.
fn searchable(backend: Backend) -> String {
    let field = |name: &str| match backend {
        Backend::Sqlite => format!("COALESCE(json_extract(e.payload, '$.{name}'), '')"),
        Backend::Postgres => format!("COALESCE(e.payload::jsonb ->> '{name}', '')"),
    };
    format!(
        "LOWER({} || ' ' || {} || ' ' || {} || ' ' || {})",
        field("first_name"),
        field("last_name"),
        field("email"),
        field("phone")
    )
}

/// `LIKE` patterns for a search: as typed, and without spaces (so
/// "01632960123" finds "01632 960123"). Empty when there is no search.
fn patterns(search: Option<&str>) -> (String, String) {
    let Some(text) = search.map(str::trim).filter(|s| !s.is_empty()) else {
        return (String::new(), String::new());
    };
    let escaped: String = text
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    let compact: String = escaped.chars().filter(|c| *c != ' ').collect();
    (format!("%{escaped}%"), format!("%{compact}%"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_patterns_escape_wildcards_and_drop_spaces() {
        assert_eq!(patterns(None), (String::new(), String::new()));
        assert_eq!(patterns(Some("  ")), (String::new(), String::new()));
        assert_eq!(
            patterns(Some("O'Brien 5%")),
            ("%o'brien 5\\%%".into(), "%o'brien5\\%%".into())
        );
    }

    #[test]
    fn states_read_back_as_written() {
        for state in EnquiryState::ALL {
            assert_eq!(EnquiryState::parse(state.as_str()), Some(state));
        }
    }
}
