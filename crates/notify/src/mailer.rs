//! Delivery of alerts: one SMTP session per alert, bounded by the settings'
//! timeout. The session is driven step by step through lettre's connection
//! (connect, STARTTLS, AUTH, MAIL, RCPT, DATA) rather than its all-in-one
//! transport, so that a failure says which step failed: a refused recipient is
//! named, a refused password is told apart from a refused message.

use std::error::Error as StdError;
use std::io;

use lettre::address::Address;
use lettre::message::header::ContentType;
use lettre::message::Message;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use secrecy::ExposeSecret;
use tracing::Instrument;

use crate::{Alert, NotifyError, Recipients, Security, SmtpConfig};

type SmtpError = lettre::transport::smtp::Error;

/// Sends alerts to fixed recipients through one SMTP server.
#[derive(Debug, Clone)]
pub struct Mailer {
    config: SmtpConfig,
    recipients: Recipients,
    hello: ClientId,
}

/// The step of the SMTP session that failed, to say what a failure means.
#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    Connect,
    StartTls,
    Auth,
    Mail,
    Rcpt(&'a Address),
    Data,
}

impl Mailer {
    /// A mailer sending from `config`'s sender to `recipients`.
    pub fn new(config: SmtpConfig, recipients: Recipients) -> Mailer {
        Mailer { config, recipients, hello: ClientId::default() }
    }

    /// Its settings.
    pub fn config(&self) -> &SmtpConfig {
        &self.config
    }

    /// Who receives its alerts.
    pub fn recipients(&self) -> &Recipients {
        &self.recipients
    }

    /// Sends `alert` in one SMTP session, within the settings' timeout. Nothing
    /// is sent when any recipient is refused.
    pub async fn send(&self, alert: &Alert) -> Result<(), NotifyError> {
        let message = self.compose(alert)?;
        let server = self.config.server();
        let span = tracing::info_span!("send_alert", kind = alert.kind(), app = %alert.app().id, %server);
        let delivered = tokio::time::timeout(self.config.timeout(), self.deliver(&message)).instrument(span).await;
        let result = delivered.unwrap_or(Err(NotifyError::Timeout { server, after: self.config.timeout() }));
        match &result {
            Ok(()) => tracing::info!(kind = alert.kind(), app = %alert.app().id, "alert sent"),
            Err(e) => tracing::warn!(kind = alert.kind(), app = %alert.app().id, error = %e, "alert not sent"),
        }
        result
    }

    /// The email of `alert`: From the sender, To the recipients, plain text.
    fn compose(&self, alert: &Alert) -> Result<Message, NotifyError> {
        let rendered = alert.render();
        let mut builder = Message::builder()
            .from(self.config.sender_mailbox().clone())
            .subject(rendered.subject)
            .header(ContentType::TEXT_PLAIN)
            .message_id(None);
        for to in self.recipients.mailboxes() {
            builder = builder.to(to.clone());
        }
        builder.body(rendered.body).map_err(|e| NotifyError::Config(format!("cannot build the alert email: {e}")))
    }

    async fn deliver(&self, message: &Message) -> Result<(), NotifyError> {
        let wrapper = match self.config.security() {
            Security::ImplicitTls => Some(self.tls_parameters()?),
            Security::Plain | Security::StartTls => None,
        };
        let address = (self.config.host(), self.config.port());
        let mut connection =
            AsyncSmtpConnection::connect_tokio1(address, Some(self.config.timeout()), &self.hello, wrapper, None)
                .await
                .map_err(|e| self.classify(Step::Connect, &e))?;
        let result = self.transaction(&mut connection, message).await;
        match result {
            Ok(()) => {
                // The message is accepted once DATA is; a failed QUIT changes nothing.
                let _ = connection.quit().await;
            }
            Err(_) => connection.abort().await,
        }
        result
    }

    async fn transaction(&self, connection: &mut AsyncSmtpConnection, message: &Message) -> Result<(), NotifyError> {
        if self.config.security() == Security::StartTls {
            if !connection.can_starttls() {
                return Err(NotifyError::Tls {
                    server: self.config.server(),
                    reason: "the server does not offer STARTTLS".into(),
                });
            }
            connection
                .starttls(self.tls_parameters()?, &self.hello)
                .await
                .map_err(|e| self.classify(Step::StartTls, &e))?;
        }
        if let Some(login) = self.config.login() {
            let credentials = Credentials::new(login.user.clone(), login.password.expose_secret().to_string());
            connection
                .auth(&[Mechanism::Plain, Mechanism::Login], &credentials)
                .await
                .map_err(|e| self.classify(Step::Auth, &e))?;
        }
        let envelope = message.envelope();
        let bytes = message.formatted();
        let mut options = Vec::new();
        let mut addresses = envelope.from().into_iter().chain(envelope.to());
        if addresses.any(|a: &Address| !AsRef::<str>::as_ref(a).is_ascii()) {
            if !connection.server_info().supports_feature(Extension::SmtpUtfEight) {
                let message =
                    "an address is not ASCII and the SMTP server does not support SMTPUTF8; use ASCII addresses";
                return Err(NotifyError::Config(message.into()));
            }
            options.push(MailParameter::SmtpUtfEight);
        }
        if !bytes.is_ascii() && connection.server_info().supports_feature(Extension::EightBitMime) {
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        connection
            .command(Mail::new(envelope.from().cloned(), options))
            .await
            .map_err(|e| self.classify(Step::Mail, &e))?;
        for to in envelope.to() {
            connection.command(Rcpt::new(to.clone(), vec![])).await.map_err(|e| self.classify(Step::Rcpt(to), &e))?;
        }
        connection.command(Data).await.map_err(|e| self.classify(Step::Data, &e))?;
        connection.message(&bytes).await.map_err(|e| self.classify(Step::Data, &e))?;
        Ok(())
    }

    fn tls_parameters(&self) -> Result<TlsParameters, NotifyError> {
        TlsParameters::new(self.config.host().to_string())
            .map_err(|e| NotifyError::Tls { server: self.config.server(), reason: e.to_string() })
    }

    /// What a failure at `step` means for the admin.
    fn classify(&self, step: Step<'_>, error: &SmtpError) -> NotifyError {
        let server = self.config.server();
        let reason = describe(error);
        if error.is_timeout() {
            return NotifyError::Timeout { server, after: self.config.timeout() };
        }
        if error.status().is_some() {
            return match (step, error.is_permanent()) {
                (_, false) => NotifyError::Deferred { server, reason },
                (Step::StartTls, true) => NotifyError::Tls { server, reason },
                (Step::Auth, true) => NotifyError::Auth { server, reason },
                (Step::Mail, true) => NotifyError::SenderRejected { server, sender: self.config.sender(), reason },
                (Step::Rcpt(to), true) => NotifyError::RecipientRejected { server, recipient: to.to_string(), reason },
                (Step::Connect | Step::Data, true) => NotifyError::Rejected { server, reason },
            };
        }
        let io_kind = io_kind(error);
        let tls_failed = error.is_tls() || io_kind == Some(io::ErrorKind::InvalidData);
        match step {
            Step::Connect | Step::StartTls if tls_failed && self.config.security() != Security::Plain => {
                NotifyError::Tls { server, reason }
            }
            Step::StartTls => NotifyError::Tls { server, reason },
            Step::Connect if io_kind.is_some() => NotifyError::Unreachable { server, reason },
            Step::Auth => NotifyError::Auth { server, reason },
            _ => NotifyError::Protocol { server, reason },
        }
    }
}

/// The server's answer (`550 5.1.1 no such user`) or the underlying cause
/// (`Connection refused (os error 111)`), without lettre's wording around it.
fn describe(error: &SmtpError) -> String {
    let cause = error.source().map(ToString::to_string);
    match (error.status(), cause) {
        (Some(code), Some(cause)) => format!("{code} {cause}"),
        (Some(code), None) => code.to_string(),
        (None, Some(cause)) => cause,
        (None, None) => error.to_string(),
    }
}

/// The kind of the first I/O error in `error`'s chain of causes.
fn io_kind(error: &SmtpError) -> Option<io::ErrorKind> {
    let mut cause: Option<&(dyn StdError + 'static)> = error.source();
    while let Some(e) = cause {
        if let Some(io_error) = e.downcast_ref::<io::Error>() {
            return Some(io_error.kind());
        }
        cause = e.source();
    }
    None
}
