//! `[captcha]` and a site's `[sites.captcha]` (merged over it): provider,
//! keys, what to do when the provider cannot be reached.

use std::time::Duration;

use super::checks::{choice, http_url, positive_duration};
use super::env_names::env_var_name;
use super::error::Problems;
use super::raw::RawCaptcha;
use super::secrets;
use super::sections::{CaptchaProvider, CaptchaSettings, OnCaptchaError};
use super::text::text;

const DEFAULT_MIN_SCORE: f64 = 0.5;

/// `[captcha]`, or a site's merged `[sites.captcha]` (keys then start with `prefix`).
pub(super) fn captcha(prefix: &str, raw: RawCaptcha, p: &mut Problems) -> Option<CaptchaSettings> {
    let key = |name: &str| format!("{prefix}.{name}");
    let provider = choice(
        &key("provider"),
        &raw.provider,
        CaptchaProvider::NAMES,
        CaptchaProvider::None,
        p,
    );
    let on_error = choice(
        &key("on_error"),
        &raw.on_error,
        OnCaptchaError::NAMES,
        OnCaptchaError::Accept,
        p,
    );
    let secret = secrets::resolve(&key("secret"), raw.secret, &raw.secret_file, p);
    let site_key = text(&raw.site_key).map(str::to_owned);
    let verify_url = match text(&raw.verify_url) {
        None => Some(None),
        Some(v) => http_url(
            &key("verify_url"),
            v,
            "https://challenges.cloudflare.com/turnstile/v0/siteverify",
            p,
        )
        .map(|_| Some(v.to_owned())),
    };
    if let Some(provider) = provider.filter(|p| *p != CaptchaProvider::None) {
        let name = provider.as_str();
        if secret.is_none() {
            let what = if provider == CaptchaProvider::Altcha {
                "the HMAC key ALTCHA challenges are signed with: any long random string"
            } else {
                "the secret key from the provider's dashboard"
            };
            p.push(
                key("secret"),
                format!(
                    "required when captcha.provider is \"{name}\" ({what}); {}",
                    secrets::how_to_set(&key("secret"))
                ),
            );
        }
        if site_key.is_none() && provider != CaptchaProvider::Altcha {
            p.push(
                key("site_key"),
                format!(
                    "required when captcha.provider is \"{name}\"; copy the site key from the provider's dashboard (or set {})",
                    env_var_name(&key("site_key"))
                ),
            );
        }
    }
    let min_score = match text(&raw.min_score) {
        None => Some(DEFAULT_MIN_SCORE),
        Some(v) => match v.parse::<f64>() {
            Ok(score) if (0.0..=1.0).contains(&score) => Some(score),
            _ => {
                p.push(
                    key("min_score"),
                    format!("\"{v}\" is not a score; give a number from 0.0 to 1.0 (Google suggests 0.5)"),
                );
                None
            }
        },
    };
    let action = text(&raw.action).map(str::to_owned);
    let timeout = positive_duration(&key("timeout"), &raw.timeout, Duration::from_secs(10), p);
    Some(CaptchaSettings {
        provider: provider?,
        site_key,
        secret,
        verify_url: verify_url?,
        on_error: on_error?,
        min_score: min_score?,
        action,
        timeout: timeout?,
    })
}
