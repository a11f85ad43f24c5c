//! The outgoing-mail port: what `identity` needs to send a message (password reset links).
//! The server implements it over SMTP when `[mail]` is configured.

use crate::embed::BoxFuture;

/// One plain-text message to one recipient.
#[derive(Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    /// May hold a secret (a reset link): never logged.
    pub text: String,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail").field("subject", &self.subject).finish_non_exhaustive()
    }
}

/// Why a message was not sent (the detail is for the log; it never reaches a client).
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address: {0}")]
    Address(String),
    #[error("sending failed: {0}")]
    Send(String),
}

/// Sends mail.
pub trait Mailer: Send + Sync + 'static {
    fn send(&self, mail: Mail) -> BoxFuture<'_, Result<(), MailError>>;
}
