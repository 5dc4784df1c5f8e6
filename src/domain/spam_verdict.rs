//! The `spam_verdict` an enquiry is stored with: `clean`, or the doubt that
//! holds it for a person (or, for `no_time_token` and `captcha_unverified`
//! on their own, the doubt it is marked with). Judged by `spam`, stored by
//! `storage`: here, below both.

/// Why a post is (or is not) doubted. Stored as its [`as_str`](Self::as_str)
/// text in `enquiries.spam_verdict`; the texts are part of the contract
/// (staff commands, retention, log fields).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::Display,
    strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
pub enum SpamVerdict {
    Clean,
    /// A form post without a time token (held only where the site requires one).
    NoTimeToken,
    TooFast,
    StaleTimeToken,
    ForgedTimeToken,
    FutureTimeToken,
    /// `Origin: null`.
    NullOrigin,
    /// The CAPTCHA provider could not be reached.
    CaptchaUnverified,
    /// Not a form post: an authenticated partner's webhook (HelpAround),
    /// which the form's spam defence does not screen. Kept as long as clean.
    Partner,
}

impl SpamVerdict {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use strum::VariantArray;

    use super::*;

    /// Written out: stored rows, retention and staff commands use these.
    #[test]
    fn the_stored_verdicts_keep_their_texts() {
        let names: Vec<&str> = SpamVerdict::VARIANTS.iter().map(|v| v.as_str()).collect();
        assert_eq!(
            names,
            [
                "clean",
                "no_time_token",
                "too_fast",
                "stale_time_token",
                "forged_time_token",
                "future_time_token",
                "null_origin",
                "captcha_unverified",
                "partner"
            ]
        );
        for &verdict in SpamVerdict::VARIANTS {
            assert_eq!(verdict.as_str().parse(), Ok(verdict));
            assert_eq!(verdict.to_string(), verdict.as_str());
        }
    }
}
