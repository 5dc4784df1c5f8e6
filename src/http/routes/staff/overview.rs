//! `GET /staff`: per home, today / 7 days / 30 days received, sent, waiting,
//! failed and held; enquiries per day for 30 days as an SVG bar chart drawn
//! here (no script; bars outlined, counts in each bar's title, a sentence
//! and a table beside it, so it reads without colour or sight); and the
//! problems `/status` reports, in words. An account's staff token sees its
//! own homes only.

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};

use super::error::StaffError;
use super::pages::{Bar, Chart, HomeFigures, Nav, OverviewPage, WindowRow};
use super::problems;
use super::session;
use crate::http::state::AppState;
use crate::storage::{EnquiryState, now_ms};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const DAYS: i64 = 30;
const CHART_HEIGHT: i64 = 100;
const BAR_STEP: i64 = 10;
/// Room above the bars for the scale's label.
const CHART_TOP: i64 = 12;

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
    // Each window by its first day, counted from `first_day`.
    let windows = [
        ("Today", DAYS - 1),
        ("Last 7 days", DAYS - 7),
        ("Last 30 days", 0),
    ];
    let homes = homes
        .into_iter()
        .map(|(slug, name)| HomeFigures {
            name,
            rows: windows
                .iter()
                .map(|&(label, since)| {
                    let mut row = WindowRow {
                        label,
                        received: 0,
                        sent: 0,
                        waiting: 0,
                        failed: 0,
                        held: 0,
                    };
                    for count in counts.iter().filter(|c| c.site == slug && c.day >= since) {
                        row.received += count.count;
                        match count.state {
                            EnquiryState::Sent => row.sent += count.count,
                            EnquiryState::Waiting => row.waiting += count.count,
                            EnquiryState::Failed => row.failed += count.count,
                            EnquiryState::Held => row.held += count.count,
                            EnquiryState::Closed => {}
                        }
                    }
                    row
                })
                .collect(),
        })
        .collect();
    let per_day: Vec<i64> = (0..DAYS)
        .map(|d| counts.iter().filter(|c| c.day == d).map(|c| c.count).sum())
        .collect();
    let page = OverviewPage {
        nav: Nav {
            csrf: signed_in.session.csrf_token,
            label: signed_in.session.label,
        },
        homes,
        chart: chart(&per_day, first_day),
        problems: problems::in_words(&figures, &deliveries, &state.settings.status, now),
    };
    let html = page
        .render()
        .map_err(|e| StaffError::Internal(format!("overview page: {e}")))?;
    Ok(Html(html).into_response())
}

/// Bars for `counts` (one per day from `first_day`), scaled to the busiest day.
fn chart(counts: &[i64], first_day: i64) -> Chart {
    let max = counts.iter().copied().max().unwrap_or(0);
    let total: i64 = counts.iter().sum();
    let bars = counts
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let height = if max == 0 {
                0
            } else {
                count * CHART_HEIGHT / max
            };
            Bar {
                x: i as i64 * BAR_STEP + 1,
                y: CHART_TOP + CHART_HEIGHT - height,
                height,
                day: day_label(first_day + i as i64 * DAY_MS),
                count,
            }
        })
        .collect();
    let busiest = counts
        .iter()
        .position(|&c| c == max && max > 0)
        .map(|i| {
            format!(
                "; the busiest day was {} with {max}",
                day_label(first_day + i as i64 * DAY_MS)
            )
        })
        .unwrap_or_default();
    Chart {
        width: counts.len() as i64 * BAR_STEP + 2,
        height: CHART_TOP + CHART_HEIGHT,
        bars,
        max,
        summary: format!(
            "{total} enquiries in the last {} days{busiest}. The table below gives each day's count.",
            counts.len()
        ),
    }
}

fn day_label(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!("[year]-[month]-[day]"))
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_day_and_the_summary_says_so() {
        let chart = chart(&[0, 2, 4], 0);
        let heights: Vec<i64> = chart.bars.iter().map(|b| b.height).collect();
        assert_eq!(heights, [0, 50, 100]);
        assert_eq!(chart.bars[2].y, CHART_TOP);
        assert!(
            chart.summary.starts_with(
                "6 enquiries in the last 3 days; the busiest day was 1970-01-03 with 4."
            ),
            "{}",
            chart.summary
        );
        let empty = super::chart(&[0, 0], 0);
        assert!(empty.bars.iter().all(|b| b.height == 0));
    }
}
