//! `GET /staff/enquiries`: the list, newest first, filtered by state, home
//! and dates, searched by name, email or phone, fifty to a page. Pages are
//! keyset pages: "Next page" carries the last row's cursor (`after=`),
//! "Previous page" the first row's (`before=`), so any page is read from
//! an index at its cursor, as fast as the first. This file reads the store;
//! `pages::list` cuts the page and puts it into words.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::error::StaffError;
use super::filter::FilterQuery;
use super::pages::{self, Choice, ListPage, Nav, Paged};
use super::session;
use crate::http::staff_auth::StaffScope;
use crate::http::state::AppState;

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
    // One more than a page: tells whether there is another beyond it.
    let rows = (state.store)
        .staff_enquiries(&filter, PAGE_SIZE + 1, &page)
        .await?;
    let paged = Paged::cut(rows, &page, PAGE_SIZE as usize);
    let sites = site_choices(&state, &signed_in.scope, &query.site);
    let retried = notice.ok().and_then(|n| n.0.retried);
    let view = ListPage::new(Nav::of(signed_in.session), query, paged, sites, retried);
    pages::render(&view, "list page")
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
