//! Counters for every outcome of a form post, emitted through the `metrics`
//! facade (the `/metrics` endpoint renders whatever recorder is installed).
//!
//! A post can count more than one outcome: what it tripped (`honeypot`,
//! `time_trap`, `null_origin`, `captcha_unavailable`) and what became of it
//! (`accepted` = stored, `held` = stored for a person to release, `dropped`
//! = answered as success and nothing stored). The names that existed before
//! quarantine keep their meaning as "what it tripped".

/// How a form post ended, as far as abuse defence is concerned; its
/// snake_case name is the metric's `outcome` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Outcome {
    /// Stored (to be sent, or held).
    Accepted,
    /// Stored as `held`: not sent until a person releases it.
    Held,
    /// Answered as success, nothing stored (a filled honeypot only).
    Dropped,
    Honeypot,
    /// The time token was missing where required, too fast, stale, forged
    /// or from the future: the post is held (it used to be dropped).
    TimeTrap,
    /// `Origin: null`: the post is held.
    NullOrigin,
    CaptchaFailed,
    CaptchaUnavailable,
    RateLimited,
    OriginRefused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Count one post: `enquiry_relay_submissions_total{outcome="…",site="…"}`.
/// `site` is a configured slug (never what the caller typed), so the series
/// stay few, and a flood aimed at one home's form shows as that home's.
pub fn count(outcome: Outcome, site: &str) {
    metrics::counter!(
        crate::ops::metrics::SUBMISSIONS,
        "outcome" => outcome.as_str(),
        "site" => site.to_owned()
    )
    .increment(1);
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use metrics::{
        Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };

    use super::*;

    /// One registered counter: name, labels, running total.
    type Registered = (String, Vec<(String, String)>, Arc<AtomicU64>);

    /// Records each counter registered through it.
    #[derive(Default)]
    struct Capture(Mutex<Vec<Registered>>);

    impl Recorder for Capture {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            let labels = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            let total = Arc::new(AtomicU64::new(0));
            self.0
                .lock()
                .unwrap()
                .push((key.name().to_owned(), labels, Arc::clone(&total)));
            Counter::from_arc(total)
        }
        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[test]
    fn each_outcome_increments_the_submissions_counter_with_its_label() {
        let capture = Capture::default();
        let all = [
            Outcome::Accepted,
            Outcome::Held,
            Outcome::Dropped,
            Outcome::Honeypot,
            Outcome::TimeTrap,
            Outcome::NullOrigin,
            Outcome::CaptchaFailed,
            Outcome::CaptchaUnavailable,
            Outcome::RateLimited,
            Outcome::OriginRefused,
        ];
        metrics::with_local_recorder(&capture, || all.iter().for_each(|o| count(*o, "home")));
        let seen = capture.0.lock().unwrap();
        let labels: Vec<&str> = seen.iter().map(|(_, l, _)| l[0].1.as_str()).collect();
        assert_eq!(
            labels,
            [
                "accepted",
                "held",
                "dropped",
                "honeypot",
                "time_trap",
                "null_origin",
                "captcha_failed",
                "captcha_unavailable",
                "rate_limited",
                "origin_refused"
            ]
        );
        assert!(
            seen.iter()
                .all(|(name, l, total)| name == "enquiry_relay_submissions_total"
                    && l[0].0 == "outcome"
                    && l[1] == ("site".to_owned(), "home".to_owned())
                    && total.load(Ordering::Relaxed) == 1)
        );
    }
}
