//! Where alerts go: a webhook (the JSON message) and/or email (its title as
//! the subject, its text and any details as the body). Built once from
//! `[alerts]`; `send` succeeds when at least one destination took the message.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;
use tracing::warn;

use crate::config::AlertSettings;

pub struct Notifier {
    http: reqwest::Client,
    webhook_url: Option<SecretString>,
    email: Option<Email>,
}

struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl Notifier {
    /// `Ok(None)` when no destination is configured (alerts are off).
    pub fn new(settings: &AlertSettings) -> Result<Option<Notifier>, String> {
        let email = match &settings.smtp_url {
            None => None,
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    // lettre's message does not echo the URL, which holds a password.
                    .map_err(|e| format!("alerts.smtp_url is not usable: {e}"))?
                    .timeout(Some(Duration::from_secs(20)))
                    .build();
                let parse = |s: &str| {
                    s.parse::<Mailbox>()
                        .map_err(|e| format!("bad alert address: {e}"))
                };
                let from = parse(settings.email_from.as_deref().unwrap_or_default())?;
                let to = settings
                    .email_to
                    .iter()
                    .map(|a| parse(a))
                    .collect::<Result<_, _>>()?;
                Some(Email {
                    transport,
                    from,
                    to,
                })
            }
        };
        if email.is_none() && settings.webhook_url.is_none() {
            return Ok(None);
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("could not build an HTTP client: {e}"))?;
        Ok(Some(Notifier {
            http,
            webhook_url: settings.webhook_url.clone(),
            email,
        }))
    }

    /// Send to every destination; `Err` only if none took it.
    pub async fn send(&self, message: &Value) -> Result<(), String> {
        let mut delivered = false;
        let mut errors = Vec::new();
        if let Some(url) = &self.webhook_url {
            match self
                .http
                .post(url.expose_secret())
                .json(message)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
            {
                Ok(_) => delivered = true,
                // Without the URL: it carries the webhook's token.
                Err(e) => errors.push(format!("webhook: {}", e.without_url())),
            }
        }
        if let Some(email) = &self.email {
            match email.send(message).await {
                Ok(()) => delivered = true,
                Err(e) => errors.push(format!("email: {e}")),
            }
        }
        if !errors.is_empty() {
            warn!(errors = errors.join("; "), "an alert destination failed");
        }
        if delivered {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
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
            .from(self.from.clone())
            .subject(format!("[enquiry-relay] {}", text("title")));
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let email = builder.body(body).map_err(|e| e.to_string())?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
