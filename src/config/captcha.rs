//! `[captcha]` and a site's `[sites.captcha]` (read merged over it, key by
//! key): the provider, its keys, and what to do when it cannot be reached.

use std::time::Duration;

use figment::value::{Dict, Value};
use secrecy::SecretString;
use serde::de::{Deserializer, Error};

use super::env_names::env_var_name;
use super::error::Problems;
use super::fields;
use super::secrets;
use crate::values::HttpUrl;

fields::section! {
    /// `[captcha]`, or a site's merged `[sites.captcha]`.
    #[derive(Clone, Debug)]
    pub struct CaptchaSettings {
        pub provider: CaptchaProvider ["fields::parsed"] = CaptchaProvider::None,
        pub site_key: Option<String> ["fields::some"] = None,
        /// The provider's secret key; for ALTCHA the HMAC key challenges are signed with.
        pub secret: Option<SecretString> ["fields::secret"] = None,
        /// Overrides the provider's verification endpoint (tests point it at a fake).
        pub verify_url: Option<String> ["fields::some_via::<_, HttpUrl, _>"] = None,
        pub on_error: OnCaptchaError ["fields::parsed"] = OnCaptchaError::Accept,
        /// reCAPTCHA v3: lowest score accepted (0.0 to 1.0).
        pub min_score: f64 ["score"] = 0.5,
        /// The action the widget must report (reCAPTCHA v3, Turnstile); `None` skips the check.
        pub action: Option<String> ["fields::some"] = None,
        /// How long to wait for the provider's verdict.
        pub timeout: Duration ["fields::positive_duration"] = Duration::from_secs(10),
    }
}

fn score<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let text = fields::text(d)?;
    let text = text.trim();
    (text.parse::<f64>().ok())
        .filter(|score| (0.0..=1.0).contains(score))
        .ok_or_else(|| {
            D::Error::custom(format!(
                "\"{text}\" is not a score; give a number from 0.0 to 1.0 (Google suggests 0.5)"
            ))
        })
}

/// A site's `[sites.captcha]` table over `[captcha]`'s, key by key. The
/// secret and its `_file` move as a pair, so a site giving one does not end
/// up with both.
pub(super) fn over(own: &Dict, global: &Dict) -> Dict {
    let own_secret = own.contains_key("secret") || own.contains_key("secret_file");
    let mut merged = global.clone();
    // A global key that is not one is named once, for [captcha] only.
    let known = |key: &str| key == "secret_file" || CaptchaSettings::KEYS.contains(&key);
    merged.retain(|key, _| known(key));
    if own_secret {
        merged.remove("secret");
        merged.remove("secret_file");
    }
    merged.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged
}

/// The `[captcha]` table as written, to lay a site's own over.
pub(super) fn global_table(root: &Dict) -> Dict {
    match root.get("captcha") {
        Some(Value::Dict(_, dict)) => dict.clone(),
        _ => Dict::new(),
    }
}

/// The keys a provider cannot work without (keys start with `prefix`).
pub(super) fn required_keys(prefix: &str, c: &CaptchaSettings, p: &mut Problems) {
    let key = |name: &str| format!("{prefix}.{name}");
    let name = c.provider.as_str();
    if c.provider == CaptchaProvider::None {
        return;
    }
    if c.secret.is_none() {
        let what = if c.provider == CaptchaProvider::Altcha {
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
    if c.site_key.is_none() && c.provider != CaptchaProvider::Altcha {
        p.push(
            key("site_key"),
            format!(
                "required when captcha.provider is \"{name}\"; copy the site key from the provider's dashboard (or set {})",
                env_var_name(&key("site_key"))
            ),
        );
    }
}

fields::named! {
    /// Which CAPTCHA the forms use; written in lower case in the file.
    #[derive(Default)]
    pub enum CaptchaProvider {
        #[default]
        None = "none",
        Turnstile = "turnstile",
        Recaptcha = "recaptcha",
        Hcaptcha = "hcaptcha",
        Friendly = "friendly",
        Altcha = "altcha",
    }
}

fields::named! {
    /// What to do with a submission when the CAPTCHA provider cannot be reached.
    #[derive(Default)]
    pub enum OnCaptchaError {
        /// Store and deliver it as usual.
        #[default]
        Accept = "accept",
        /// Store it as `held` for a person to release.
        Hold = "hold",
        /// Refuse it and ask the family to try again.
        Reject = "reject",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_any_case() {
        for &provider in CaptchaProvider::ALL {
            let upper = provider.as_str().to_ascii_uppercase();
            assert_eq!(upper.parse::<CaptchaProvider>(), Ok(provider));
        }
        assert_eq!("HOLD".parse::<OnCaptchaError>(), Ok(OnCaptchaError::Hold));
        let error = "ignore".parse::<OnCaptchaError>().unwrap_err();
        assert_eq!(
            error,
            "\"ignore\" is not allowed; expected one of: accept, hold, reject"
        );
    }

    #[test]
    fn the_merged_keys_are_the_fields() {
        let mut dict = Dict::new();
        dict.insert("zz".into(), Value::from("x"));
        let error = Value::from(dict)
            .deserialize::<CaptchaSettings>()
            .unwrap_err();
        let figment::error::Kind::UnknownField(_, expected) = &error.kind else {
            panic!("{error}");
        };
        assert_eq!(expected.to_vec(), CaptchaSettings::KEYS);
    }
}
