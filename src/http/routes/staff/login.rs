//! `GET/POST /staff/login`, `POST /staff/logout`: signing in with the staff
//! token (the global one, or an account's: the session then sees that
//! account's homes only) and out again. Wrong tokens count towards the same per-address
//! throttle as `/status`'s bearer tokens; an empty form is not a guess.

use std::time::Instant;

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use super::error::StaffError;
use super::pages::{self, LoginPage};
use super::session::{
    self, LOGIN_COOKIE, SESSION_COOKIE, SESSION_LIFETIME_MS, check_csrf, over_https,
};
use crate::http::peer::{PeerAddr, client_ip};
use crate::http::staff_auth::{StaffScope, scope_for_token};
use crate::http::staff_fingerprint;
use crate::http::state::AppState;
use crate::spam::subscriber;
use crate::storage::{NewStaffSession, StaffSession, now_ms};

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
}

/// The token is a secret: never in a log line or a panic message.
impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginForm { .. }")
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    signed_out: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    query: Result<axum::extract::Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, StaffError> {
    if !session::staff_configured(&state.settings) {
        return Err(StaffError::Closed);
    }
    if session::signed_in(&state, &headers).await.is_ok() {
        return Ok(Redirect::to("/staff").into_response());
    }
    let notice = query
        .ok()
        .and_then(|q| q.0.signed_out)
        .map(|_| "You are signed out.".to_owned());
    login_page(&state, peer, &headers, StatusCode::OK, None, notice)
}

pub async fn submit(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, StaffError> {
    if !session::staff_configured(&state.settings) {
        return Err(StaffError::Closed);
    }
    let Form(form) = form.map_err(|_| StaffError::Csrf)?;
    check_login_csrf(&headers, &form.csrf)?;
    let presented = form.token.trim();
    let scope = scope_for_token(&state.settings, presented);
    let wrong = !presented.is_empty() && scope.is_none();
    throttle(&state, peer, &headers, wrong)?;
    let Some(scope) = scope else {
        let error = if presented.is_empty() {
            "Enter the staff token."
        } else {
            "That is not the staff token. Check it (it is staff.token in the service's configuration, or your account's staff_token) and try again."
        };
        return login_page(
            &state,
            peer,
            &headers,
            StatusCode::UNAUTHORIZED,
            Some(error),
            None,
        );
    };
    let token = start_session(&state, &scope, presented).await?;
    let secure = over_https(&state, peer, &headers);
    let mut response = Redirect::to("/staff").into_response();
    append_cookie(
        &mut response,
        &session::set_cookie(
            SESSION_COOKIE,
            token.expose_secret(),
            SESSION_LIFETIME_MS / 1000,
            secure,
        ),
    )?;
    append_cookie(
        &mut response,
        &session::set_cookie(LOGIN_COOKIE, "", 0, secure),
    )?;
    Ok(response)
}

/// Double submit: the form's code must be the one this browser's cookie
/// holds, which another website can neither read nor set.
fn check_login_csrf(headers: &HeaderMap, posted: &str) -> Result<(), StaffError> {
    let expected = session::cookie(headers, LOGIN_COOKIE).unwrap_or_default();
    check_csrf(
        &StaffSession {
            csrf_token: expected.to_owned(),
            label: String::new(),
            account: None,
            token_fingerprint: None,
            expires_at: 0,
        },
        Some(posted),
    )
}

/// Every sign-in counts towards the address's throttle; `wrong` (a token
/// given and not right) counts as a guess. An empty form is not a guess.
fn throttle(
    state: &AppState,
    peer: std::net::IpAddr,
    headers: &HeaderMap,
    wrong: bool,
) -> Result<(), StaffError> {
    let client = client_ip(&state.settings, peer, headers);
    (state.staff_throttle)
        .attempt(subscriber(client), Instant::now(), wrong)
        .map_err(|wait| StaffError::Throttled {
            retry_after_secs: wait.as_secs().max(1),
        })
}

/// Store a new session for `scope` and return its token (the cookie's
/// value; only its hash is stored).
async fn start_session(
    state: &AppState,
    scope: &StaffScope,
    presented: &str,
) -> Result<SecretString, StaffError> {
    let label = session::label_of(scope);
    let token = session::random_token()?;
    let csrf = session::random_token()?;
    let now = now_ms();
    state
        .store
        .create_staff_session(&NewStaffSession {
            token_sha256: &session::hash_token(token.expose_secret()),
            csrf_token: csrf.expose_secret(),
            label: &label,
            account: scope.account(),
            token_fingerprint: &staff_fingerprint::fingerprint(&state.settings, presented),
            created_at: now,
            expires_at: now + SESSION_LIFETIME_MS,
        })
        .await?;
    tracing::info!(label = %label, "staff console: signed in");
    Ok(token)
}

pub async fn logout(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> Result<Response, StaffError> {
    let signed_in = session::signed_in(&state, &headers)
        .await
        .map_err(StaffError::on_post)?;
    let posted = form.ok().map(|Form(f)| f.csrf);
    check_csrf(&signed_in.session, posted.as_deref())?;
    state
        .store
        .revoke_staff_session(&signed_in.token_sha256, now_ms())
        .await?;
    tracing::info!(label = %signed_in.session.label, "staff console: signed out");
    let mut response = Redirect::to("/staff/login?signed_out=1").into_response();
    let secure = over_https(&state, peer, &headers);
    append_cookie(
        &mut response,
        &session::set_cookie(SESSION_COOKIE, "", 0, secure),
    )?;
    Ok(response)
}

/// The sign-in form, with a fresh double-submit code in a cookie and the form.
fn login_page(
    state: &AppState,
    peer: std::net::IpAddr,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<String>,
) -> Result<Response, StaffError> {
    let csrf = session::random_token()?;
    let page = LoginPage {
        csrf: csrf.expose_secret().to_owned(),
        error: error.unwrap_or_default().to_owned(),
        notice: notice.unwrap_or_default(),
    };
    let mut response = (status, pages::render(&page, "sign-in page")?).into_response();
    let secure = over_https(state, peer, headers);
    append_cookie(
        &mut response,
        &session::set_cookie(LOGIN_COOKIE, csrf.expose_secret(), 60 * 60, secure),
    )?;
    Ok(response)
}

fn append_cookie(response: &mut Response, cookie: &str) -> Result<(), StaffError> {
    let value =
        HeaderValue::from_str(cookie).map_err(|e| StaffError::internal("cookie header", e))?;
    response.headers_mut().append(header::SET_COOKIE, value);
    Ok(())
}
