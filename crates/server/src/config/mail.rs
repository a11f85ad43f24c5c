//! The `[mail]` section: the SMTP server that sends password reset links. No `host`: no mail,
//! and no "Forgot password?" (the sign-in page asks `/v1/auth/status`).

use rampart_core::Secret;
use rampart_core::config::{ConfigError, Dur};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// How the connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTls {
    /// Plain connection upgraded with STARTTLS (required, never skipped); port 587.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS); port 465.
    Tls,
    /// No encryption: only to a server on this machine (`localhost`, `127.0.0.1`, `::1`).
    None,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// The SMTP server's host name; empty: mail is off.
    pub host: String,
    /// Default 587 (`starttls`), 465 (`tls`) or 25 (`none`).
    pub port: Option<u16>,
    pub tls: MailTls,
    /// SMTP authentication (with `password` or `password_file`); none: no authentication.
    pub username: Option<String>,
    pub password: Option<Secret<String>>,
    pub password_file: Option<PathBuf>,
    /// The sender, e.g. `"Rampart <rampart@example.com>"`.
    pub from: String,
    /// Connection and command timeout.
    pub timeout: Dur,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: None,
            tls: MailTls::Starttls,
            username: None,
            password: None,
            password_file: None,
            from: String::new(),
            timeout: Dur::secs(10),
        }
    }
}

fn loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().is_ok_and(|i| i.is_loopback())
}

impl MailConfig {
    pub fn enabled(&self) -> bool {
        !self.host.is_empty()
    }

    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            MailTls::Starttls => 587,
            MailTls::Tls => 465,
            MailTls::None => 25,
        })
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.enabled() {
            return Ok(());
        }
        if self.tls == MailTls::None && !loopback(&self.host) {
            return Err(ConfigError::new(
                "tls",
                "\"none\" sends mail (and any password) in clear: only for a server on localhost; use starttls or tls",
            ));
        }
        if crate::mail::parse_mailbox(&self.from).is_none() {
            return Err(ConfigError::new("from", "must be a mail address, e.g. \"Rampart <rampart@example.com>\""));
        }
        if self.password.is_some() && self.password_file.is_some() {
            return Err(ConfigError::new("password_file", "set password or password_file, not both"));
        }
        let has_password = self.password.is_some() || self.password_file.is_some();
        if self.username.is_some() != has_password {
            return Err(ConfigError::new("username", "username and password (or password_file) go together"));
        }
        if self.timeout.0 < Duration::from_secs(1) || self.timeout.0 > Duration::from_secs(300) {
            return Err(ConfigError::new("timeout", "must be between 1s and 5m"));
        }
        Ok(())
    }
}
