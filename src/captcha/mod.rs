//! CAPTCHA verification for form posts: one entry point over every provider
//! (`[captcha]`, overridable per site in `[sites.captcha]`). Hosted providers
//! are asked over HTTP (`hosted`); ALTCHA is checked locally (`altcha`).
//! Every token passes at most once (`replay`).

mod altcha;
mod hosted;
mod replay;
mod verdict;

pub use self::altcha::{AltchaDifficulty, new_challenge};
pub use hosted::{Expected, default_verify_url};
pub use replay::SeenTokens;
pub use verdict::Verdict;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::config::{CaptchaProvider, CaptchaSettings};
use crate::domain::RawSubmission;

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

/// Shared by every request: the HTTP client and the used-token memory.
pub struct Captcha {
    client: reqwest::Client,
    seen: SeenTokens,
    pub altcha: AltchaDifficulty,
}

impl Captcha {
    pub fn new(client: reqwest::Client) -> Captcha {
        Captcha {
            client,
            seen: SeenTokens::default(),
            altcha: AltchaDifficulty::default(),
        }
    }

    /// Check the post's token. `hosts` are the host names the widget may have
    /// been solved on; `post_key` is the post's idempotency key, if any.
    pub async fn check(
        &self,
        settings: &CaptchaSettings,
        raw: &RawSubmission,
        remote_ip: IpAddr,
        hosts: &[String],
        post_key: Option<&str>,
    ) -> Verdict {
        let Some(field) = token_field(settings.provider) else {
            return Verdict::Passed;
        };
        let token = raw.first(field).map(str::trim).unwrap_or_default();
        if token.is_empty() {
            return Verdict::failed("missing-input-response");
        }
        if token.len() > MAX_TOKEN {
            return Verdict::failed("token too long");
        }
        let Some(secret) = &settings.secret else {
            return Verdict::misconfigured("no secret configured");
        };
        if settings.provider == CaptchaProvider::Altcha {
            return altcha::verify(secret, token, &self.seen, post_key);
        }
        // A token that passed before is refused here, without asking the
        // provider, which would only say "duplicate" after a round trip.
        if self.seen.used_by_another(token, post_key, Instant::now()) {
            return Verdict::failed("token already used");
        }
        // The same post again (double click, retry): it passed before, and
        // asking again would earn a "duplicate" from most providers.
        if self.seen.repeat_of(token, post_key, Instant::now()) {
            return Verdict::Passed;
        }
        let expected = Expected { hosts, post_key };
        let verdict = hosted::verify(&self.client, settings, token, remote_ip, &expected).await;
        let life = token_life(settings.provider);
        if verdict == Verdict::Passed && !self.seen.first_use(token, post_key, life, Instant::now())
        {
            // Two posts raced with one token: only the first counts.
            return Verdict::failed("token already used");
        }
        verdict
    }
}
