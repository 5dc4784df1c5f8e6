//! The `spam_verdict` an enquiry is stored with: `clean`, or the doubt that
//! holds it for a person (or, for `no_time_token` and `captcha_unverified`
//! on their own, the doubt it is marked with).

/// Why a post is (or is not) doubted. Stored as its [`as_str`](Self::as_str)
/// text in `enquiries.spam_verdict`; the texts are part of the contract
/// (staff commands, retention, log fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
        match self {
            SpamVerdict::Clean => "clean",
            SpamVerdict::NoTimeToken => "no_time_token",
            SpamVerdict::TooFast => "too_fast",
            SpamVerdict::StaleTimeToken => "stale_time_token",
            SpamVerdict::ForgedTimeToken => "forged_time_token",
            SpamVerdict::FutureTimeToken => "future_time_token",
            SpamVerdict::NullOrigin => "null_origin",
            SpamVerdict::CaptchaUnverified => "captcha_unverified",
            SpamVerdict::Partner => "partner",
        }
    }
}

impl std::fmt::Display for SpamVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
