//! Keyed digests the service stores to recognise a secret or a personal
//! value again without keeping it: HMAC-SHA256 under a key derived from the
//! CareHQ secret (`carehq.api_secret`) for each purpose. Every instance
//! shares that secret and the database never holds it, so a copy of the
//! database (a backup, a replica) gives nothing to test guesses against, as
//! a plain hash would. Rotating the CareHQ secret changes every key: what was
//! stored under the old one is no longer recognised (see each purpose).

use hmac::{Hmac, KeyInit as _, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;

use crate::config::Settings;

type HmacSha256 = Hmac<Sha256>;

/// What a digest is for; each purpose has a key of its own, so a digest
/// made for one is never valid for another (and the CareHQ secret, which
/// also signs requests and made the first time-token key, keys none).
#[derive(Clone, Copy, Debug)]
pub enum Purpose {
    /// The staff token a console session signed in with.
    StaffSession,
    /// What a partner's enrollment said, kept with its event key.
    PartnerEnrollment,
    /// A form builder's webhook body (or a long entry id), as its
    /// idempotency key: a repeat is recognised without keeping the body.
    WebhookBody,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::StaffSession => b"enquiry-relay staff session fingerprint v1",
            Purpose::PartnerEnrollment => b"enquiry-relay partner enrollment fingerprint v1",
            Purpose::WebhookBody => b"enquiry-relay form-builder webhook body v1",
        }
    }
}

/// Hex HMAC-SHA256 of `message` under `purpose`'s key.
pub fn digest(settings: &Settings, purpose: Purpose, message: &[u8]) -> String {
    digest_with(&settings.carehq.api_secret, purpose, message)
}

fn digest_with(secret: &SecretString, purpose: Purpose, message: &[u8]) -> String {
    let key = mac(secret.expose_secret().as_bytes(), purpose.label());
    hex::encode(mac(&key, message))
}

fn mac(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail here. Were
    // it to, the empty result is refused by every comparison that uses it.
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_keyed_per_purpose_and_tells_messages_apart() {
        let key = SecretString::from("carehq-secret");
        let token = b"staff-token-0123456789abcdef0123456789";
        let print = digest_with(&key, Purpose::StaffSession, token);
        assert_eq!(print.len(), 64);
        assert_eq!(
            print,
            digest_with(&key, Purpose::StaffSession, token),
            "stable"
        );
        assert_ne!(
            print,
            digest_with(
                &key,
                Purpose::StaffSession,
                b"staff-token-0123456789abcdef012345678X"
            )
        );
        assert_ne!(
            print,
            digest_with(
                &SecretString::from("another-secret"),
                Purpose::StaffSession,
                token
            ),
            "keyed"
        );
        assert_ne!(
            print,
            digest_with(&key, Purpose::PartnerEnrollment, token),
            "a key per purpose"
        );
        // Not the plain SHA-256 of the message, which anyone could compute.
        use sha2::Digest as _;
        assert_ne!(print, hex::encode(Sha256::digest(token)));
    }
}
