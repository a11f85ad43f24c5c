//! Self-service password reset by email. The request answers the same whether or not the
//! address has an account (the mail goes out in the background, so timing says nothing
//! either), and is throttled like sign-in. The link's token carries 256 bits, is stored only
//! as its SHA-256, works once and for `auth.password_reset_ttl`.

use crate::error::{IdentityError, Result};
use crate::login::{ThrottleKeys, secs_until};
use crate::service::{Identity, RequestMeta};
use crate::validate;
use rampart_core::AuditOutcome;
use rampart_core::mail::{Mail, Mailer};
use rampart_crypto::{opaque_token, sha256_hex};
use rampart_storage::repo::users::{UserRecord, UserStatus};
use std::sync::Arc;

/// Live reset links one account may have at once: more requests send no more mail.
const MAX_LIVE_RESETS: i64 = 3;

fn not_configured() -> IdentityError {
    IdentityError::Forbidden("password reset by email is not configured")
}

impl Identity {
    /// Whether users can reset a forgotten password by email (a mailer is configured).
    pub fn password_reset_enabled(&self) -> bool {
        self.inner.mailer.is_some()
    }

    fn reset_keys(email: &str, meta: &RequestMeta) -> ThrottleKeys {
        let h = sha256_hex(email.as_bytes());
        let ip = meta.client_ip.as_deref().unwrap_or("-");
        ThrottleKeys {
            pair: format!("reset:{h}:{ip}"),
            account: Some(format!("reset:{h}")),
            ip: meta.client_ip.as_ref().map(|i| format!("ip:{i}")),
        }
    }

    /// `POST /v1/auth/password-reset {email}`. Every request counts against the address and the
    /// client (as failed sign-ins do); an account gets a link only while it has fewer than
    /// three live ones.
    pub async fn request_password_reset(&self, email: &str, meta: &RequestMeta) -> Result<()> {
        let mailer = self.inner.mailer.clone().ok_or_else(not_configured)?;
        let email = validate::normalize_email(email)?;
        let keys = Self::reset_keys(&email, meta);
        self.check_locks(&keys).await?;
        let locked = match self.count_attempt(&keys).await? {
            Some(until) => Some(until),
            None => self.record_failure(&keys, false).await?,
        };
        if let Some(until) = locked {
            self.audit(meta, None, "auth.password_reset_request", Some(email), AuditOutcome::Locked, None).await;
            return Err(IdentityError::Locked { retry_after_secs: secs_until(until, self.now()) });
        }
        // The rest runs after the answer, so a known address and an unknown one are answered
        // alike and in the same time (the lookup, the count and the write happen later).
        let this = self.clone();
        let meta = meta.clone();
        tokio::spawn(async move {
            if let Err(e) = this.reset_link_for(email, mailer, &meta).await {
                tracing::warn!(error = %e, "password reset request not completed");
            }
        });
        Ok(())
    }

    /// Sends a reset link to `email` if it is an account that may reset by email and has
    /// fewer than `MAX_LIVE_RESETS` live links; audited either way.
    async fn reset_link_for(&self, email: String, mailer: Arc<dyn Mailer>, meta: &RequestMeta) -> Result<()> {
        let user = self.db().user_by_email(&email).await?;
        let detail = match user {
            Some(u) if may_reset(&u) => {
                if self.db().count_password_resets(u.id, self.now()).await? < MAX_LIVE_RESETS {
                    self.send_reset_link(&u, mailer).await?;
                    "sent"
                } else {
                    "too_many_links"
                }
            }
            Some(_) => "not_eligible",
            None => "unknown_user",
        };
        self.audit(meta, None, "auth.password_reset_request", Some(email), AuditOutcome::Success, Some(detail)).await;
        Ok(())
    }

    /// Stores a new link's hash and sends the link without waiting for the mail server.
    async fn send_reset_link(&self, user: &UserRecord, mailer: Arc<dyn Mailer>) -> Result<()> {
        let token = opaque_token();
        let now = self.now();
        let ttl = self.config().password_reset_ttl;
        self.db().create_password_reset(&sha256_hex(token.as_bytes()), user.id, now, now.plus(ttl)).await?;
        // In the fragment: browsers send it in no request and no Referer.
        let link = format!("{}/reset-password#token={token}", self.config().issuer.trim_end_matches('/'));
        let minutes = ttl.as_secs().div_ceil(60);
        let mail = Mail {
            to: user.email.clone(),
            subject: "Reset your Rampart password".into(),
            text: format!(
                "Someone asked to reset the password of your Rampart account ({}).\r\n\r\n\
                 To choose a new password, open this link within {minutes} minutes:\r\n\r\n{link}\r\n\r\n\
                 The link works once. If you did not ask for it, ignore this message: your password \
                 stays as it is.\r\n",
                user.email
            ),
        };
        tokio::spawn(async move {
            if let Err(e) = mailer.send(mail).await {
                tracing::warn!(error = %e, "password reset mail not sent");
            }
        });
        Ok(())
    }

    /// `POST /v1/auth/password-reset/confirm {token, newPassword}`: the new password is
    /// checked before the link is used up; then every sign-in of the account ends and its
    /// sign-in locks lift.
    pub async fn confirm_password_reset(&self, token: &str, new: &str, meta: &RequestMeta) -> Result<()> {
        if self.inner.mailer.is_none() {
            return Err(not_configured());
        }
        let keys =
            ThrottleKeys { pair: String::new(), account: None, ip: meta.client_ip.as_ref().map(|i| format!("ip:{i}")) };
        self.check_locks(&keys).await?;
        let bad = IdentityError::InvalidToken("unknown, used or expired reset link");
        let hash = sha256_hex(token.as_bytes());
        let peeked = if token.len() <= 256 { self.db().peek_password_reset(&hash, self.now()).await? } else { None };
        let user = match peeked {
            Some(id) => self.db().user_by_id(id).await?,
            None => None,
        };
        // The account must still be one a link may be sent to: a link sent before the account
        // was disabled (or handed to an identity provider) no longer works.
        let user = match user {
            Some(u) if may_reset(&u) => u,
            _ => {
                self.record_failure(&keys, false).await?;
                self.audit(meta, None, "auth.password_reset", None, AuditOutcome::Failure, Some("bad_link")).await;
                return Err(bad);
            }
        };
        validate::check_password(&self.config().password_policy, new, &user.email)?;
        match self.db().take_password_reset(&hash).await? {
            Some(t) if t.expires_at > self.now() => {}
            _ => return Err(bad),
        }
        self.replace_password(&user, new, None, "password_reset").await?;
        self.db().throttle_clear_prefix(&format!("acct:{}", sha256_hex(user.email.as_bytes()))).await?;
        let actor = Some((user.id, user.email.as_str()));
        self.audit(meta, actor, "auth.password_reset", Some(user.id.to_string()), AuditOutcome::Success, None).await;
        Ok(())
    }
}

/// Whether `user` may reset their password by email: active, and signing in with a password.
fn may_reset(user: &UserRecord) -> bool {
    user.status == UserStatus::Active && user.external_issuer.is_none()
}
