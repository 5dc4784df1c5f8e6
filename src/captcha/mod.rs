//! CAPTCHA verification for form posts: one entry point over every provider
//! (`[captcha]`, overridable per site in `[sites.captcha]`). Hosted providers
//! are asked over HTTP (`hosted`); ALTCHA is checked locally (`altcha`).
//! Every token passes at most once: a hosted token that passed and an
//! ALTCHA solution are both recorded as spent in the database (digests
//! only), shared by every instance and kept across restarts. A repeat of the
//! same post (same site and idempotency key) may pass again.

mod altcha;
mod hosted;
mod verdict;

pub use self::altcha::{AltchaDifficulty, new_challenge, new_challenge_expiring};
pub use hosted::{Expected, default_verify_url};
pub use verdict::Verdict;

use std::net::IpAddr;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::config::{CaptchaProvider, CaptchaSettings};
use crate::domain::RawSubmission;
use crate::storage::{Spend, Store, StoreError};

/// Fields CAPTCHA widgets add to a form: tokens, never anything the family wrote.
pub const WIDGET_FIELDS: &[&str] = &[
    "g-recaptcha-response",
    "h-captcha-response",
    "cf-turnstile-response",
    "frc-captcha-response",
    "frc-captcha-solution",
    "altcha",
];

/// Longest token accepted before asking anyone (Turnstile documents 2048;
/// Friendly Captcha 16 KB; ALTCHA payloads are well under that).
const MAX_TOKEN: usize = 16 * 1024;

/// The field the provider's widget posts its token in.
pub fn token_field(provider: CaptchaProvider) -> Option<&'static str> {
    match provider {
        CaptchaProvider::None => None,
        CaptchaProvider::Turnstile => Some("cf-turnstile-response"),
        CaptchaProvider::Recaptcha => Some("g-recaptcha-response"),
        CaptchaProvider::Hcaptcha => Some("h-captcha-response"),
        CaptchaProvider::Friendly => Some("frc-captcha-response"),
        CaptchaProvider::Altcha => Some("altcha"),
    }
}

/// How long a provider's token stays valid, hence how long we remember it.
fn token_life(provider: CaptchaProvider) -> Duration {
    match provider {
        CaptchaProvider::Turnstile => Duration::from_secs(300),
        CaptchaProvider::Recaptcha | CaptchaProvider::Hcaptcha => Duration::from_secs(120),
        // Friendly Captcha does not publish a lifetime: an hour is generous.
        _ => Duration::from_secs(3600),
    }
}

/// Shared by every request: the HTTP client and the store that remembers
/// spent tokens and solutions.
pub struct Captcha {
    client: reqwest::Client,
    store: Store,
    pub altcha: AltchaDifficulty,
}

impl Captcha {
    pub fn new(client: reqwest::Client, store: Store) -> Captcha {
        Captcha {
            client,
            store,
            altcha: AltchaDifficulty::default(),
        }
    }

    /// Check the post's token for the site `site`. `hosts` are the host names
    /// the widget may have been solved on; `post_key` is the post's
    /// idempotency key, if any. `Err` only when the database could not read
    /// or record a spent token.
    pub async fn check(
        &self,
        settings: &CaptchaSettings,
        site: &str,
        raw: &RawSubmission,
        remote_ip: IpAddr,
        hosts: &[String],
        post_key: Option<&str>,
    ) -> Result<Verdict, StoreError> {
        let Some(field) = token_field(settings.provider) else {
            return Ok(Verdict::Passed);
        };
        let token = raw.first(field).map(str::trim).unwrap_or_default();
        if token.is_empty() {
            return Ok(Verdict::failed("missing-input-response"));
        }
        if token.len() > MAX_TOKEN {
            return Ok(Verdict::failed("token too long"));
        }
        let Some(secret) = &settings.secret else {
            return Ok(Verdict::misconfigured("no secret configured"));
        };
        // Idempotency keys are stored per site, so "the same post" is the same
        // key *on the same site*: the key alone would let one token, posted
        // with one key to a second site, pass there unasked.
        let tag = post_key.map(|key| post_tag(site, key));
        let tag = tag.as_deref();
        if settings.provider == CaptchaProvider::Altcha {
            return self.spend_altcha(secret, token, tag).await;
        }
        let digest = hex_digest(&format!("hosted|{token}"));
        let tag_digest = tag.map(hex_digest);
        let now = crate::storage::now_ms();
        match self.store.solution_spent_by(&digest, now).await? {
            // The same post again (double click, retry): it passed before, and
            // asking again would earn a "duplicate" from most providers.
            Some(Some(first)) if tag_digest.as_deref() == Some(first.as_str()) => {
                return Ok(Verdict::Passed);
            }
            // Passed before for another post, on any instance: refused here,
            // without asking the provider, which would only say "duplicate"
            // after a round trip.
            Some(_) => return Ok(Verdict::failed("token already used")),
            None => {}
        }
        let expected = Expected {
            hosts,
            post_key: tag,
        };
        let verdict = hosted::verify(&self.client, settings, token, remote_ip, &expected).await;
        if verdict != Verdict::Passed {
            return Ok(verdict);
        }
        let life_ms = i64::try_from(token_life(settings.provider).as_millis()).unwrap_or(i64::MAX);
        let spend = self
            .store
            .spend_solution(
                &digest,
                tag_digest.as_deref(),
                now.saturating_add(life_ms),
                now,
            )
            .await?;
        Ok(match spend {
            Spend::First | Spend::Repeat => Verdict::Passed,
            // Two posts raced with one token: only the first counts.
            Spend::Replay => Verdict::failed("token already used"),
        })
    }

    /// An ALTCHA solution passes when it checks out and the database has not
    /// seen it spent by another post (on any instance).
    async fn spend_altcha(
        &self,
        secret: &secrecy::SecretString,
        token: &str,
        tag: Option<&str>,
    ) -> Result<Verdict, StoreError> {
        // Only a solution whose signature checked out is recorded, so junk
        // cannot fill the table.
        let solved = match altcha::check(secret, token) {
            Ok(solved) => solved,
            Err(verdict) => return Ok(verdict),
        };
        let expires_ms = i64::try_from(solved.expires_at.saturating_mul(1000)).unwrap_or(i64::MAX);
        let spend = self
            .store
            .spend_solution(
                &hex_digest(&format!("altcha|{}", solved.nonce)),
                tag.map(hex_digest).as_deref(),
                expires_ms,
                crate::storage::now_ms(),
            )
            .await?;
        Ok(match spend {
            Spend::First | Spend::Repeat => Verdict::Passed,
            Spend::Replay => Verdict::failed("altcha challenge already used"),
        })
    }
}

/// The identity of one post: its site and idempotency key.
fn post_tag(site: &str, key: &str) -> String {
    // A separator no slug contains, so ("a", "b|c") and ("a|b", "c") differ.
    format!("{site}\n{key}")
}

fn hex_digest(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}
