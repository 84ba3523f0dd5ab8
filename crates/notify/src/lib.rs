//! Alert emails for roster's provisioning jobs, sent over SMTP.
//!
//! The engine decides *when* to alert (a job enters quarantine, a cycle stages
//! deletes, failures pile up, a job recovers); this crate decides *what the
//! email says* and *delivers it*:
//!
//! - [`config`]: the mail settings, parsed once at the edge ([`SmtpConfig`],
//!   [`Recipients`]); the password never shows in `Debug` or in an error.
//! - [`alert`]: the alerts and their rendering to a subject and a plain-text
//!   body, pure and free of credentials (the alert types carry none).
//! - [`mailer`]: one SMTP session per alert through `lettre`, bounded by a
//!   timeout, with every failure classified into a [`NotifyError`] a caller can
//!   act on.

pub mod alert;
pub mod config;
pub mod mailer;

use std::time::Duration;

pub use alert::{
    Alert, AppRef, FailedObject, FailureDigest, Quarantine, QuarantineReason, Recovered, RenderedAlert, StagedDeletes,
};
pub use config::{Recipients, Security, SmtpConfig};
pub use mailer::Mailer;

/// Why an alert could not be sent, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A mail setting cannot be used as given (SMTP URL, sender, recipients).
    #[error("mail settings: {0}")]
    Config(String),
    /// No connection to the SMTP server (refused, unknown host, network down).
    #[error("cannot reach the SMTP server {server}: {reason}; check its host and port and that it is up")]
    Unreachable {
        /// `host:port`.
        server: String,
        /// What the network said.
        reason: String,
    },
    /// The server did not answer in time.
    #[error("the SMTP server {server} did not answer within {after:?}; it may be overloaded or filtered")]
    Timeout {
        /// `host:port`.
        server: String,
        /// The time allowed for the whole exchange.
        after: Duration,
    },
    /// TLS could not be set up.
    #[error(
        "TLS with the SMTP server {server} failed: {reason}; check smtps:// (TLS from the first byte) \
         against ?tls=starttls (plain, then STARTTLS), and the server's certificate"
    )]
    Tls {
        /// `host:port`.
        server: String,
        /// What failed.
        reason: String,
    },
    /// The server refused the user and password of the SMTP URL.
    #[error("the SMTP server {server} refused the credentials: {reason}; check the user and password in the SMTP URL")]
    Auth {
        /// `host:port`.
        server: String,
        /// The server's answer.
        reason: String,
    },
    /// The server refused the sender address.
    #[error("the SMTP server {server} refused the sender {sender}: {reason}; use a sender the server accepts")]
    SenderRejected {
        /// `host:port`.
        server: String,
        /// The sender address.
        sender: String,
        /// The server's answer.
        reason: String,
    },
    /// The server refused a recipient; nothing was sent.
    #[error("the SMTP server {server} refused the recipient {recipient}: {reason}; fix or remove that address")]
    RecipientRejected {
        /// `host:port`.
        server: String,
        /// The refused address.
        recipient: String,
        /// The server's answer.
        reason: String,
    },
    /// The server refused the message for now (a 4xx answer); a later attempt may succeed.
    #[error("the SMTP server {server} deferred the message: {reason}; it may accept it later")]
    Deferred {
        /// `host:port`.
        server: String,
        /// The server's answer.
        reason: String,
    },
    /// The server refused the message for good (a 5xx answer to the message itself).
    #[error("the SMTP server {server} rejected the message: {reason}")]
    Rejected {
        /// `host:port`.
        server: String,
        /// The server's answer.
        reason: String,
    },
    /// The exchange broke in another way (connection lost, unexpected answer).
    #[error("the SMTP exchange with {server} failed: {reason}")]
    Protocol {
        /// `host:port`.
        server: String,
        /// What happened.
        reason: String,
    },
}

impl NotifyError {
    /// Whether sending the same alert again later may succeed without a change
    /// of settings.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            NotifyError::Unreachable { .. }
                | NotifyError::Timeout { .. }
                | NotifyError::Deferred { .. }
                | NotifyError::Protocol { .. }
        )
    }
}
