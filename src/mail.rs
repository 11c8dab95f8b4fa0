//! Outgoing email behind one trait: the console backend logs the message
//! (development), SMTP delivers it through lettre, and tests record it.

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use secrecy::ExposeSecret as _;

use crate::config::{Config, EmailBackend};

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// Sends email.
pub trait Mailer: Send + Sync + std::fmt::Debug {
    /// Sends one message.
    fn send(&self, email: OutgoingEmail) -> BoxFuture<'_, anyhow::Result<()>>;
}

/// Logs messages instead of sending them (the default backend).
#[derive(Debug, Default)]
pub struct ConsoleMailer;

impl Mailer for ConsoleMailer {
    fn send(&self, email: OutgoingEmail) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            tracing::info!(to = %email.to, subject = %email.subject, body = %email.text,
                "email (console backend, not delivered)");
            Ok(())
        })
    }
}

/// Delivers through an SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from)
            .finish()
    }
}

impl SmtpMailer {
    /// A mailer for the `SMTP_*` settings.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let host = config
            .smtp
            .host
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("SMTP_HOST is not set"))?;
        let mut builder = if config.smtp.starttls {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        }
        .port(config.smtp.port);
        if let (Some(user), Some(password)) = (&config.smtp.username, &config.smtp.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from: config.email_from.parse()?,
        })
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, email: OutgoingEmail) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            let message = lettre::Message::builder()
                .from(self.from.clone())
                .to(email.to.parse()?)
                .subject(email.subject)
                .multipart(MultiPart::alternative_plain_html(email.text, email.html))?;
            self.transport.send(message).await?;
            Ok(())
        })
    }
}

/// Keeps messages in memory, for tests that read what was sent.
#[derive(Debug, Default, Clone)]
pub struct MemoryMailer {
    sent: Arc<Mutex<Vec<OutgoingEmail>>>,
}

impl MemoryMailer {
    /// Everything sent so far.
    pub fn sent(&self) -> Vec<OutgoingEmail> {
        self.sent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Mailer for MemoryMailer {
    fn send(&self, email: OutgoingEmail) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            self.sent
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(email);
            Ok(())
        })
    }
}

/// The mailer `EMAIL_BACKEND` asks for.
pub fn from_config(config: &Config) -> anyhow::Result<Arc<dyn Mailer>> {
    Ok(match config.email_backend {
        EmailBackend::Console => Arc::new(ConsoleMailer),
        EmailBackend::Smtp => Arc::new(SmtpMailer::new(config)?),
    })
}
