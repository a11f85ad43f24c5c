//! The SMTP mailer (`[mail]`): `rampart_core::mail::Mailer` over lettre, through rustls with
//! the tree's one crypto provider (aws-lc-rs). STARTTLS is required when asked for, never
//! skipped; plain SMTP is allowed only to localhost (the configuration check refuses more).

use crate::config::{MailConfig, MailTls};
use anyhow::Context as _;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rampart_core::embed::BoxFuture;
use rampart_core::mail::{Mail, MailError, Mailer};

/// A sender or recipient, `Name <addr@host>` or `addr@host`; `None` when it is not one.
pub fn parse_mailbox(s: &str) -> Option<Mailbox> {
    s.parse().ok()
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// The mailer for a checked, enabled `[mail]` section (reads `password_file`).
    pub fn new(c: &MailConfig) -> anyhow::Result<SmtpMailer> {
        let from = parse_mailbox(&c.from).context("mail.from is not a mail address")?;
        let mut b =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host).port(c.port()).timeout(Some(c.timeout.0));
        let tls = || TlsParameters::new(c.host.clone()).context("mail: TLS parameters");
        b = match c.tls {
            MailTls::None => b.tls(Tls::None),
            MailTls::Starttls => b.tls(Tls::Required(tls()?)),
            MailTls::Tls => b.tls(Tls::Wrapper(tls()?)),
        };
        if let Some(user) = &c.username {
            let password = match (&c.password, &c.password_file) {
                (Some(p), _) => p.expose().clone(),
                (None, Some(f)) => std::fs::read_to_string(f)
                    .with_context(|| format!("mail.password_file {}", f.display()))?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
                (None, None) => anyhow::bail!("mail.username needs password_file (or password)"),
            };
            b = b.credentials(Credentials::new(user.clone(), password));
        }
        Ok(SmtpMailer { transport: b.build(), from })
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, mail: Mail) -> BoxFuture<'_, Result<(), MailError>> {
        Box::pin(async move {
            let to = parse_mailbox(&mail.to).ok_or_else(|| MailError::Address("recipient".into()))?;
            let m = Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(mail.subject)
                .header(ContentType::TEXT_PLAIN)
                .body(mail.text)
                .map_err(|e| MailError::Address(e.to_string()))?;
            self.transport.send(m).await.map(|_| ()).map_err(|e| MailError::Send(e.to_string()))
        })
    }
}
