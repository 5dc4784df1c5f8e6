//! `[carehq]`'s credentials, and the margins `[sync]`'s lease and shutdown
//! grace keep over `carehq.timeout`.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::env_names::env_var_name;
use super::error::Problems;
use super::secrets;
use super::sections::CareHqSettings;
use crate::sandbox::seed;

/// How much longer than `carehq.timeout` shutdown waits for sends in flight:
/// a send started just before the signal may take the whole timeout, and its
/// outcome still has to be written. Cutting a send off early risks a
/// duplicate (CareHQ finishes creating after we have gone; the row is sent
/// again after its lease).
pub(super) const SHUTDOWN_MARGIN: Duration = Duration::from_secs(5);
/// How much longer than `carehq.timeout` the default lease is.
pub(super) const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// How much longer than `carehq.timeout` a lease must be at least: 3 s to
/// record the outcome after CareHQ answers, with retries if the write fails
/// (`sync::outcome::RECORD_TIME`), and 2 s for the claim-to-send preparation.
/// Less, and a send still in progress could be claimed again and duplicated.
pub const LEASE_MIN_MARGIN: Duration = Duration::from_secs(5);

/// In sandbox mode the seed credentials stand in for whatever is unset;
/// outside it, a missing credential would only surface as a 401 at the first
/// delivery, so it stops start-up here instead. `refused`: a key of the
/// section had a problem (a misspelt credential, or the sandbox switch), so
/// unset ones are not also blamed.
pub(super) fn carehq(c: &mut CareHqSettings, refused: bool, p: &mut Problems) {
    let unset = |s: &SecretString| s.expose_secret().is_empty();
    if c.sandbox {
        if c.account_id.is_empty() {
            c.account_id = seed::ACCOUNT_ID.to_owned();
        }
        if unset(&c.api_key) {
            c.api_key = SecretString::from(seed::API_KEY);
        }
        if unset(&c.api_secret) {
            c.api_secret = SecretString::from(seed::API_SECRET);
        }
    } else if !refused {
        let sandbox_hint =
            "; or set carehq.sandbox = true to try the relay against the built-in sandbox";
        if c.account_id.is_empty() {
            p.push(
                "carehq.account_id",
                format!(
                    "not set; set carehq.account_id in the config file or the environment variable {} (CareHQ: Account > API keys){sandbox_hint}",
                    env_var_name("carehq.account_id")
                ),
            );
        }
        for (key, value) in [
            ("carehq.api_key", &c.api_key),
            ("carehq.api_secret", &c.api_secret),
        ] {
            if unset(value) {
                p.push(
                    key,
                    format!("not set; {}{sandbox_hint}", secrets::how_to_set(key)),
                );
            }
        }
    }
}
