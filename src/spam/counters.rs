//! Counters for every outcome of a form post, emitted through the `metrics`
//! facade (the `/metrics` endpoint renders whatever recorder is installed).

/// How a form post ended, as far as abuse defence is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Honeypot,
    TimeTrap,
    CaptchaFailed,
    CaptchaUnavailable,
    RateLimited,
    OriginRefused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Honeypot => "honeypot",
            Outcome::TimeTrap => "time_trap",
            Outcome::CaptchaFailed => "captcha_failed",
            Outcome::CaptchaUnavailable => "captcha_unavailable",
            Outcome::RateLimited => "rate_limited",
            Outcome::OriginRefused => "origin_refused",
        }
    }
}

/// Count one post: `enquiry_relay_submissions_total{outcome="…"}`.
pub fn count(outcome: Outcome) {
    metrics::counter!("enquiry_relay_submissions_total", "outcome" => outcome.as_str())
        .increment(1);
}
