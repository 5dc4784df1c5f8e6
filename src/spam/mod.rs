//! Spam and abuse defence for form posts: the client IP (through trusted
//! proxies only), per-IP and per-site rate limits, the origin allow-list and
//! CORS, the honeypot, the signed time token, and a counter per outcome.
//! CAPTCHA verification lives in `crate::captcha`.

mod client_ip;
mod counters;
mod honeypot;
mod origin;
mod rate_limit;
mod time_token;

/// Judged here, stored with the enquiry: a domain type, so storage reads
/// and writes it without importing `spam`.
pub use crate::domain::SpamVerdict;
pub use client_ip::client_ip;
pub use counters::{Outcome, count};
pub use honeypot::tripped as honeypot_tripped;
pub use origin::{
    OriginCheck, add_cors_headers, add_preflight_headers, check_origin, cors_allowed,
};
pub use rate_limit::{RateLimits, SiteToken, subscriber};
pub(crate) use rate_limit::{count_evictions, make_room};
pub use time_token::{TimeTokens, TokenCheck, unix_now};

use crate::config::Settings;
use crate::storage::TokenKeys;

/// The per-process state of the defences, built once from the settings.
pub struct SpamGuard {
    pub tokens: TimeTokens,
    pub limits: RateLimits,
}

impl SpamGuard {
    /// `keys` are the time-token keys stored in the database
    /// (`Store::time_token_keys`).
    pub fn new(settings: &Settings, keys: &TokenKeys) -> SpamGuard {
        let mut tokens = TimeTokens::new(
            &keys.key,
            settings.spam.min_fill_time,
            settings.spam.max_token_age,
        );
        if let Some((previous, replaced_at_ms)) = &keys.previous {
            let replaced_at = u64::try_from(*replaced_at_ms / 1000).unwrap_or(0);
            tokens = tokens.with_previous(previous, replaced_at);
        }
        SpamGuard {
            tokens,
            limits: RateLimits::new(
                settings.rate_limit.per_ip,
                settings.rate_limit.per_site,
                settings.rate_limit.per_site_held,
                settings.rate_limit.max_tracked_addresses,
            ),
        }
    }
}
