//! `GET /staff/enquiries`: the list, newest first, filtered by state, home
//! and dates, searched by name, email or phone, fifty to a page. Pages are
//! keyset pages: "Next page" carries the last row's cursor (`after=`),
//! "Previous page" the first row's (`before=`), so any page is read from
//! an index at its cursor, as fast as the first.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

use super::error::StaffError;
use super::filter::FilterQuery;
use super::pages::{Choice, ListPage, ListRow, Nav};
use super::session;
use super::words::{state_name, state_words, when};
use crate::http::staff_auth::StaffScope;
use crate::http::state::AppState;
use crate::storage::{Cursor, EnquiryState, Page, StaffRow};

pub const PAGE_SIZE: i64 = 50;

/// `?retried=N`: what "retry all" just did.
#[derive(serde::Deserialize)]
pub struct ListNotice {
    retried: Option<u32>,
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<FilterQuery>, QueryRejection>,
    notice: Result<Query<ListNotice>, QueryRejection>,
) -> Result<Response, StaffError> {
    let signed_in = session::signed_in(&state, &headers).await?;
    let Query(query) = query.map_err(|_| {
        StaffError::BadRequest(
            "The list's address is not understood; open Enquiries from the menu and filter again."
                .into(),
        )
    })?;
    let filter = query.to_filter_within(&signed_in.scope)?;
    let page = query.page_from()?;
    let number = query.page();
    // One more than a page: tells whether there is another beyond it.
    let mut rows = (state.store)
        .staff_enquiries(&filter, PAGE_SIZE + 1, &page)
        .await?;
    let more = rows.len() as i64 > PAGE_SIZE;
    match page {
        // Read oldest first from the cursor: the extra row is the newest.
        Page::Newer(_) if more => {
            rows.remove(0);
        }
        _ => rows.truncate(PAGE_SIZE as usize),
    }
    // Older rows exist when this page was cut short, or when it was reached
    // going back towards the newest; newer ones, the other way round.
    let older = match page {
        Page::Newer(_) => !rows.is_empty(),
        _ => more,
    };
    let newer = match page {
        Page::Newest => false,
        Page::Older(_) => true,
        Page::Newer(_) => more,
    };
    let base = query.query_string();
    let link = |key: &str, row: Option<&StaffRow>, number: u32| match row {
        Some(row) => {
            let sep = if base.is_empty() { "" } else { "&" };
            let cursor = Cursor::of(row).to_param();
            format!("/staff/enquiries?{base}{sep}{key}={cursor}&page={number}")
        }
        None => String::new(),
    };
    let page_view = ListPage {
        nav: Nav {
            csrf: signed_in.session.csrf_token,
            label: signed_in.session.label,
        },
        states: state_choices(&query.state),
        sites: site_choices(&state, &signed_in.scope, &query.site),
        rows: rows.iter().map(list_row).collect(),
        page: number,
        previous: if newer {
            link("before", rows.first(), number.saturating_sub(1).max(1))
        } else {
            String::new()
        },
        next: if older {
            link("after", rows.last(), number.saturating_add(1))
        } else {
            String::new()
        },
        export: format!("/staff/export.csv?{base}"),
        notice: match notice.ok().and_then(|n| n.0.retried) {
            Some(0) => "No failed enquiry matched, so nothing was sent again.".into(),
            Some(1) => "1 failed enquiry is being sent again.".into(),
            Some(n) => format!("{n} failed enquiries are being sent again."),
            None => String::new(),
        },
        filter: query,
    };
    let html = page_view
        .render()
        .map_err(|e| StaffError::Internal(format!("list page: {e}")))?;
    Ok(Html(html).into_response())
}

fn state_choices(selected: &str) -> Vec<Choice> {
    let mut choices = vec![Choice {
        value: String::new(),
        label: "Any".into(),
        selected: selected.is_empty(),
    }];
    choices.extend(EnquiryState::ALL.into_iter().map(|s| Choice {
        value: s.as_str().into(),
        label: state_name(s).into(),
        selected: selected == s.as_str(),
    }));
    choices
}

/// The homes to filter by: those the session sees.
fn site_choices(state: &AppState, scope: &StaffScope, selected: &str) -> Vec<Choice> {
    let mut choices = vec![Choice {
        value: String::new(),
        label: "Any".into(),
        selected: selected.is_empty(),
    }];
    let sites = (state.settings.sites.iter()).filter(|s| scope.sees(&s.slug));
    choices.extend(sites.map(|s| Choice {
        value: s.slug.clone(),
        label: s.name.clone(),
        selected: selected == s.slug,
    }));
    choices
}

/// Name, email and phone from a stored enquiry (empty once scrubbed).
pub struct Contact {
    pub name: String,
    pub email: String,
    pub phone: String,
}

pub fn contact_of(payload: Option<&str>) -> Contact {
    let fields: Value = payload
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or(Value::Null);
    let text = |key: &str| {
        fields
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let name = format!("{} {}", text("first_name"), text("last_name"))
        .trim()
        .to_owned();
    Contact {
        name,
        email: text("email"),
        phone: text("phone"),
    }
}

fn list_row(row: &StaffRow) -> ListRow {
    let contact = contact_of(row.payload.as_deref());
    let name = if row.payload.is_none() {
        "(details removed)".to_owned()
    } else {
        contact.name
    };
    let contact = [contact.email, contact.phone]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    ListRow {
        href: format!("/staff/enquiries/{}", row.id),
        received: when(row.received_at),
        site: row.site.clone(),
        name,
        contact,
        state: state_words(row.state, row.next_attempt_at),
        state_class: match row.state {
            EnquiryState::Failed => "state-failed",
            EnquiryState::Held => "state-held",
            _ => "",
        },
    }
}
