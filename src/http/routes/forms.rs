//! The hosted form pages: `GET /forms/{site}` and `GET /forms/{site}/thanks`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

use crate::domain::FieldErrors;
use crate::http::error::HttpError;
use crate::http::format::Format;
use crate::http::pages::{FormPage, ThanksPage};
use crate::http::state::AppState;
use crate::http::visit_fields::visit_fields;

/// `?embed=1`: the page is inside the care home's `<iframe>`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    embed: Option<String>,
}

impl PageQuery {
    fn embed(&self) -> bool {
        matches!(self.embed.as_deref(), Some("1" | "true" | "yes"))
    }
}

pub async fn show_form(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let Some(site) = state.settings.site(&slug) else {
        return HttpError::UnknownSite.into_response_for(Format::Html);
    };
    let embed = query.embed();
    // A fresh idempotency key per page view: a double click sends the same one twice.
    let key = uuid::Uuid::now_v7().simple().to_string();
    let no_errors = FieldErrors::default();
    let token = state.spam.tokens.issue(&site.slug, crate::spam::unix_now());
    let mut page = FormPage::new(site, None, &no_errors, key)
        .embedded(site, embed)
        .with_captcha(site.captcha(&state.settings.captcha))
        .with_time_token(token, &state.spam.tokens);
    page.visit_fields = visit_fields(&state.store, site, None, &no_errors).await;
    render(page.render())
}

pub async fn thanks(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let Some(site) = state.settings.site(&slug) else {
        return HttpError::UnknownSite.into_response_for(Format::Html);
    };
    render(
        ThanksPage {
            site_name: &site.name,
            embed: query.embed(),
        }
        .render(),
    )
}

fn render(page: Result<String, askama::Error>) -> Response {
    match page {
        Ok(html) => {
            let mut response = Html(html).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => {
            HttpError::Internal(format!("rendering a page: {e}")).into_response_for(Format::Html)
        }
    }
}
