//! Where alerts go: a webhook (the JSON message) and/or email (its title as
//! the subject, its text and any details as the body). Built once from
//! `[alerts]`; each destination is sent to, and reports, on its own, so one
//! that is down does not hide behind one that works (see `backlog`).

use std::time::Duration;

use lettre::Message;
use lettre::message::Mailbox;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;

use crate::config::AlertSettings;
use crate::mail::Mailer;

/// The most one alert email takes, connect to QUIT (`mail::Mailer`): one
/// stalled server would otherwise hold every later alert.
const EMAIL_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Notifier {
    http: reqwest_middleware::ClientWithMiddleware,
    webhook_url: Option<SecretString>,
    email: Option<Email>,
}

struct Email {
    mailer: Mailer,
    to: Vec<Mailbox>,
}

impl Notifier {
    /// `Ok(None)` when no destination is configured (alerts are off).
    pub fn new(settings: &AlertSettings) -> Result<Option<Notifier>, String> {
        let email = match &settings.smtp_url {
            None => None,
            Some(url) => {
                // Settings guarantee both once smtp_url is set.
                let from = (settings.email_from.clone()).ok_or("alerts.email_from is not set")?;
                let mailer = Mailer::new(url, from, EMAIL_TIMEOUT)?;
                let to = settings.email_to.clone();
                Some(Email { mailer, to })
            }
        };
        if email.is_none() && settings.webhook_url.is_none() {
            return Ok(None);
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("could not build an HTTP client: {e}"))?;
        // The webhook's POST is retried on a 5xx or a broken connection: a
        // repeated alert is harmless, one lost to a blip is not. (This client
        // sends nothing else; CareHQ's creates are never retried, see
        // `carehq::client`.)
        let http = reqwest_middleware::ClientBuilder::new(http)
            .with(crate::outgoing::RetrySafeMethods::new(&[
                reqwest::Method::POST,
            ]))
            .build();
        Ok(Some(Notifier {
            http,
            webhook_url: settings.webhook_url.clone(),
            email,
        }))
    }

    /// The configured destinations, webhook first.
    pub fn destinations(&self) -> Vec<Destination> {
        let mut all = Vec::new();
        if self.webhook_url.is_some() {
            all.push(Destination::Webhook);
        }
        if self.email.is_some() {
            all.push(Destination::Email);
        }
        all
    }

    /// Send to one destination. An unconfigured one is an error, never a
    /// silent success.
    pub async fn send_to(&self, destination: Destination, message: &Value) -> Result<(), String> {
        match destination {
            Destination::Webhook => {
                let Some(url) = &self.webhook_url else {
                    return Err("no alerts.webhook_url is configured".into());
                };
                // Without the URL in errors: it carries the webhook's token.
                let response = self
                    .http
                    .post(url.expose_secret())
                    .json(message)
                    .send()
                    .await
                    .map_err(|e| match e {
                        reqwest_middleware::Error::Reqwest(e) => e.without_url().to_string(),
                        other => other.to_string(),
                    })?;
                response
                    .error_for_status()
                    .map(|_| ())
                    .map_err(|e| e.without_url().to_string())
            }
            Destination::Email => match &self.email {
                Some(email) => email.send(message).await,
                None => Err("no alerts.smtp_url is configured".into()),
            },
        }
    }

    /// Send to each destination; the ones that failed, with why.
    pub async fn send(&self, message: &Value) -> Vec<(Destination, String)> {
        let mut failed = Vec::new();
        for destination in self.destinations() {
            if let Err(e) = self.send_to(destination, message).await {
                failed.push((destination, e));
            }
        }
        failed
    }
}

/// One place alerts go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Destination {
    Webhook,
    Email,
}

impl Destination {
    /// What to check when this destination fails, for the log line.
    pub fn what_to_check(self) -> &'static str {
        match self {
            Destination::Webhook => "check alerts.webhook_url and that the receiving service is up",
            Destination::Email => {
                "check alerts.smtp_url (host, port, user, password, TLS) and that the mail server is up"
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl Email {
    async fn send(&self, message: &Value) -> Result<(), String> {
        let text = |key: &str| message.get(key).and_then(Value::as_str).unwrap_or_default();
        let mut body = format!("{}\n", text("text"));
        if let Some(Value::Array(details)) = message.get("details") {
            body.push_str("\nFamilies to call back:\n");
            for d in details {
                let field = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("-").to_owned();
                body.push_str(&format!(
                    "- {} {} ({}): {} / {}  [enquiry {}]\n",
                    field("first_name"),
                    field("last_name"),
                    field("site"),
                    field("phone"),
                    field("email"),
                    field("id"),
                ));
            }
        }
        let mut builder = Message::builder()
            .from(self.mailer.from().clone())
            .subject(format!("[enquiry-relay] {}", text("title")));
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let email = builder.body(body).map_err(|e| e.to_string())?;
        let sent = self.mailer.send(email).await;
        sent.map_err(|failure| failure.detail().to_owned())
    }
}
