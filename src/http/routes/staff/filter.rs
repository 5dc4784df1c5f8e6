//! The list's filter as it travels: the query string of `/staff/enquiries`
//! and `/staff/export.csv`, the hidden fields of "retry all", and the
//! storage filter it stands for. Dates are whole UTC days.

use serde::Deserialize;

use super::error::StaffError;
use crate::http::staff_auth::StaffScope;
use crate::storage::{Cursor, EnquiryState, Page, StaffFilter};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// `?state=&site=&from=&to=&q=` and the page: `after=` (older than) or
/// `before=` (newer than) a row's cursor, with `page=` its number for the
/// caption; every field optional, empty = any, no cursor = the newest.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct FilterQuery {
    /// `state=`, or `status=`: the name the contract gives the filter
    /// (docs/design.md, "Staff console": `/staff/enquiries?status=failed`), so
    /// links and bookmarks written to it filter too instead of showing
    /// everything. Both at once are refused as an address not understood.
    /// Links the console makes say `state=`.
    #[serde(default, alias = "status")]
    pub state: String,
    #[serde(default)]
    pub site: String,
    /// First day, `YYYY-MM-DD`.
    #[serde(default)]
    pub from: String,
    /// Last day (included), `YYYY-MM-DD`.
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub page: Option<u32>,
    #[serde(default)]
    pub after: String,
    #[serde(default)]
    pub before: String,
}

impl FilterQuery {
    /// The storage filter; a bad value is named with what to type instead.
    pub fn to_filter(&self) -> Result<StaffFilter, StaffError> {
        let state = match self.state.trim() {
            "" => None,
            text => Some(text.parse::<EnquiryState>().map_err(|_| {
                StaffError::BadRequest(format!(
                    "\"{text}\" is not a state; choose Sent, Waiting, Failed or Held in the list's filter."
                ))
            })?),
        };
        let from = day(&self.from, "From")?;
        let until = day(&self.to, "To")?.map(|start| start + DAY_MS);
        Ok(StaffFilter {
            state,
            site: Some(self.site.trim().to_owned()).filter(|s| !s.is_empty()),
            from,
            until,
            search: Some(self.q.trim().to_owned()).filter(|s| !s.is_empty()),
            sites: None,
        })
    }

    /// [`FilterQuery::to_filter`] limited to what `scope` sees: an account's
    /// staff see its homes' enquiries only, whatever the address asks for.
    pub fn to_filter_within(&self, scope: &StaffScope) -> Result<StaffFilter, StaffError> {
        Ok(StaffFilter {
            sites: scope.sites().map(<[String]>::to_vec),
            ..self.to_filter()?
        })
    }

    /// The query string of this filter (without the page), for links.
    pub fn query_string(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("state", &self.state),
            ("site", &self.site),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
        ] {
            if !value.trim().is_empty() {
                out.append_pair(key, value.trim());
            }
        }
        out.finish()
    }

    pub fn page(&self) -> u32 {
        self.page.unwrap_or(1).max(1)
    }

    /// Which page of the list the address asks for.
    pub fn page_from(&self) -> Result<Page, StaffError> {
        let cursor = |text: &str| {
            Cursor::parse(text.trim()).ok_or_else(|| {
                StaffError::BadRequest(
                    "The page link is not understood; open Enquiries from the menu and page from there."
                        .into(),
                )
            })
        };
        match (self.after.trim(), self.before.trim()) {
            ("", "") => Ok(Page::Newest),
            (after, "") => Ok(Page::Older(cursor(after)?)),
            ("", before) => Ok(Page::Newer(cursor(before)?)),
            _ => Err(StaffError::BadRequest(
                "The page link asks for two pages at once; open Enquiries from the menu and page from there."
                    .into(),
            )),
        }
    }
}

/// `YYYY-MM-DD` → the day's first Unix ms (UTC); empty → none.
fn day(text: &str, label: &str) -> Result<Option<i64>, StaffError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, format).map_err(|_| {
        StaffError::BadRequest(format!(
            "{label} \"{text}\" is not a date; use the date picker or type it as YYYY-MM-DD, e.g. 2026-03-01."
        ))
    })?;
    let start = date.midnight().assume_utc().unix_timestamp() * 1000;
    Ok(Some(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_whole_utc_days_and_the_last_is_included() {
        let query = FilterQuery {
            from: "1970-01-02".into(),
            to: "1970-01-02".into(),
            state: "failed".into(),
            ..FilterQuery::default()
        };
        let filter = query.to_filter().unwrap();
        assert_eq!(filter.from, Some(DAY_MS));
        assert_eq!(filter.until, Some(2 * DAY_MS));
        assert_eq!(filter.state, Some(EnquiryState::Failed));
        assert!(
            FilterQuery {
                from: "02/01/1970".into(),
                ..FilterQuery::default()
            }
            .to_filter()
            .is_err()
        );
        assert!(
            FilterQuery {
                state: "lost".into(),
                ..FilterQuery::default()
            }
            .to_filter()
            .is_err()
        );
    }

    #[test]
    fn a_page_is_its_cursor_and_a_bad_one_is_named() {
        let query = |after: &str, before: &str| FilterQuery {
            after: after.into(),
            before: before.into(),
            ..FilterQuery::default()
        };
        assert_eq!(query("", "").page_from().unwrap(), Page::Newest);
        let cursor = Cursor {
            received_at: 1_733_550_000_000,
            id: "0193a1b2-c3d4".into(),
        };
        let param = cursor.to_param();
        assert_eq!(
            query(&param, "").page_from().unwrap(),
            Page::Older(cursor.clone())
        );
        assert_eq!(query("", &param).page_from().unwrap(), Page::Newer(cursor));
        for bad in ["x", "12", "12_", "a_b", "12_a b", "12_<script>"] {
            assert!(query(bad, "").page_from().is_err(), "{bad}");
        }
        assert!(query(&param, &param).page_from().is_err());
    }

    #[test]
    fn status_is_the_contracts_name_for_state() {
        let read = |query: &str| serde_urlencoded::from_str::<FilterQuery>(query);
        let by_status = read("status=failed").unwrap();
        assert_eq!(
            by_status.to_filter().unwrap().state,
            Some(EnquiryState::Failed)
        );
        // Links the console makes keep the name it has always used.
        assert_eq!(by_status.query_string(), "state=failed");
        assert_eq!(read("state=held").unwrap().state, "held");
        assert!(
            read("state=held&status=failed").is_err(),
            "two states at once"
        );
    }

    #[test]
    fn links_carry_only_what_is_set() {
        let query = FilterQuery {
            state: "held".into(),
            q: "o'brien".into(),
            page: Some(3),
            ..FilterQuery::default()
        };
        assert_eq!(query.query_string(), "state=held&q=o%27brien");
    }
}
