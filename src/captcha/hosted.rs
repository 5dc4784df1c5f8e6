//! Verification against a hosted provider's siteverify endpoint: Turnstile,
//! reCAPTCHA v2/v3, hCaptcha (form posts) and Friendly Captcha v2 (JSON with
//! an API-key header). A call whose connection could not be made (nothing
//! was sent) is tried again at once. Turnstile is also asked once more after
//! a 5xx, `internal-error` or a timeout, with the same `idempotency_key`, as
//! Cloudflare asks, so the retry does not count as a second use of the
//! token; the other providers have no such key, and a retry could earn the
//! family a "duplicate" for a token the first call did redeem. All of it fits
//! in `captcha.timeout`.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde::Deserialize;

use super::verdict::Verdict;
use crate::config::{CaptchaProvider, CaptchaSettings};
use crate::outgoing::{MAX_ANSWER_BYTES, ReadError, read_capped};

/// The provider's own endpoint, used when `verify_url` is unset.
pub fn default_verify_url(provider: CaptchaProvider) -> &'static str {
    match provider {
        CaptchaProvider::Turnstile => "https://challenges.cloudflare.com/turnstile/v0/siteverify",
        CaptchaProvider::Recaptcha => "https://www.google.com/recaptcha/api/siteverify",
        CaptchaProvider::Hcaptcha => "https://api.hcaptcha.com/siteverify",
        CaptchaProvider::Friendly => "https://global.frcapi.com/api/v2/captcha/siteverify",
        CaptchaProvider::None | CaptchaProvider::Altcha => "",
    }
}

/// What the answer must match besides `success`.
pub struct Expected<'a> {
    /// Hosts the widget may have been solved on; empty skips the check.
    pub hosts: &'a [String],
    /// The post's idempotency key: a repeat of one post sends Turnstile the
    /// same `idempotency_key`, so a double click is not a "duplicate".
    pub post_key: Option<&'a str>,
}

/// The reply of Google, hCaptcha and Cloudflare (lenient: unknown fields ignored).
#[derive(Deserialize)]
struct SiteverifyReply {
    success: bool,
    #[serde(default, rename = "error-codes")]
    error_codes: Vec<String>,
    hostname: Option<String>,
    score: Option<f64>,
    action: Option<String>,
}

/// Friendly Captcha v2's reply.
#[derive(Deserialize)]
struct FriendlyReply {
    success: bool,
    error: Option<FriendlyError>,
    data: Option<FriendlyData>,
}

#[derive(Deserialize)]
struct FriendlyError {
    error_code: String,
}

#[derive(Deserialize)]
struct FriendlyData {
    challenge: Option<FriendlyChallenge>,
}

#[derive(Deserialize)]
struct FriendlyChallenge {
    origin: Option<String>,
}

/// Error codes that mean our keys or request are wrong, not the family's token.
const CONFIG_CODES: &[&str] = &[
    "missing-input-secret",
    "invalid-input-secret",
    "sitekey-secret-mismatch",
    // hCaptcha: these describe the IP we sent, not the family's token.
    "missing-remoteip",
    "invalid-remoteip",
    "not-using-dummy-passcode",
    "not-using-dummy-secret",
    "bad-request",
    "auth_required",
    "auth_invalid",
    "sitekey_invalid",
    "bad_request",
];

pub async fn verify(
    client: &reqwest::Client,
    settings: &CaptchaSettings,
    token: &str,
    remote_ip: IpAddr,
    expected: &Expected<'_>,
) -> Verdict {
    let start = Instant::now();
    let deadline = start + settings.timeout;
    if settings.provider != CaptchaProvider::Turnstile {
        return ask(client, settings, token, remote_ip, expected, "", deadline).await;
    }
    // One key for both calls: Cloudflare treats the second as a retry of the
    // first, not a second redemption of the token.
    let key = turnstile_key(expected.post_key);
    // The first call gets half the time, so a hung first call leaves the
    // retry the other half.
    let first = start + settings.timeout / 2;
    match ask(client, settings, token, remote_ip, expected, &key, first).await {
        Verdict::Unavailable { .. } if Instant::now() < deadline => {
            ask(client, settings, token, remote_ip, expected, &key, deadline).await
        }
        verdict => verdict,
    }
}

/// One siteverify call (two if the connection could not be made), by `deadline`.
async fn ask(
    client: &reqwest::Client,
    settings: &CaptchaSettings,
    token: &str,
    remote_ip: IpAddr,
    expected: &Expected<'_>,
    idempotency_key: &str,
    deadline: Instant,
) -> Verdict {
    let url = settings
        .verify_url
        .as_deref()
        .unwrap_or_else(|| default_verify_url(settings.provider));
    let secret = settings
        .secret
        .as_ref()
        .map(|s| s.expose_secret().to_owned())
        .unwrap_or_default();
    let ip = remote_ip.to_string();
    let send = || {
        // At least a millisecond: reqwest reads zero as "no timeout".
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let request = client.post(url).timeout(left);
        match settings.provider {
            CaptchaProvider::Friendly => {
                let mut body = serde_json::json!({"response": token});
                if let Some(key) = &settings.site_key {
                    body["sitekey"] = key.clone().into();
                }
                request.header("X-API-Key", &secret).json(&body)
            }
            provider => {
                let mut form: Vec<(&str, &str)> =
                    vec![("secret", &secret), ("response", token), ("remoteip", &ip)];
                if provider == CaptchaProvider::Hcaptcha
                    && let Some(key) = &settings.site_key
                {
                    form.push(("sitekey", key));
                }
                if provider == CaptchaProvider::Turnstile {
                    form.push(("idempotency_key", idempotency_key));
                }
                request.form(&form)
            }
        }
        .send()
    };
    let response = match send().await {
        Err(e) if e.is_connect() => send().await,
        other => other,
    };
    let response = match response {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return Verdict::unavailable("the provider did not answer in time");
        }
        Err(e) => return Verdict::unavailable(format!("could not reach the provider: {e}")),
    };
    let status = response.status();
    if status.is_server_error() {
        return Verdict::unavailable(format!("the provider answered {status}"));
    }
    let body = match read_capped(response, MAX_ANSWER_BYTES).await {
        Ok(b) => b,
        Err(ReadError::Read(e)) => {
            return Verdict::unavailable(format!("reading the provider's answer: {e}"));
        }
        // A verdict is a few hundred bytes: anything this long is not one.
        Err(too_large @ ReadError::TooLarge { .. }) => {
            return Verdict::unavailable(format!(
                "the provider answered {status}, but {too_large}"
            ));
        }
    };
    match settings.provider {
        CaptchaProvider::Friendly => friendly(status, &body, expected),
        _ => siteverify(status, &body, settings, expected),
    }
}

/// A UUID for Turnstile's `idempotency_key`: derived from the post's own key
/// when it has one (repeats of a post then agree), else random.
fn turnstile_key(post_key: Option<&str>) -> String {
    use sha2::{Digest, Sha256};
    match post_key {
        Some(key) => {
            let digest = Sha256::digest(format!("turnstile|{key}").as_bytes());
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&digest[..16]);
            uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .to_string()
        }
        None => uuid::Uuid::now_v7().to_string(),
    }
}

fn siteverify(
    status: reqwest::StatusCode,
    body: &[u8],
    settings: &CaptchaSettings,
    expected: &Expected<'_>,
) -> Verdict {
    let Ok(reply) = serde_json::from_slice::<SiteverifyReply>(body) else {
        if status.is_client_error() {
            return Verdict::misconfigured(format!("the provider answered {status}"));
        }
        return Verdict::unavailable(format!(
            "the provider's answer ({status}) was not understood"
        ));
    };
    if !reply.success {
        let codes = reply.error_codes.join(",");
        if reply.error_codes.iter().any(|c| c == "internal-error") {
            return Verdict::unavailable(format!("the provider reported {codes}"));
        }
        if reply
            .error_codes
            .iter()
            .any(|c| CONFIG_CODES.contains(&c.as_str()))
        {
            return Verdict::misconfigured(format!("the provider reported {codes}"));
        }
        return Verdict::failed(if codes.is_empty() {
            "refused".into()
        } else {
            codes
        });
    }
    if let Some(verdict) = host_mismatch(reply.hostname.as_deref(), expected) {
        return verdict;
    }
    if let Some(score) = reply.score
        && score < settings.min_score
    {
        return Verdict::failed(format!("score {score} below {}", settings.min_score));
    }
    if let Some(want) = &settings.action {
        // reCAPTCHA v3 always reports its action; v2 and a Turnstile widget
        // without data-action report none, which is not a mismatch.
        let must_have = reply.score.is_some();
        match reply.action.as_deref() {
            Some(got) if !got.eq_ignore_ascii_case(want) => {
                return Verdict::failed(format!("action \"{got}\", expected \"{want}\""));
            }
            None if must_have => return Verdict::failed("no action reported"),
            _ => {}
        }
    }
    Verdict::Passed
}

fn friendly(status: reqwest::StatusCode, body: &[u8], expected: &Expected<'_>) -> Verdict {
    let Ok(reply) = serde_json::from_slice::<FriendlyReply>(body) else {
        if status.is_client_error() {
            return Verdict::misconfigured(format!("the provider answered {status}"));
        }
        return Verdict::unavailable(format!(
            "the provider's answer ({status}) was not understood"
        ));
    };
    if !reply.success {
        let code = reply.error.map(|e| e.error_code).unwrap_or_default();
        if status.is_client_error() || CONFIG_CODES.contains(&code.as_str()) {
            return Verdict::misconfigured(format!("the provider reported {status} {code}"));
        }
        return Verdict::failed(if code.is_empty() {
            "refused".into()
        } else {
            code
        });
    }
    let origin = reply
        .data
        .and_then(|d| d.challenge)
        .and_then(|c| c.origin)
        .filter(|o| !o.is_empty());
    let host = origin
        .as_deref()
        .map(|o| o.split_once("://").map_or(o, |(_, h)| h));
    host_mismatch(host, expected).unwrap_or(Verdict::Passed)
}

/// `Some(Failed)` when the provider names a host that is not ours.
fn host_mismatch(hostname: Option<&str>, expected: &Expected<'_>) -> Option<Verdict> {
    let host = hostname.filter(|h| !h.is_empty())?;
    // Compare without a port: providers report the bare host name.
    let bare = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    if expected.hosts.is_empty() || expected.hosts.iter().any(|h| h.eq_ignore_ascii_case(bare)) {
        None
    } else {
        Some(Verdict::failed(format!(
            "solved on \"{bare}\", which is not one of this form's sites"
        )))
    }
}
