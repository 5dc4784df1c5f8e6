//! Request authentication as CareHQ does it (docs/carehq-api.md, "Signing"): credentials,
//! signature version, timestamp window, v2.0 HMAC signature, nonce replay.
//!
//! Hints say what is wrong and what to do, never the secret or parameter values
//! (a hint may end up in the relay's logs, values are personal data).

use axum::http::HeaderMap;
use subtle::ConstantTimeEq;

use super::Sandbox;
use super::error::SandboxError;
use crate::carehq::signing::{self, SIGNATURE_VERSION};

const ACCOUNT_HEADER: &str = "x-carehq-accountid";
const KEY_HEADER: &str = "x-carehq-apikey";
const TIMESTAMP_HEADER: &str = "x-carehq-timestamp";
const NONCE_HEADER: &str = "x-carehq-nonce";
const VERSION_HEADER: &str = "x-carehq-signature-version";
const SIGNATURE_HEADER: &str = "x-carehq-signature";

/// What was signed: the method, the `/v1/...` path and the signed parameter set.
pub struct Signed<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub params: &'a [(String, String)],
}

/// Admits the request or says, in the hint, why CareHQ would refuse it.
pub fn authenticate(
    sandbox: &Sandbox,
    headers: &HeaderMap,
    signed: &Signed<'_>,
    now: i64,
) -> Result<(), SandboxError> {
    let config = sandbox.config();
    let account = header(headers, ACCOUNT_HEADER, "X-CareHQ-AccountId")?;
    let key = header(headers, KEY_HEADER, "X-CareHQ-APIKey")?;
    let timestamp = header(headers, TIMESTAMP_HEADER, "X-CareHQ-Timestamp")?;
    let nonce = header(headers, NONCE_HEADER, "X-CareHQ-Nonce")?;
    let version = header(headers, VERSION_HEADER, "X-CareHQ-Signature-Version")?;
    let presented = header(headers, SIGNATURE_HEADER, "X-CareHQ-Signature")?;

    let account_ok = account.as_bytes().ct_eq(config.account_id.as_bytes());
    let key_ok = key.as_bytes().ct_eq(config.api_key.as_bytes());
    if !bool::from(account_ok & key_ok) {
        return Err(refuse(
            "Unknown account Id or API key. Use the account Id and API key the sandbox was started with (the defaults are in src/sandbox/seed.rs).",
        ));
    }
    if version != SIGNATURE_VERSION {
        return Err(refuse(&format!(
            "X-CareHQ-Signature-Version must be {SIGNATURE_VERSION}; the legacy v1 scheme is not accepted. Sign with HMAC-SHA256 as docs/carehq-api.md, \"Signing\", describes."
        )));
    }
    let signed_at: i64 = timestamp.parse().map_err(|_| {
        refuse("X-CareHQ-Timestamp must be whole Unix seconds in decimal, e.g. 1735689600.")
    })?;
    let window = i64::try_from(config.timestamp_window.as_secs()).unwrap_or(i64::MAX);
    let skew = now.saturating_sub(signed_at);
    if skew.saturating_abs() > window {
        return Err(refuse(&format!(
            "X-CareHQ-Timestamp is {skew} s away from the sandbox clock; at most {window} s is allowed. Sign each request just before sending it and keep the clock in sync (NTP)."
        )));
    }
    if !is_nonce(nonce) {
        return Err(refuse(
            "X-CareHQ-Nonce must be 16 fresh random bytes in unpadded base64url (22 characters of A-Z a-z 0-9 - _).",
        ));
    }

    let canonical = signing::canonical_string(signed.params);
    let message = signing::string_to_sign(timestamp, nonce, signed.method, signed.path, &canonical);
    if !signing::verify(&config.api_secret, &message, presented) {
        return Err(refuse(&mismatch_hint(signed)));
    }

    let fresh = sandbox
        .state()
        .remember_nonce(nonce, signed_at, now, window);
    if !fresh {
        return Err(refuse(&format!(
            "X-CareHQ-Nonce was already used within the last {window} s, so this looks like a replay. Generate a new nonce for every request, retries included."
        )));
    }
    Ok(())
}

fn header<'h>(headers: &'h HeaderMap, name: &str, shown: &str) -> Result<&'h str, SandboxError> {
    let value = headers.get(name).ok_or_else(|| {
        refuse(&format!(
            "Missing header {shown}. Every request needs X-CareHQ-AccountId, X-CareHQ-APIKey, X-CareHQ-Timestamp, X-CareHQ-Nonce, X-CareHQ-Signature-Version and X-CareHQ-Signature."
        ))
    })?;
    value
        .to_str()
        .map_err(|_| refuse(&format!("Header {shown} must be plain ASCII text.")))
}

fn is_nonce(nonce: &str) -> bool {
    nonce.len() == 22
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn mismatch_hint(signed: &Signed<'_>) -> String {
    let mut names: Vec<&str> = signed.params.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let set = if signed.method.eq_ignore_ascii_case("GET") {
        "query parameters"
    } else {
        "form body fields"
    };
    format!(
        "Signature does not match. The sandbox signed {} {} over the {set} [{}]. Check the API secret, and sign exactly the parameters you send (GET: the query; other methods: the body).",
        signed.method.to_ascii_uppercase(),
        signed.path,
        names.join(", ")
    )
}

fn refuse(hint: &str) -> SandboxError {
    SandboxError::Unauthorized(hint.to_owned())
}
