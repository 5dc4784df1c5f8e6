//! Sending email over SMTP (`alerts.smtp_url`): the fallback emails to the
//! homes (`sync`) and the alert emails (`ops::notify`) go out through one
//! [`Mailer`] each.
//!
//! `Mailer::send` bounds the whole exchange (connect, greeting, EHLO,
//! STARTTLS, AUTH, MAIL, RCPT, DATA and lettre's closing QUIT) by its
//! timeout: lettre's tokio transport bounds only the TCP connect and then
//! waits on every answer for as long as the server likes, so a server that
//! accepts the connection and goes quiet would hold the send (a fallback
//! email's lease and slot, every later alert) for ever.
//!
//! A failed send is one of three [`MailFailure`]s, by what it proves about
//! the email:
//! - `Refused`: a 5xx answer. The server refused the message for good, and
//!   sending it again changes nothing.
//! - `NotSent`: the connection was never made (refused, unreachable, no
//!   connect within half the timeout, TLS failed), lettre gave up before
//!   sending (e.g. no usable AUTH mechanism), or a 4xx answer (try later).
//!   The server never took the message.
//! - `MaybeSent`: everything else, because none of it proves the message did
//!   not go: our timeout fired, the connection broke, or an answer was cut
//!   off or garbled. lettre does not say at which step an I/O error came, so
//!   a break during EHLO counts the same as one after the final dot, and a
//!   stall counts as `MaybeSent` wherever it happened (even at the greeting).
//!   Re-sending after one may deliver the email twice.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::{ExposeSecret as _, SecretString};

/// An SMTP server to send through, from one address, each send bounded.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

/// Why a send did not end in the server's "250 queued", by what that proves
/// about the email (see the module header). `detail` is the server's or
/// lettre's text: it can quote an address, so the caller keeps it where
/// personal data is kept and never logs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailFailure {
    /// A 5xx answer: refused for good.
    Refused { detail: String },
    /// The email certainly did not go: no connection, or a 4xx answer.
    NotSent { detail: String },
    /// The email may have gone: our timeout fired, or the exchange broke.
    MaybeSent { detail: String },
}

impl MailFailure {
    /// The server's or lettre's text (may quote an address: never log it).
    pub fn detail(&self) -> &str {
        match self {
            MailFailure::Refused { detail }
            | MailFailure::NotSent { detail }
            | MailFailure::MaybeSent { detail } => detail,
        }
    }

    fn from_lettre(e: &lettre::transport::smtp::Error) -> MailFailure {
        let detail = e.to_string();
        if e.is_permanent() {
            return MailFailure::Refused { detail };
        }
        // `Client`: lettre stopped before MAIL (a check on the message or
        // AUTH); `TransportShutdown` and `Tls` come before any command too.
        let before_the_message = e.is_transient()
            || e.is_client()
            || e.is_tls()
            || e.is_transport_shutdown()
            || connecting(e);
        match before_the_message {
            true => MailFailure::NotSent { detail },
            false => MailFailure::MaybeSent { detail },
        }
    }
}

/// Whether lettre failed to open the connection (TCP, DNS, implicit TLS or
/// the STARTTLS upgrade), before any mail command. lettre 0.11 has no
/// `is_connection()`: its `Connection` kind is told apart from `Network` (an
/// I/O error anywhere in the exchange) only by its text. If a later lettre
/// words it differently this says false, and the failure counts as
/// `MaybeSent`: wrong towards caution, never towards a lost email.
/// (tests/api/alerts.rs pins it: a closed port is `NotSent`.)
fn connecting(e: &lettre::transport::smtp::Error) -> bool {
    e.to_string().starts_with("Connection error")
}

impl Mailer {
    /// A mailer for `url` (`smtp://`, `smtps://`, with credentials), each
    /// send from `from` and bounded by `timeout`.
    pub fn new(url: &SecretString, from: Mailbox, timeout: Duration) -> Result<Mailer, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            // lettre's message does not echo the URL, which holds a password.
            .map_err(|e| format!("alerts.smtp_url is not usable: {e}"))?
            // Shorter than the whole send's bound, so a server that cannot
            // be reached ends in lettre's connect timeout (`NotSent`) rather
            // than in ours (`MaybeSent`).
            .timeout(Some(timeout / 2))
            .build();
        Ok(Mailer {
            transport,
            from,
            timeout,
        })
    }

    /// Send `message`, the whole exchange bounded by `timeout()`.
    pub async fn send(&self, message: Message) -> Result<(), MailFailure> {
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(MailFailure::from_lettre(&e)),
            Err(_) => Err(MailFailure::MaybeSent {
                detail: format!(
                    "the mail server did not finish the exchange within {}",
                    crate::values::format_duration(self.timeout)
                ),
            }),
        }
    }

    pub fn from(&self) -> &Mailbox {
        &self.from
    }
}
