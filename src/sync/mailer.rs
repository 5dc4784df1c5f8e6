//! The SMTP connection fallback emails go out on (`alerts.smtp_url`, from
//! `alerts.email_from`), built once when a site has `fallback_email`.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use secrecy::ExposeSecret as _;

use crate::config::Settings;

/// The SMTP connection the fallback emails go out on.
pub struct FallbackMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl FallbackMailer {
    /// `Ok(None)` when no site has a `fallback_email` (validation makes sure
    /// the SMTP settings exist when one does).
    pub fn new(settings: &Settings) -> Result<Option<FallbackMailer>, String> {
        if !settings.sites.iter().any(|s| s.fallback_email.is_some()) {
            return Ok(None);
        }
        let alerts = &settings.alerts;
        let (Some(url), Some(from)) = (&alerts.smtp_url, &alerts.email_from) else {
            return Err("sites' fallback_email needs alerts.smtp_url and alerts.email_from".into());
        };
        // A send must end inside its lease, as a CareHQ call must: the same
        // timeout, which `sync.lease` is checked against.
        let timeout = settings.carehq.timeout;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            // lettre's message does not echo the URL, which holds a password.
            .map_err(|e| format!("alerts.smtp_url is not usable: {e}"))?
            .timeout(Some(timeout))
            .build();
        Ok(Some(FallbackMailer {
            transport,
            from: from.clone(),
            timeout,
        }))
    }
}

/// Why an email did not go, by what a retry could do about it. `detail`
/// is the server's or lettre's text, which can quote an address.
pub enum MailFailure {
    /// A permanent (5xx) answer.
    Refused { detail: String },
    /// Certainly not delivered: no connection, or a transient (4xx) answer.
    NotSent { detail: String },
    /// The exchange did not finish: the email may have gone.
    MaybeSent { detail: String },
}

impl FallbackMailer {
    /// Send `message`, the whole exchange bounded by the timeout.
    pub async fn send(&self, message: lettre::Message) -> Result<(), MailFailure> {
        use lettre::AsyncTransport as _;
        let sent = tokio::time::timeout(self.timeout, self.transport.send(message)).await;
        match sent {
            Ok(Ok(_)) => Ok(()),
            Err(_) => Err(MailFailure::MaybeSent {
                detail: "no answer within the timeout".into(),
            }),
            Ok(Err(e)) if e.is_permanent() => Err(MailFailure::Refused {
                detail: e.to_string(),
            }),
            Ok(Err(e)) if e.is_transient() || e.is_timeout() => Err(MailFailure::NotSent {
                detail: e.to_string(),
            }),
            Ok(Err(e)) => Err(MailFailure::MaybeSent {
                detail: e.to_string(),
            }),
        }
    }
    pub(super) fn from(&self) -> &Mailbox {
        &self.from
    }
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }
}
