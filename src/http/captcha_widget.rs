//! The CAPTCHA provider's browser widget: the markup and script the hosted
//! form includes, and the origins the page's Content-Security-Policy must
//! allow for it. Verification of the token is done at intake, not here.

use crate::config::{CaptchaProvider, CaptchaSettings};

/// What the form page renders for the configured provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptchaWidget {
    /// `div` class the provider's script looks for (`cf-turnstile`, …); empty
    /// for ALTCHA, which is a custom element.
    pub class: &'static str,
    pub site_key: String,
    pub script_src: &'static str,
    /// Load the script with `type="module"` (Friendly Captcha v2, ALTCHA).
    pub module: bool,
    /// ALTCHA only: where the widget fetches its challenge.
    pub altcha_challenge_url: String,
}

/// Origins to add to each CSP directive for the provider's widget.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptchaSources {
    pub script: &'static str,
    pub frame: &'static str,
    pub style: &'static str,
    pub connect: &'static str,
    pub worker: &'static str,
}

/// Friendly Captcha v2 widget (posts `frc-captcha-response`) and ALTCHA v3
/// widget, pinned so a new release cannot change the page under us.
const FRIENDLY_SDK: &str = "https://cdn.jsdelivr.net/npm/@friendlycaptcha/sdk@1.0.2/site.min.js";
const ALTCHA_WIDGET: &str = "https://cdn.jsdelivr.net/npm/altcha@3.2.2/dist/altcha.min.js";

impl CaptchaWidget {
    /// `None` when the forms use no CAPTCHA (or no site key is configured).
    pub fn for_site(captcha: &CaptchaSettings, site_slug: &str) -> Option<CaptchaWidget> {
        let (class, script_src, module) = match captcha.provider {
            CaptchaProvider::None => return None,
            CaptchaProvider::Turnstile => (
                "cf-turnstile",
                "https://challenges.cloudflare.com/turnstile/v0/api.js",
                false,
            ),
            CaptchaProvider::Recaptcha => (
                "g-recaptcha",
                "https://www.google.com/recaptcha/api.js",
                false,
            ),
            CaptchaProvider::Hcaptcha => ("h-captcha", "https://js.hcaptcha.com/1/api.js", false),
            CaptchaProvider::Friendly => ("frc-captcha", FRIENDLY_SDK, true),
            CaptchaProvider::Altcha => ("", ALTCHA_WIDGET, true),
        };
        let site_key = captcha.site_key.clone().unwrap_or_default();
        if site_key.is_empty() && captcha.provider != CaptchaProvider::Altcha {
            return None;
        }
        Some(CaptchaWidget {
            class,
            site_key,
            script_src,
            module,
            altcha_challenge_url: format!("/altcha/challenge?site={site_slug}"),
        })
    }

    pub fn is_altcha(&self) -> bool {
        self.class.is_empty()
    }
}

/// The CSP additions for `provider`, from each provider's published CSP guidance.
pub fn sources(provider: CaptchaProvider) -> CaptchaSources {
    match provider {
        CaptchaProvider::None => CaptchaSources::default(),
        CaptchaProvider::Turnstile => CaptchaSources {
            script: "https://challenges.cloudflare.com",
            frame: "https://challenges.cloudflare.com",
            ..CaptchaSources::default()
        },
        CaptchaProvider::Recaptcha => CaptchaSources {
            script: "https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/",
            frame: "https://www.google.com/recaptcha/ https://recaptcha.google.com/recaptcha/",
            ..CaptchaSources::default()
        },
        CaptchaProvider::Hcaptcha => CaptchaSources {
            script: "https://hcaptcha.com https://*.hcaptcha.com",
            frame: "https://hcaptcha.com https://*.hcaptcha.com",
            style: "https://hcaptcha.com https://*.hcaptcha.com",
            connect: "https://hcaptcha.com https://*.hcaptcha.com",
            ..CaptchaSources::default()
        },
        CaptchaProvider::Friendly => CaptchaSources {
            script: "https://cdn.jsdelivr.net/npm/@friendlycaptcha/",
            connect: "https://global.frcapi.com https://eu.frcapi.com",
            worker: "blob:",
            ..CaptchaSources::default()
        },
        CaptchaProvider::Altcha => CaptchaSources {
            script: "https://cdn.jsdelivr.net/npm/altcha@3.2.2/",
            worker: "blob:",
            ..CaptchaSources::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OnCaptchaError;

    fn settings(provider: CaptchaProvider, key: Option<&str>) -> CaptchaSettings {
        CaptchaSettings {
            provider,
            site_key: key.map(str::to_owned),
            secret: None,
            verify_url: None,
            on_error: OnCaptchaError::Accept,
            min_score: 0.5,
            action: None,
            timeout: std::time::Duration::from_secs(10),
        }
    }

    #[test]
    fn widget_only_when_a_provider_and_key_are_set() {
        assert_eq!(
            CaptchaWidget::for_site(&settings(CaptchaProvider::None, Some("k")), "a"),
            None
        );
        assert_eq!(
            CaptchaWidget::for_site(&settings(CaptchaProvider::Turnstile, None), "a"),
            None
        );
        let turnstile =
            CaptchaWidget::for_site(&settings(CaptchaProvider::Turnstile, Some("1x00")), "a")
                .expect("widget");
        assert_eq!(turnstile.class, "cf-turnstile");
        assert_eq!(turnstile.site_key, "1x00");
        let altcha = CaptchaWidget::for_site(&settings(CaptchaProvider::Altcha, None), "a")
            .expect("ALTCHA needs no site key");
        assert!(altcha.is_altcha() && altcha.module);
    }

    #[test]
    fn every_widget_script_is_allowed_by_its_sources() {
        for provider in [
            CaptchaProvider::Turnstile,
            CaptchaProvider::Recaptcha,
            CaptchaProvider::Hcaptcha,
            CaptchaProvider::Friendly,
            CaptchaProvider::Altcha,
        ] {
            let widget =
                CaptchaWidget::for_site(&settings(provider, Some("k")), "a").expect("widget");
            let host = reqwest::Url::parse(widget.script_src)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            let allowed = sources(provider).script.split(' ').any(|source| {
                match source.split_once("://*.") {
                    Some((_, domain)) => host.ends_with(&format!(".{domain}")),
                    None => widget.script_src.starts_with(source),
                }
            });
            assert!(allowed, "{:?}: {}", provider, widget.script_src);
        }
    }
}
