//! The console's askama pages (`templates/staff/`) and the rows they show.
//! Everything here is already in words: handlers build these, templates
//! only lay them out.

use askama::Template;

use super::edit::EditField;
use super::filter::FilterQuery;

/// What every signed-in page's header needs: the sign-out form's CSRF token.
pub struct Nav {
    pub csrf: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "staff/login.html")]
pub struct LoginPage {
    pub csrf: String,
    pub error: String,
    pub notice: String,
}

/// An option of a filter's `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct ListRow {
    pub href: String,
    pub received: String,
    pub site: String,
    pub name: String,
    pub contact: String,
    pub state: String,
    /// `state-failed` etc.: a border style, never the only sign of the state.
    pub state_class: &'static str,
}

#[derive(Template)]
#[template(path = "staff/list.html")]
pub struct ListPage {
    pub nav: Nav,
    pub filter: FilterQuery,
    pub states: Vec<Choice>,
    pub sites: Vec<Choice>,
    pub rows: Vec<ListRow>,
    pub page: u32,
    /// Links to the neighbouring pages; empty when there is none.
    pub previous: String,
    pub next: String,
    pub export: String,
    pub notice: String,
}

pub struct AttemptLine {
    pub when: String,
    pub outcome: String,
    pub duration_ms: i64,
    pub http: String,
    pub hint: String,
    pub arg_errors: Vec<(String, String)>,
    pub error: String,
}

pub struct StepView {
    pub name: String,
    pub status: String,
    pub remote_id: String,
    pub last_error: String,
    pub attempts: Vec<AttemptLine>,
}

pub struct AuditLine {
    pub when: String,
    pub actor: String,
    pub action: String,
    pub reason: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "staff/detail.html")]
pub struct DetailPage {
    pub nav: Nav,
    pub id: String,
    pub action_base: String,
    pub site: String,
    pub received: String,
    pub state: String,
    /// (label, value) of what the family wrote; empty once scrubbed.
    pub fields: Vec<(String, String)>,
    pub scrubbed: String,
    pub steps: Vec<StepView>,
    pub audit: Vec<AuditLine>,
    /// What a partner sent about it (an enrollment, then user actions), in words.
    pub partner_events: Vec<String>,
    pub can_retry: bool,
    pub can_release: bool,
    pub can_delete: bool,
    /// The fields CareHQ refused that staff may correct; empty: no edit form.
    pub edit_fields: Vec<EditField>,
    /// (label, what the family first wrote) of each field staff corrected.
    pub originals: Vec<(String, String)>,
    pub notice: String,
}

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
