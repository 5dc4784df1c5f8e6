//! What a CAPTCHA check concluded, kept apart from how it was reached.

/// The three outcomes captcha.md §7 asks to tell apart, plus a pass.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Passed,
    /// The provider (or our own check of its answer) says this is not a person's
    /// fresh token: answered 422 with a `captcha` field error.
    Failed {
        reason: String,
    },
    /// The provider could not be asked or answered 5xx/`internal-error`: the
    /// `on_error` policy decides.
    Unavailable {
        reason: String,
    },
    /// The provider says our keys are wrong: never silently accepted, because a
    /// configuration mistake must not switch protection off.
    Misconfigured {
        reason: String,
    },
}

impl Verdict {
    pub fn failed(reason: impl Into<String>) -> Verdict {
        Verdict::Failed {
            reason: reason.into(),
        }
    }

    pub fn unavailable(reason: impl Into<String>) -> Verdict {
        Verdict::Unavailable {
            reason: reason.into(),
        }
    }

    pub fn misconfigured(reason: impl Into<String>) -> Verdict {
        Verdict::Misconfigured {
            reason: reason.into(),
        }
    }
}
