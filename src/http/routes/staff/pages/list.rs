//! The list page (`staff/list.html`): fifty rows in words, the filter's
//! choices, links to the neighbouring keyset pages and what "retry all"
//! just did.

use askama::Template;
use strum::VariantArray;

use super::{Choice, Nav};
use crate::http::routes::staff::contact::contact_of;
use crate::http::routes::staff::filter::FilterQuery;
use crate::http::routes::staff::words::{state_name, state_words, when};
use crate::storage::{Cursor, EnquiryState, Page, StaffRow};

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

/// One page of rows as read (one more than a page was asked for), cut to
/// the page, with which neighbouring pages exist.
pub struct Paged {
    pub rows: Vec<StaffRow>,
    pub older: bool,
    pub newer: bool,
}

impl Paged {
    pub fn cut(mut rows: Vec<StaffRow>, page: &Page, size: usize) -> Paged {
        let more = rows.len() > size;
        match page {
            // Read oldest first from the cursor: the extra row is the newest.
            Page::Newer(_) if more => {
                rows.remove(0);
            }
            _ => rows.truncate(size),
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
        Paged { rows, older, newer }
    }
}

impl ListPage {
    /// `sites`: the homes the session may filter by; `retried`: `?retried=N`.
    pub fn new(
        nav: Nav,
        query: FilterQuery,
        paged: Paged,
        sites: Vec<Choice>,
        retried: Option<u32>,
    ) -> ListPage {
        let number = query.page();
        let base = query.query_string();
        let link = |key: &str, row: Option<&StaffRow>, number: u32| match row {
            Some(row) => {
                let sep = if base.is_empty() { "" } else { "&" };
                let cursor = Cursor::of(row).to_param();
                format!("/staff/enquiries?{base}{sep}{key}={cursor}&page={number}")
            }
            None => String::new(),
        };
        let rows = &paged.rows;
        ListPage {
            nav,
            states: state_choices(&query.state),
            sites,
            rows: rows.iter().map(ListRow::of).collect(),
            page: number,
            previous: match paged.newer {
                true => link("before", rows.first(), number.saturating_sub(1).max(1)),
                false => String::new(),
            },
            next: match paged.older {
                true => link("after", rows.last(), number.saturating_add(1)),
                false => String::new(),
            },
            export: format!("/staff/export.csv?{base}"),
            notice: match retried {
                Some(0) => "No failed enquiry matched, so nothing was sent again.".into(),
                Some(1) => "1 failed enquiry is being sent again.".into(),
                Some(n) => format!("{n} failed enquiries are being sent again."),
                None => String::new(),
            },
            filter: query,
        }
    }
}

impl ListRow {
    fn of(row: &StaffRow) -> ListRow {
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
}

fn state_choices(selected: &str) -> Vec<Choice> {
    let mut choices = vec![Choice {
        value: String::new(),
        label: "Any".into(),
        selected: selected.is_empty(),
    }];
    choices.extend(EnquiryState::VARIANTS.iter().map(|&s| Choice {
        value: s.as_str().into(),
        label: state_name(s).into(),
        selected: selected == s.as_str(),
    }));
    choices
}
