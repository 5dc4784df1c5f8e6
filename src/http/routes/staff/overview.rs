//! `GET /staff`: per home, today / 7 days / 30 days received, sent, waiting,
//! failed and held; enquiries per day for 30 days as an SVG bar chart; and
//! the problems `/status` reports, in words. An account's staff token sees
//! its own homes only. This file reads the store and picks the homes;
//! `pages::overview` counts and draws.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::error::StaffError;
use super::pages::overview::{DAY_MS, DAYS};
use super::pages::{self, Nav, OverviewPage};
use super::problems;
use super::session;
use crate::http::routes::status::conditions::conditions;
use crate::http::state::AppState;
use crate::storage::now_ms;

pub async fn overview(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, StaffError> {
    let signed_in = session::signed_in(&state, &headers).await?;
    let now = now_ms();
    // Whole UTC days: "today" began at midnight UTC, the 30 days with it.
    let today = now - now.rem_euclid(DAY_MS);
    let first_day = today - (DAYS - 1) * DAY_MS;
    // An account's staff see its homes, its figures and its problems only.
    let scope = &signed_in.scope;
    let counts = (state.store)
        .staff_day_counts(first_day, scope.sites())
        .await?;
    let figures = state.store.status_figures_of(now, scope.sites()).await?;
    let lanes = scope.lane_names(&state.settings);
    let accounts: Vec<&str> = lanes.iter().map(String::as_str).collect();
    let deliveries = state.store.delivery_states(&accounts).await?;

    let mut homes: Vec<(String, String)> = (state.settings.sites.iter())
        .filter(|s| scope.sees(&s.slug))
        .map(|s| (s.slug.clone(), s.name.clone()))
        .collect();
    // Homes no longer configured still show while they have enquiries.
    for count in &counts {
        if !homes.iter().any(|(slug, _)| *slug == count.site) {
            homes.push((count.site.clone(), count.site.clone()));
        }
    }
    let found = conditions(&figures, &deliveries, &state.settings.status, now);
    let problems = problems::in_words(&found);
    let page = OverviewPage::new(
        Nav::of(signed_in.session),
        homes,
        &counts,
        first_day,
        problems,
    );
    pages::render(&page, "overview page")
}
