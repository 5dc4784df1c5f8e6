//! The staff token guard of `/status` (and `/metrics` when configured):
//! `Authorization: Bearer <staff.token>`, compared in constant time.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use secrecy::ExposeSecret as _;
use subtle::ConstantTimeEq as _;

use super::error::HttpError;
use crate::config::StaffSettings;

/// `Ok` when the request carries the configured staff token.
pub fn require_staff(headers: &HeaderMap, staff: &StaffSettings) -> Result<(), HttpError> {
    let Some(token) = &staff.token else {
        return Err(HttpError::Unauthorized { configured: false });
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
    // ct_eq on slices of different lengths is false without comparing bytes:
    // the length is not secret, the content is.
    let matches: bool = presented
        .as_bytes()
        .ct_eq(token.expose_secret().as_bytes())
        .into();
    if matches && !presented.is_empty() {
        Ok(())
    } else {
        Err(HttpError::Unauthorized { configured: true })
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
        assert!(require_staff(&bearer("Bearer s3cret-token"), &s).is_ok());
        assert!(require_staff(&bearer("Bearer s3cret-tokem"), &s).is_err());
        assert!(require_staff(&bearer("Bearer s3cret"), &s).is_err());
        assert!(require_staff(&bearer("Basic s3cret-token"), &s).is_err());
        assert!(require_staff(&HeaderMap::new(), &s).is_err());
    }

    #[test]
    fn without_a_configured_token_nothing_passes() {
        let err = require_staff(&bearer("Bearer "), &staff(None)).unwrap_err();
        assert!(matches!(err, HttpError::Unauthorized { configured: false }));
    }
}
