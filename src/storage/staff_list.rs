//! The staff console's view of enquiries: one state per enquiry (from all of
//! its delivery steps), filters by state, home and date, search by name,
//! email or phone, pages; and the rows behind the overview. Read-only.

use super::status::sites_clause;
use super::{Store, StoreError};

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
    /// The search reads the stored enquiries in Rust, not SQL: they may be
    /// sealed (`database.encryption_key_file`), and one code path serves both.
    pub async fn staff_enquiries(
        &self,
        filter: &StaffFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<StaffRow>, StoreError> {
        let search = Search::new(filter.search.as_deref());
        let sites = filter.sites.as_deref();
        let paging = 5 + sites.map_or(0, <[String]>::len);
        let base = format!(
            "SELECT id, site, received_at, state, next_at, payload FROM ( \
               SELECT e.id, e.site, e.received_at, {STATE} AS state, {NEXT_ATTEMPT} AS next_at, e.payload \
               FROM enquiries e) x \
             WHERE ($1 = '' OR state = $1) AND ($2 = '' OR site = $2) \
               AND received_at >= $3 AND received_at < $4 {} \
             ORDER BY received_at DESC, id DESC",
            sites_clause("site", sites, 5),
        );
        // Without a search the database pages; with one, every row the other
        // filters leave is read and matched here, then paged.
        let sql = match search {
            None => format!("{base} LIMIT ${paging} OFFSET ${}", paging + 1),
            Some(_) => base,
        };
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(filter.state.map_or("", EnquiryState::as_str))
            .bind(filter.site.as_deref().unwrap_or(""))
            .bind(filter.from.unwrap_or(0))
            .bind(filter.until.unwrap_or(i64::MAX));
        for site in sites.into_iter().flatten() {
            query = query.bind(site.as_str());
        }
        let query = match search {
            None => query.bind(limit.max(0)).bind(offset.max(0)),
            Some(_) => query,
        };
        let rows: Vec<Row> = query.fetch_all(&self.reader).await?;
        let mut found = Vec::new();
        for (id, site, received_at, state, next_attempt_at, payload) in rows {
            let payload = self.sealing.open_opt(payload)?;
            if let Some(search) = &search
                && !payload.as_deref().is_some_and(|p| search.matches(p))
            {
                continue;
            }
            found.push(StaffRow {
                state: EnquiryState::parse(&state)
                    .ok_or_else(|| StoreError::Corrupt(format!("enquiry state `{state}`")))?,
                id,
                site,
                received_at,
                next_attempt_at,
                payload,
            });
        }
        if search.is_some() {
            let skip = usize::try_from(offset.max(0)).unwrap_or(usize::MAX);
            let take = usize::try_from(limit.max(0)).unwrap_or(usize::MAX);
            found = found.into_iter().skip(skip).take(take).collect();
        }
        Ok(found)
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

/// A console search: part of a name, email address or phone number, lower
/// case, matched as typed or without spaces (so "01632960123" finds
/// "01632 960123").
#[derive(Debug, PartialEq, Eq)]
struct Search {
    text: String,
    compact: String,
}

impl Search {
    /// `None` when there is nothing to search for.
    fn new(search: Option<&str>) -> Option<Search> {
        let text = search
            .map(str::trim)
            .filter(|s| !s.is_empty())?
            .to_lowercase();
        let compact = text.replace(' ', "");
        Some(Search { text, compact })
    }

    /// Whether the stored enquiry's names, email or phone hold the search.
    fn matches(&self, payload: &str) -> bool {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(payload) else {
            return false;
        };
        let field = |name: &str| value.get(name).and_then(|v| v.as_str()).unwrap_or("");
        let haystack = format!(
            "{} {} {} {}",
            field("first_name"),
            field("last_name"),
            field("email"),
            field("phone")
        )
        .to_lowercase();
        haystack.contains(&self.text) || haystack.replace(' ', "").contains(&self.compact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_matches_names_and_contacts_literally_with_or_without_spaces() {
        assert_eq!(Search::new(None), None);
        assert_eq!(Search::new(Some("  ")), None);
        let payload = r#"{"first_name":"Zoë","last_name":"O'Brien","email":"Zoe@Example.com",
            "phone":"01632 960123","message":"5% off"}"#;
        let found = |text: &str| Search::new(Some(text)).unwrap().matches(payload);
        assert!(found("o'brien"));
        assert!(found("ZOE@example"));
        assert!(found("01632960123"), "spaces dropped");
        assert!(found("zoë o'brien"), "first and last name together");
        assert!(!found("5%"), "the message is not searched");
        assert!(!found("o_brien"), "no wildcards: _ is a character");
        assert!(!Search::new(Some("x")).unwrap().matches("not json"));
    }

    #[test]
    fn states_read_back_as_written() {
        for state in EnquiryState::ALL {
            assert_eq!(EnquiryState::parse(state.as_str()), Some(state));
        }
    }
}
