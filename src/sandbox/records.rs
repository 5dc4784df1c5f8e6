//! What the sandbox keeps: received care enquiries and home visits, plus the
//! CareHQ date-time format (`YYYY-MM-DD HH:MM:SS`, UTC) they are written in.
//!
//! Both records hold personal data, so their `Debug` output is redacted.

use serde::Serialize;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

const CAREHQ_DATE_TIME: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// `YYYY-MM-DD HH:MM:SS` in UTC, as CareHQ writes date-times.
pub fn carehq_date_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    // Formatting a valid date with a fixed numeric description cannot fail; the
    // fallback only keeps this free of panics.
    at.format(CAREHQ_DATE_TIME)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// Parses `YYYY-MM-DD HH:MM:SS` (a real calendar date and time).
pub fn parse_carehq_date_time(text: &str) -> Option<PrimitiveDateTime> {
    PrimitiveDateTime::parse(text, CAREHQ_DATE_TIME).ok()
}

/// One enquiry created through `PUT /v1/care-enquiries`.
#[derive(Clone, Serialize)]
pub struct ReceivedEnquiry {
    /// The CareHQ `_id` the sandbox gave it (24 lowercase hex).
    pub id: String,
    /// The form pairs exactly as received: order and repeats kept.
    pub fields: Vec<(String, String)>,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
}

impl ReceivedEnquiry {
    /// The first value sent for `name`, if any.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Debug for ReceivedEnquiry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.fields.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ReceivedEnquiry")
            .field("id", &self.id)
            .field("field_names", &names)
            .field("values", &"[redacted]")
            .field("received_at", &self.received_at)
            .finish()
    }
}

/// A home visit with CareHQ's attributes (docs/carehq-api.md, "Home visits"). Date-times are
/// CareHQ strings; a visit is pending while `cancelled` and `completed` are null.
#[derive(Clone, Serialize)]
pub struct HomeVisit {
    #[serde(rename = "_id")]
    pub id: String,
    pub created: String,
    pub modified: String,
    pub anonymized: Option<String>,
    pub assigned_to: Option<String>,
    pub cancelled: Option<String>,
    pub completed: Option<String>,
    pub care_enquiry: String,
    pub date_time: String,
    pub host: Option<String>,
    pub location: String,
    pub notes: String,
    pub service_user_contact: Option<String>,
    pub visit_type: Option<String>,
    /// Sandbox only, not a CareHQ attribute: whether CareHQ would have emailed the
    /// care seeker a confirmation (it does unless `suppress_email=true`).
    pub confirmation_emailed: bool,
}

/// Where a visit stands, derived from its `cancelled` / `completed` timestamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VisitStatus {
    Pending,
    Cancelled,
    Completed,
}

impl HomeVisit {
    pub fn status(&self) -> VisitStatus {
        // A completed visit can still be cancelled (CareHQ's knowledge base), and
        // then it counts as cancelled.
        if self.cancelled.is_some() {
            VisitStatus::Cancelled
        } else if self.completed.is_some() {
            VisitStatus::Completed
        } else {
            VisitStatus::Pending
        }
    }

    /// The object as CareHQ's API returns it (no sandbox-only fields).
    pub fn api_object(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut object = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        object.remove("confirmation_emailed");
        object
    }
}

impl std::fmt::Debug for HomeVisit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HomeVisit")
            .field("id", &self.id)
            .field("care_enquiry", &self.care_enquiry)
            .field("location", &self.location)
            .field("date_time", &self.date_time)
            .field("status", &self.status())
            .field("notes", &"[redacted]")
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times_round_trip_in_carehq_format() {
        let at = time::macros::datetime!(2024-11-01 16:03:19 UTC);
        assert_eq!(carehq_date_time(at), "2024-11-01 16:03:19");
        assert!(parse_carehq_date_time("2024-11-01 16:03:19").is_some());
        assert!(parse_carehq_date_time("2024-02-30 10:00:00").is_none());
        assert!(parse_carehq_date_time("2024-11-01T16:03:19").is_none());
    }

    #[test]
    fn debug_of_an_enquiry_hides_the_values() {
        let enquiry = ReceivedEnquiry {
            id: "0".repeat(24),
            fields: vec![("first_name".into(), "Margaret".into())],
            received_at: OffsetDateTime::UNIX_EPOCH,
        };
        let shown = format!("{enquiry:?}");
        assert!(shown.contains("first_name"));
        assert!(!shown.contains("Margaret"));
    }
}
