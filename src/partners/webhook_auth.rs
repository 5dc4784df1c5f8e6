//! How a partner proves a webhook is theirs: a bearer token, or a Standard
//! Webhooks signature (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature`: HMAC-SHA256 over `id.timestamp.body`, the raw bytes
//! as received, never re-serialised JSON). Comparisons take constant time;
//! several signatures (the sender's rotation) and several secrets (ours) are
//! tried, any match admits.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a signed timestamp may be from our clock, either way (the
/// Standard Webhooks default): a captured request cannot be replayed later.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;

/// Why a webhook was not admitted. The partner hears only that it was not
/// (and, for the clock, why: that helps them, not an attacker); the reason
/// is counted and logged for the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum AuthRefusal {
    /// No credentials at all (no `Authorization`, or no signature headers).
    Missing,
    /// Credentials that do not match.
    Wrong,
    /// A signature whose timestamp is too far from now, or unreadable.
    Stale,
}

impl AuthRefusal {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The partner's `errorMessage`.
    pub fn message(self) -> &'static str {
        match self {
            AuthRefusal::Missing | AuthRefusal::Wrong => {
                "unauthorized: send the bearer token or the webhook signature agreed with this service's operator"
            }
            AuthRefusal::Stale => {
                "unauthorized: webhook-timestamp is more than 5 minutes from our clock; sign each delivery when it is sent"
            }
        }
    }
}

/// `Authorization: Bearer <token>`, compared in constant time.
pub fn check_bearer(authorization: Option<&str>, token: &SecretString) -> Result<(), AuthRefusal> {
    let given = authorization
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or(AuthRefusal::Missing)?;
    let same: bool = given
        .as_bytes()
        .ct_eq(token.expose_secret().as_bytes())
        .into();
    same.then_some(()).ok_or(AuthRefusal::Wrong)
}

/// The three Standard Webhooks headers, as received.
pub struct SignedHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// A signing secret as Standard Webhooks writes it: `whsec_` and base64
/// (the prefix optional); the key is the decoded bytes. `None` when it is
/// not base64 (config validation says so).
pub fn signing_key(secret: &SecretString) -> Option<Vec<u8>> {
    let text = secret.expose_secret().trim();
    STANDARD
        .decode(text.strip_prefix("whsec_").unwrap_or(text))
        .ok()
        .filter(|key| !key.is_empty())
}

/// What can be judged of a signed webhook before its body is read: the
/// three headers are there and the timestamp is within the tolerance of
/// `now` (Unix seconds). A request failing this is refused without reading
/// its body, so a flood of unsigned posts costs no more than their headers.
pub fn check_signed_headers(headers: &SignedHeaders<'_>, now: i64) -> Result<(), AuthRefusal> {
    let (Some(_), Some(timestamp), Some(_)) = (headers.id, headers.timestamp, headers.signature)
    else {
        return Err(AuthRefusal::Missing);
    };
    let sent: i64 = timestamp.trim().parse().map_err(|_| AuthRefusal::Stale)?;
    if (now - sent).abs() > TIMESTAMP_TOLERANCE_SECS {
        return Err(AuthRefusal::Stale);
    }
    Ok(())
}

/// Verify `body` against any of `keys` at `now` (Unix seconds).
pub fn check_signature(
    headers: &SignedHeaders<'_>,
    body: &[u8],
    keys: &[Vec<u8>],
    now: i64,
) -> Result<(), AuthRefusal> {
    check_signed_headers(headers, now)?;
    let (Some(id), Some(timestamp), Some(signatures)) =
        (headers.id, headers.timestamp, headers.signature)
    else {
        return Err(AuthRefusal::Missing);
    };
    let offered: Vec<Vec<u8>> = signatures
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| STANDARD.decode(s).ok())
        .collect();
    for key in keys {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
            continue;
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.trim().as_bytes());
        mac.update(b".");
        mac.update(body);
        let expected = mac.finalize().into_bytes();
        if offered
            .iter()
            .any(|sig| bool::from(sig.as_slice().ct_eq(expected.as_slice())))
        {
            return Ok(());
        }
    }
    Err(AuthRefusal::Wrong)
}

/// The `webhook-signature` value for `body`: what a sender (and the tests) sends.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length; an empty one is refused by `signing_key`.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference
    /// libraries: this secret, id, timestamp and body give this signature.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers<'a>(timestamp: &'a str, signature: &'a str) -> SignedHeaders<'a> {
        SignedHeaders {
            id: Some(ID),
            timestamp: Some(timestamp),
            signature: Some(signature),
        }
    }

    fn key() -> Vec<u8> {
        signing_key(&SecretString::from(SECRET)).expect("a base64 secret")
    }

    #[test]
    fn the_specifications_example_verifies_and_signs_the_same() {
        assert_eq!(sign(&key(), ID, TIMESTAMP, BODY), SIGNATURE);
        let ts = TIMESTAMP.to_string();
        assert_eq!(
            check_signature(&headers(&ts, SIGNATURE), BODY, &[key()], TIMESTAMP),
            Ok(())
        );
    }

    #[test]
    fn any_listed_signature_and_any_configured_secret_admit() {
        let ts = TIMESTAMP.to_string();
        let listed = format!("v1,b2xk v1a,ignored {SIGNATURE}");
        let other_key = b"an older secret".to_vec();
        assert_eq!(
            check_signature(&headers(&ts, &listed), BODY, &[other_key, key()], TIMESTAMP),
            Ok(())
        );
    }

    #[test]
    fn a_changed_body_an_old_timestamp_or_no_headers_are_refused() {
        let ts = TIMESTAMP.to_string();
        let changed = br#"{"test": 2432232315}"#;
        assert_eq!(
            check_signature(&headers(&ts, SIGNATURE), changed, &[key()], TIMESTAMP),
            Err(AuthRefusal::Wrong)
        );
        assert_eq!(
            check_signature(&headers(&ts, SIGNATURE), BODY, &[key()], TIMESTAMP + 301),
            Err(AuthRefusal::Stale)
        );
        assert_eq!(
            check_signature(&headers("soon", SIGNATURE), BODY, &[key()], TIMESTAMP),
            Err(AuthRefusal::Stale)
        );
        let none = SignedHeaders {
            id: None,
            timestamp: None,
            signature: None,
        };
        assert_eq!(
            check_signature(&none, BODY, &[key()], TIMESTAMP),
            Err(AuthRefusal::Missing)
        );
    }

    #[test]
    fn missing_headers_or_an_old_timestamp_are_refused_before_any_body() {
        let ts = TIMESTAMP.to_string();
        assert_eq!(
            check_signed_headers(&headers(&ts, SIGNATURE), TIMESTAMP),
            Ok(())
        );
        assert_eq!(
            check_signed_headers(&headers(&ts, SIGNATURE), TIMESTAMP - 301),
            Err(AuthRefusal::Stale)
        );
        let unsigned = SignedHeaders {
            signature: None,
            ..headers(&ts, SIGNATURE)
        };
        assert_eq!(
            check_signed_headers(&unsigned, TIMESTAMP),
            Err(AuthRefusal::Missing)
        );
    }

    #[test]
    fn bearer_tokens_must_match_exactly() {
        let token = SecretString::from("partner-token-0123456789abcdef");
        assert_eq!(
            check_bearer(Some("Bearer partner-token-0123456789abcdef"), &token),
            Ok(())
        );
        assert_eq!(
            check_bearer(Some("Bearer partner-token-0123456789abcdeF"), &token),
            Err(AuthRefusal::Wrong)
        );
        assert_eq!(
            check_bearer(Some("Basic abc"), &token),
            Err(AuthRefusal::Missing)
        );
        assert_eq!(check_bearer(None, &token), Err(AuthRefusal::Missing));
    }
}
