//! `GET /staff/export.csv?…`: the list's current filter as CSV, every
//! matching enquiry (not one page), newest first; of the session's homes
//! only, for an account's staff token. Streamed a keyset chunk at a time,
//! in constant memory however many rows match.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::contact::contact_of;
use super::error::StaffError;
use super::filter::FilterQuery;
use super::session;
use super::words::{state_name, when};
use crate::http::state::AppState;
use crate::storage::{Cursor, Page, StaffFilter, StaffRow, Store};
use bytes::Bytes;

/// Rows read per query while exporting: one keyset page of the list at a
/// time, written out before the next is read, so an export of any size
/// holds one chunk in memory.
const CHUNK: i64 = 500;

const HEADER: &str =
    "id,home,received_utc,state,next_attempt_utc,first_name,last_name,email,phone\r\n";

pub async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<FilterQuery>, QueryRejection>,
) -> Result<Response, StaffError> {
    let signed_in = session::signed_in(&state, &headers).await?;
    let Query(query) = query.map_err(|_| {
        StaffError::BadRequest("The export's address is not understood; open Enquiries, filter, and use its download link.".into())
    })?;
    let filter = query.to_filter_within(&signed_in.scope)?;
    // The first chunk is read before answering, so a failing database is
    // an error page, not an empty file.
    let first = (state.store)
        .staff_enquiries(&filter, CHUNK, &Page::Newest)
        .await?;
    let chunks = Chunks {
        store: state.store.clone(),
        filter,
        rows: Some(first),
        header: true,
    };
    let body = Body::from_stream(futures_util::stream::unfold(chunks, Chunks::next));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"enquiries.csv\""),
    );
    Ok(response)
}

/// The export as it streams: the rows read and not yet written, and where
/// the next chunk starts. The answer has begun once the first chunk is
/// out, so `server.request_timeout` (which bounds the handler) does not cut
/// a long download; each chunk is one bounded read.
struct Chunks {
    store: Store,
    filter: StaffFilter,
    /// `None` once the last chunk is written.
    rows: Option<Vec<StaffRow>>,
    header: bool,
}

impl Chunks {
    async fn next(mut self) -> Option<(Result<Bytes, std::io::Error>, Chunks)> {
        let rows = self.rows.take()?;
        let mut text = String::new();
        if std::mem::take(&mut self.header) {
            text.push_str(HEADER);
        }
        for row in &rows {
            text.push_str(&line(row));
        }
        if rows.len() as i64 == CHUNK
            && let Some(last) = rows.last()
        {
            let page = Page::Older(Cursor::of(last));
            match self.store.staff_enquiries(&self.filter, CHUNK, &page).await {
                Ok(more) => self.rows = Some(more),
                Err(e) => {
                    // The status line is sent: end the body early, so the
                    // download fails visibly instead of looking complete.
                    tracing::error!(error = %crate::telemetry::chain(&e), "staff export: a chunk could not be read; the download was cut short");
                    let cut = std::io::Error::other("the export could not be read to its end");
                    return Some((Err(cut), Chunks { rows: None, ..self }));
                }
            }
        }
        Some((Ok(Bytes::from(text)), self))
    }
}

fn line(row: &StaffRow) -> String {
    let fields: serde_json::Value = row
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or(serde_json::Value::Null);
    let text = |key: &str| {
        fields
            .get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let contact = contact_of(row.payload.as_deref());
    let cells = [
        row.id.to_string(),
        row.site.clone(),
        when(row.received_at),
        state_name(row.state).to_owned(),
        row.next_attempt_at.map(when).unwrap_or_default(),
        text("first_name"),
        text("last_name"),
        contact.email,
        contact.phone,
    ];
    let mut out = cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    out
}

/// One CSV cell: quoted when it must be, and a leading `= + - @` defused
/// (a spreadsheet would run it as a formula).
fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("O'Brien, Zoë"), "\"O'Brien, Zoë\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
