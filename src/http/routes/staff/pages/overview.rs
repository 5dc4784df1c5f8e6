//! The console's overview (`staff/overview.html`): per home, counts by
//! window (today, 7 days, 30 days), and the 30-day chart drawn as SVG here
//! (no script; bars outlined, counts in each bar's title, a sentence and a
//! table beside it, so it reads without colour or sight).

use askama::Template;

use super::Nav;
use crate::storage::{DayCount, EnquiryState};

pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Days the overview counts, today included.
pub const DAYS: i64 = 30;
const CHART_HEIGHT: i64 = 100;
const BAR_STEP: i64 = 10;
/// Room above the bars for the scale's label.
const CHART_TOP: i64 = 12;

/// One row of a home's figures: a time window and its counts.
pub struct WindowRow {
    pub label: &'static str,
    pub received: i64,
    pub sent: i64,
    pub waiting: i64,
    pub failed: i64,
    pub held: i64,
}

pub struct HomeFigures {
    pub name: String,
    pub rows: Vec<WindowRow>,
}

/// One bar of the 30-day chart, in SVG user units.
pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub height: i64,
    pub day: String,
    pub count: i64,
}

pub struct Chart {
    pub width: i64,
    pub height: i64,
    pub bars: Vec<Bar>,
    pub max: i64,
    /// The chart in one sentence, for screen readers and as its caption.
    pub summary: String,
}

#[derive(Template)]
#[template(path = "staff/overview.html")]
pub struct OverviewPage {
    pub nav: Nav,
    pub homes: Vec<HomeFigures>,
    pub chart: Chart,
    pub problems: Vec<String>,
}

impl OverviewPage {
    /// `homes`: (slug, name) in the order shown; `counts`: per home, day
    /// (0 is `first_day`) and state; `problems`: what `/status` reports.
    pub fn new(
        nav: Nav,
        homes: Vec<(String, String)>,
        counts: &[DayCount],
        first_day: i64,
        problems: Vec<String>,
    ) -> OverviewPage {
        let per_day: Vec<i64> = (0..DAYS)
            .map(|d| counts.iter().filter(|c| c.day == d).map(|c| c.count).sum())
            .collect();
        OverviewPage {
            nav,
            homes: (homes.into_iter())
                .map(|(slug, name)| HomeFigures::new(&slug, name, counts))
                .collect(),
            chart: chart(&per_day, first_day),
            problems,
        }
    }
}

impl HomeFigures {
    fn new(slug: &str, name: String, counts: &[DayCount]) -> HomeFigures {
        // Each window by its first day, counted from `first_day`.
        let windows = [
            ("Today", DAYS - 1),
            ("Last 7 days", DAYS - 7),
            ("Last 30 days", 0),
        ];
        let rows = (windows.iter())
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
            .collect();
        HomeFigures { name, rows }
    }
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
