//! The hosted form pages: `GET /forms/{site}` and `GET /forms/{site}/thanks`.

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

use crate::domain::FieldErrors;
use crate::http::error::HttpError;
use crate::http::format::Format;
use crate::http::pages::{FormPage, ThanksPage};
use crate::http::site_slug::SiteSlug;
use crate::http::state::AppState;
use crate::http::visit_fields::visit_fields;

/// `?embed=1`: the page is inside the care home's `<iframe>`.
#[derive(Debug, Default)]
pub struct PageQuery {
    embed: Option<String>,
}

impl PageQuery {
    /// The first `embed` in the query string, whatever else it holds.
    /// Never refused: axum's `Query` answers a repeated `embed` (a CMS that
    /// appends it to a link that had it) with a plain-text 400, and a
    /// family following the link should get the form, not that.
    fn parse(query: Option<&str>) -> Self {
        let embed = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .find(|(name, _)| name == "embed")
            .map(|(_, value)| value.into_owned());
        Self { embed }
    }

    fn embed(&self) -> bool {
        matches!(self.embed.as_deref(), Some("1" | "true" | "yes"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageQuery {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::parse(parts.uri.query()))
    }
}

pub async fn show_form(
    State(state): State<AppState>,
    SiteSlug(slug): SiteSlug,
    query: PageQuery,
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
    SiteSlug(slug): SiteSlug,
    query: PageQuery,
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
        Err(e) => HttpError::internal("rendering a page", e).into_response_for(Format::Html),
    }
}
