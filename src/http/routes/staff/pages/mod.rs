//! The console's askama pages (`templates/staff/`) and the rows they show.
//! Everything here is already in words: handlers read the store, these
//! constructors turn what was read into words, templates only lay them out.
//! One file per page; this one holds what every page shares.

mod detail;
mod list;
pub mod overview;

use askama::Template;
use axum::response::{Html, IntoResponse, Response};

pub use self::detail::{DetailPage, DetailRecord};
pub use self::list::{ListPage, Paged};
pub use self::overview::OverviewPage;
use super::error::StaffError;
use crate::storage::StaffSession;

/// What every signed-in page's header needs: the sign-out form's CSRF token.
pub struct Nav {
    pub csrf: String,
    pub label: String,
}

impl Nav {
    pub fn of(session: StaffSession) -> Nav {
        Nav {
            csrf: session.csrf_token,
            label: session.label,
        }
    }
}

/// The page as HTML; `what` names it in the error should askama fail.
pub fn render(page: &impl Template, what: &str) -> Result<Response, StaffError> {
    let html = (page.render()).map_err(|e| StaffError::internal(what, e))?;
    Ok(Html(html).into_response())
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
