//! The keyed fingerprint of the staff token a console session signed in
//! with, stored with the session so that a session ends when its token
//! changes: a leaked token that is rotated (the global `staff.token` or an
//! account's `staff_token`) stops working in browsers already signed in with
//! it, after a restart and on every instance. The fingerprint is a
//! `keyed_digest` (never a plain hash, which a copy of the database would let
//! anyone test guessed tokens against); rotating the CareHQ secret changes
//! its key, and so ends every session too.

use secrecy::{ExposeSecret as _, SecretString};
use subtle::ConstantTimeEq as _;

use super::keyed_digest::{self, Purpose};
use crate::config::Settings;

/// The fingerprint a new session stores for the staff token it signed in with.
pub fn fingerprint(settings: &Settings, token: &str) -> String {
    keyed_digest::digest(settings, Purpose::StaffSession, token.as_bytes())
}

/// The staff token now configured for a session's scope: the global one
/// (`account: None`) or that account's.
fn configured_token<'s>(settings: &'s Settings, account: Option<&str>) -> Option<&'s SecretString> {
    match account {
        None => settings.staff.token.as_ref(),
        Some(name) => (settings.accounts.iter())
            .find(|a| a.name == name)
            .and_then(|a| a.staff_token.as_ref()),
    }
}

/// Whether a session's stored fingerprint is that of the token its scope is
/// configured with now. A session without one (from before fingerprints
/// were kept) never is: which token opened it is unknown.
pub fn still_configured(settings: &Settings, account: Option<&str>, stored: Option<&str>) -> bool {
    let (Some(token), Some(stored)) = (configured_token(settings, account), stored) else {
        return false;
    };
    let now = fingerprint(settings, token.expose_secret());
    !now.is_empty() && bool::from(now.as_bytes().ct_eq(stored.as_bytes()))
}
