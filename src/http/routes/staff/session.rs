//! Staff sessions on the HTTP side: the random session token in the cookie
//! (`HttpOnly; SameSite=Strict; Path=/staff`, `Secure` over https), its
//! SHA-256 (all the database keeps), the CSRF check of every POST, and the
//! signed-in guard that every `/staff` handler starts with. A session
//! carries the scope of the token it signed in with ([`StaffScope`]): an
//! account's token sees that account's homes only. It lasts only while that
//! very token is configured (`staff_fingerprint`).

use std::net::IpAddr;

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use base64::Engine as _;
use secrecy::SecretString;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::error::StaffError;
use crate::http::staff_auth::StaffScope;
pub use crate::http::staff_auth::staff_configured;
use crate::http::staff_fingerprint;
use crate::http::state::AppState;
use crate::storage::{StaffSession, now_ms};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "staff_session";
/// The sign-in form's own CSRF cookie (double submit: no session exists yet).
pub const LOGIN_COOKIE: &str = "staff_login";
/// How long a sign-in lasts. A fixed working day rather than a setting: long
/// enough for a shift, short enough that a forgotten browser signs itself out.
pub const SESSION_LIFETIME_MS: i64 = 12 * 60 * 60 * 1000;
/// The label sessions of the global `staff.token` carry in the audit trail;
/// an account's token's sessions carry its name too ([`label_of`]).
pub const GLOBAL_LABEL: &str = "staff token";

/// A signed-in request: the session, the hash it is stored under, and what
/// it may see.
#[derive(Debug)]
pub struct SignedIn {
    pub session: StaffSession,
    pub token_sha256: String,
    pub scope: StaffScope,
}

impl SignedIn {
    /// `Ok` when the session may see enquiries of `site`; otherwise the
    /// answer for an enquiry that does not exist, so another account's
    /// staff cannot even tell that it does.
    pub fn may_see(&self, site: &str, not_found: &str) -> Result<(), StaffError> {
        if self.scope.sees(site) {
            Ok(())
        } else {
            Err(StaffError::NotFound(not_found.to_owned()))
        }
    }
}

/// Who signed in, for the audit trail and the page's header.
pub fn label_of(scope: &StaffScope) -> String {
    match scope.account() {
        None => GLOBAL_LABEL.to_owned(),
        Some(account) => format!("{GLOBAL_LABEL} (account {account})"),
    }
}

/// 32 random bytes, URL-safe base64: a session token or a CSRF token.
pub fn random_token() -> Result<SecretString, StaffError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| StaffError::internal("no randomness for a staff token", e))?;
    Ok(SecretString::from(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
    ))
}

/// Hex SHA-256 of a session token: what `staff_sessions` is keyed by.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for `name`; an empty `value` with `max_age_secs = 0` clears it.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{name}={value}; Path=/staff; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    )
}

/// Whether the browser reached us over https: the public URL says so, or a
/// trusted proxy (`server.trusted_proxies`) said `X-Forwarded-Proto: https`.
/// A client's own claim is never believed.
pub fn over_https(state: &AppState, peer: IpAddr, headers: &HeaderMap) -> bool {
    let server = &state.settings.server;
    if server
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
    {
        return true;
    }
    // A dual-stack socket reports an IPv4 proxy as `::ffff:a.b.c.d`.
    let peer = peer.to_canonical();
    let trusted = server.trusted_proxies.iter().any(|net| net.contains(&peer));
    trusted
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// The live session this request's cookie names. The console is closed
/// altogether while no staff token is configured. A session whose token is
/// no longer configured has ended: the account removed, its token removed
/// or changed, or the global token changed (the stored fingerprint is no
/// longer that of the configured token).
pub async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<SignedIn, StaffError> {
    if !staff_configured(&state.settings) {
        return Err(StaffError::Closed);
    }
    let token = cookie(headers, SESSION_COOKIE).ok_or(StaffError::SignedOut)?;
    let token_sha256 = hash_token(token);
    let session = state
        .store
        .staff_session(&token_sha256, now_ms())
        .await?
        .ok_or(StaffError::SignedOut)?;
    let account = session.account.as_deref();
    let scope = StaffScope::of(&state.settings, account).ok_or(StaffError::SignedOut)?;
    let fingerprint = session.token_fingerprint.as_deref();
    if !staff_fingerprint::still_configured(&state.settings, account, fingerprint) {
        return Err(StaffError::SignedOut);
    }
    Ok(SignedIn {
        session,
        token_sha256,
        scope,
    })
}

/// `Ok` when a posted CSRF token is the session's.
pub fn check_csrf(session: &StaffSession, posted: Option<&str>) -> Result<(), StaffError> {
    let posted = posted.unwrap_or_default();
    let same: bool = posted
        .as_bytes()
        .ct_eq(session.csrf_token.as_bytes())
        .into();
    if posted.is_empty() || !same {
        return Err(StaffError::Csrf);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use secrecy::ExposeSecret as _;

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; staff_session=abc"));
        headers.append(COOKIE, HeaderValue::from_static("staff_login=xyz"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, LOGIN_COOKIE), Some("xyz"));
        assert_eq!(cookie(&headers, "staff"), None);
    }

    #[test]
    fn the_session_cookie_is_strict_http_only_and_secure_over_https() {
        let plain = set_cookie(SESSION_COOKIE, "t", 60, false);
        assert_eq!(
            plain,
            "staff_session=t; Path=/staff; HttpOnly; SameSite=Strict; Max-Age=60"
        );
        assert!(set_cookie(SESSION_COOKIE, "t", 60, true).ends_with("; Secure"));
    }

    #[test]
    fn tokens_are_random_and_stored_only_as_their_hash() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(a.expose_secret().len(), 43);
        let hash = hash_token(a.expose_secret());
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(a.expose_secret()));
    }

    #[test]
    fn a_post_needs_the_sessions_own_csrf_token() {
        let session = StaffSession {
            csrf_token: "right".into(),
            label: GLOBAL_LABEL.into(),
            account: None,
            token_fingerprint: None,
            expires_at: 0,
        };
        assert!(check_csrf(&session, Some("right")).is_ok());
        assert!(check_csrf(&session, Some("wrong")).is_err());
        assert!(check_csrf(&session, Some("")).is_err());
        assert!(check_csrf(&session, None).is_err());
    }
}
