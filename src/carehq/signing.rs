//! CareHQ request signing, version 2.0 (shared/carehq-api.md §2.3).
//!
//! Owns the canonical parameter string, the string to sign and the HMAC. The
//! client signs with it and the sandbox verifies with it; the unit tests at the
//! bottom reproduce every vector computed by CareHQ's official Python client.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Version sent in `X-CareHQ-Signature-Version`.
pub const SIGNATURE_VERSION: &str = "2.0";

/// Parameters as ordered `(key, value)` pairs; a key may repeat (lists).
/// The body sent on the wire is encoded from exactly these pairs, so what is
/// signed is what CareHQ receives.
pub type Params = [(String, String)];

/// Canonical parameter string: keys sorted, each key's values sorted, one
/// raw `key=value` line per value, joined by LF, no trailing LF.
pub fn canonical_string(params: &Params) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // Sorting the pairs sorts keys first, then values within a key: exactly the
    // reference client's "sort keys, then sort each key's list" (byte order).
    pairs.sort_unstable();
    let mut out = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// The signed path: `/v1/` + the resource path with surrounding slashes removed.
pub fn signed_path(resource: &str) -> String {
    format!("/v1/{}", resource.trim_matches('/'))
}

/// `timestamp LF nonce LF METHOD LF path LF canonical`.
pub fn string_to_sign(
    timestamp: &str,
    nonce: &str,
    method: &str,
    path: &str,
    canonical: &str,
) -> String {
    format!(
        "{timestamp}\n{nonce}\n{}\n{path}\n{canonical}",
        method.to_ascii_uppercase()
    )
}

/// Lowercase hex HMAC-SHA256 of `message` keyed with the API secret.
pub fn signature(secret: &str, message: &str) -> String {
    hex::encode(mac(secret, message).finalize().into_bytes())
}

/// Constant-time check of a presented signature (the sandbox uses this).
pub fn verify(secret: &str, message: &str, presented_hex: &str) -> bool {
    match hex::decode(presented_hex) {
        Ok(bytes) => mac(secret, message).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

fn mac(secret: &str, message: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(message.as_bytes());
    mac
}

/// 16 fresh random bytes, base64url without padding (22 characters).
pub fn new_nonce() -> Result<String, getrandom::Error> {
    use base64::Engine as _;
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vector_params(params: &Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (key, value) in params.as_object().into_iter().flatten() {
            match value {
                Value::Array(items) => {
                    for item in items {
                        out.push((key.clone(), item.as_str().unwrap_or_default().to_owned()));
                    }
                }
                Value::String(s) => out.push((key.clone(), s.clone())),
                other => out.push((key.clone(), other.to_string())),
            }
        }
        out
    }

    #[test]
    fn reproduces_every_official_signing_vector() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/carehq-signing-vectors.json"
        );
        let text = std::fs::read_to_string(path)
            .expect("shared/carehq-signing-vectors.json is beside the project");
        let doc: Value = serde_json::from_str(&text).expect("vectors file is JSON");
        let vectors = doc["vectors"].as_array().expect("vectors array");
        assert!(vectors.len() >= 3, "expected at least three vectors");
        for v in vectors {
            let name = v["name"].as_str().unwrap_or("?");
            let params = vector_params(&v["params"]);
            let canonical = canonical_string(&params);
            assert_eq!(
                canonical,
                v["canonical"].as_str().unwrap(),
                "canonical string of {name}"
            );
            let message = string_to_sign(
                v["timestamp"].as_str().unwrap(),
                v["nonce"].as_str().unwrap(),
                v["method"].as_str().unwrap(),
                &signed_path(v["path"].as_str().unwrap()),
                &canonical,
            );
            assert_eq!(
                message,
                v["string_to_sign"].as_str().unwrap(),
                "string to sign of {name}"
            );
            let expected = v["signature"].as_str().unwrap();
            assert_eq!(
                signature(v["secret"].as_str().unwrap(), &message),
                expected,
                "signature of {name}"
            );
            assert!(verify(v["secret"].as_str().unwrap(), &message, expected));
            assert!(!verify("another-secret", &message, expected));
        }
    }

    #[test]
    fn nonce_is_22_url_safe_characters_and_fresh() {
        let a = new_nonce().unwrap();
        let b = new_nonce().unwrap();
        assert_eq!(a.len(), 22);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, b);
    }

    #[test]
    fn empty_params_give_empty_canonical_string_and_trailing_lf() {
        assert_eq!(canonical_string(&[]), "");
        assert!(string_to_sign("1", "n", "patch", "/v1/x", "").ends_with("/v1/x\n"));
    }
}
