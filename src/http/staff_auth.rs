//! The staff token guard of `/status` (and `/metrics` unless
//! `metrics.require_token = false`): `Authorization: Bearer <staff.token>`,
//! compared in constant time.
//!
//! Wrong tokens are throttled per client address (the same address the rate
//! limits use, an IPv6 client by its /64; see `staff_throttle`): after ten wrong
//! tokens within ten minutes of the first, every staff request from that address is
//! answered 429 until the window has passed, a right token too. Refusing the
//! right token as well is what makes guessing useless: a guesser learns
//! nothing from an answer while shut out. A request without any token is not
//! a guess and is not counted, so a monitor that lost its token does not
//! shut out staff behind the same address.

use std::net::IpAddr;
use std::time::Instant;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use secrecy::ExposeSecret as _;
use subtle::ConstantTimeEq as _;

use super::error::HttpError;
use super::state::AppState;
use crate::config::StaffSettings;
use crate::spam::{self, subscriber};

/// `Ok` when the request carries the configured staff token and its address
/// is not shut out for sending wrong ones.
pub fn require_staff(state: &AppState, peer: IpAddr, headers: &HeaderMap) -> Result<(), HttpError> {
    let server = &state.settings.server;
    let client = spam::client_ip(
        peer,
        headers,
        &server.trusted_proxies,
        server.client_ip_header,
    );
    let check = check_token(headers, &state.settings.staff);
    // Judged and counted under one lock, so a burst of parallel guesses
    // learns the outcome of no more than MAX_WRONG of them.
    let attempt = state.staff_throttle.attempt(
        subscriber(client),
        Instant::now(),
        check == TokenCheck::Wrong,
    );
    if let Err(wait) = attempt {
        return Err(HttpError::StaffThrottled {
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    match check {
        TokenCheck::Valid => Ok(()),
        TokenCheck::NotConfigured => Err(HttpError::Unauthorized { configured: false }),
        TokenCheck::Missing | TokenCheck::Wrong => {
            Err(HttpError::Unauthorized { configured: true })
        }
    }
}

/// What a request's `Authorization` header amounts to.
#[derive(Debug, PartialEq, Eq)]
enum TokenCheck {
    Valid,
    /// No staff token is configured: nothing can pass, nothing is guessed.
    NotConfigured,
    /// No bearer token sent.
    Missing,
    /// A bearer token that is not the staff token: a guess, counted.
    Wrong,
}

fn check_token(headers: &HeaderMap, staff: &StaffSettings) -> TokenCheck {
    let Some(token) = &staff.token else {
        return TokenCheck::NotConfigured;
    };
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or_default();
    if presented.is_empty() {
        return TokenCheck::Missing;
    }
    // ct_eq on slices of different lengths is false without comparing bytes:
    // the length is not secret, the content is.
    let matches: bool = presented
        .as_bytes()
        .ct_eq(token.expose_secret().as_bytes())
        .into();
    if matches {
        TokenCheck::Valid
    } else {
        TokenCheck::Wrong
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use secrecy::SecretString;

    fn staff(token: Option<&str>) -> StaffSettings {
        StaffSettings {
            token: token.map(SecretString::from),
        }
    }

    fn bearer(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn only_the_exact_token_passes() {
        let s = staff(Some("s3cret-token"));
        assert_eq!(
            check_token(&bearer("Bearer s3cret-token"), &s),
            TokenCheck::Valid
        );
        assert_eq!(
            check_token(&bearer("Bearer s3cret-tokem"), &s),
            TokenCheck::Wrong
        );
        assert_eq!(check_token(&bearer("Bearer s3cret"), &s), TokenCheck::Wrong);
        assert_eq!(
            check_token(&bearer("Basic s3cret-token"), &s),
            TokenCheck::Missing
        );
        assert_eq!(check_token(&HeaderMap::new(), &s), TokenCheck::Missing);
    }

    #[test]
    fn without_a_configured_token_nothing_passes() {
        assert_eq!(
            check_token(&bearer("Bearer x"), &staff(None)),
            TokenCheck::NotConfigured
        );
    }
}
