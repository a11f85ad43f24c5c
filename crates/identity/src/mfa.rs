//! TOTP enrolment and verification, recovery codes.

use crate::config::MfaPolicy;
use crate::error::{IdentityError, Result};
use crate::service::{Identity, RequestMeta};
use rampart_core::AuditOutcome;
use rampart_core::UserId;
use rampart_crypto::{normalize_recovery_code, recovery_code, sha256_hex, totp};
use rampart_storage::repo::users::UserRecord;
use serde::Serialize;

pub const RECOVERY_CODES: usize = 10;
const ISSUER_LABEL: &str = "Rampart";

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TotpEnrollment {
    /// Base32, for typing into an authenticator app.
    pub secret: String,
    /// `otpauth://totp/…`, for a QR code.
    pub otpauth_uri: String,
}

fn aad(user: UserId) -> Vec<u8> {
    format!("totp_secret:{user}").into_bytes()
}

impl Identity {
    pub(crate) async fn begin_totp(&self, user: &UserRecord, meta: &RequestMeta) -> Result<TotpEnrollment> {
        if self.config().mfa == MfaPolicy::Off {
            return Err(IdentityError::Forbidden("MFA is turned off"));
        }
        let secret = totp::generate_secret();
        let sealed = self.keyring().seal(&aad(user.id), &secret);
        if !self.db().mfa_begin(user.id, &sealed, self.now()).await? {
            return Err(IdentityError::MfaAlreadyEnabled);
        }
        self.audit(
            meta,
            Some((user.id, &user.email)),
            "mfa.enroll_start",
            Some(user.id.to_string()),
            AuditOutcome::Success,
            None,
        )
        .await;
        Ok(TotpEnrollment {
            secret: totp::secret_base32(&secret),
            otpauth_uri: totp::otpauth_uri(&secret, ISSUER_LABEL, &user.email),
        })
    }

    async fn totp_secret(&self, user: UserId) -> Result<Option<(Vec<u8>, bool)>> {
        let Some(rec) = self.db().mfa(user).await? else { return Ok(None) };
        let secret = self
            .keyring()
            .open(&aad(user), &rec.sealed_secret)
            .map_err(|e| IdentityError::Internal(format!("totp secret: {e}")))?;
        Ok(Some((secret, rec.enabled)))
    }

    /// Checks a TOTP code, refusing a step at or before the last one used.
    async fn check_totp(&self, user: UserId, secret: &[u8], code: &str) -> Result<bool> {
        let now = u64::try_from(self.now().secs()).unwrap_or(0);
        match totp::verify(secret, code, now) {
            Some(step) => Ok(self.db().mfa_use_step(user, i64::try_from(step).unwrap_or(i64::MAX)).await?),
            None => Ok(false),
        }
    }

    /// Completes enrolment with a first valid code; returns the recovery codes (shown once).
    pub(crate) async fn finish_totp(&self, user: &UserRecord, code: &str, meta: &RequestMeta) -> Result<Vec<String>> {
        let (secret, enabled) = self.totp_secret(user.id).await?.ok_or(IdentityError::MfaNotEnrolled)?;
        if enabled {
            return Err(IdentityError::MfaAlreadyEnabled);
        }
        if !self.check_totp(user.id, &secret, code).await? {
            self.audit(
                meta,
                Some((user.id, &user.email)),
                "mfa.enroll",
                Some(user.id.to_string()),
                AuditOutcome::Failure,
                Some("bad_code"),
            )
            .await;
            return Err(IdentityError::InvalidCode);
        }
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
        let hashes: Vec<String> = codes.iter().map(|c| sha256_hex(normalize_recovery_code(c).as_bytes())).collect();
        if !self.db().mfa_enable(user.id, &hashes, self.now()).await? {
            return Err(IdentityError::MfaAlreadyEnabled);
        }
        self.invalidate_auth_cache();
        self.audit(
            meta,
            Some((user.id, &user.email)),
            "mfa.enroll",
            Some(user.id.to_string()),
            AuditOutcome::Success,
            None,
        )
        .await;
        Ok(codes)
    }

    /// A second factor: a current TOTP code or an unused recovery code.
    pub(crate) async fn check_second_factor(&self, user: &UserRecord, code: &str) -> Result<()> {
        if code.len() > 64 {
            return Err(IdentityError::InvalidCode);
        }
        let (secret, enabled) = self.totp_secret(user.id).await?.ok_or(IdentityError::MfaNotEnrolled)?;
        if !enabled {
            return Err(IdentityError::MfaNotEnrolled);
        }
        let digits = code.trim();
        if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
            return if self.check_totp(user.id, &secret, digits).await? {
                Ok(())
            } else {
                Err(IdentityError::InvalidCode)
            };
        }
        let norm = normalize_recovery_code(code);
        if norm.len() == 20 && self.db().use_recovery_code(user.id, &sha256_hex(norm.as_bytes()), self.now()).await? {
            tracing::info!(user = %user.id, "recovery code used");
            return Ok(());
        }
        Err(IdentityError::InvalidCode)
    }

    async fn user(&self, id: UserId) -> Result<UserRecord> {
        self.db().user_by_id(id).await?.ok_or(IdentityError::NotFound)
    }

    /// `POST /v1/me/mfa/totp`.
    pub async fn me_begin_totp(&self, user: UserId, meta: &RequestMeta) -> Result<TotpEnrollment> {
        let u = self.user(user).await?;
        self.begin_totp(&u, meta).await
    }

    /// `POST /v1/me/mfa/totp/verify {code}` → recovery codes.
    pub async fn me_verify_totp(&self, user: UserId, code: &str, meta: &RequestMeta) -> Result<Vec<String>> {
        let u = self.user(user).await?;
        self.finish_totp(&u, code, meta).await
    }

    /// `DELETE /v1/me/mfa {code}`: turns MFA off with a current code or a recovery code.
    /// Refused while the policy requires MFA.
    pub async fn me_disable_mfa(&self, user: UserId, code: &str, meta: &RequestMeta) -> Result<()> {
        let u = self.user(user).await?;
        if self.config().mfa == MfaPolicy::Required {
            return Err(IdentityError::Forbidden("MFA is required by policy"));
        }
        // Guessing codes here is throttled like guessing them at sign-in.
        let keys = Self::throttle_keys(&u.email, meta);
        self.check_locks(&keys).await?;
        if let Err(e) = self.check_second_factor(&u, code).await {
            self.audit(
                meta,
                Some((u.id, &u.email)),
                "mfa.disable",
                Some(u.id.to_string()),
                AuditOutcome::Failure,
                None,
            )
            .await;
            if let Some(until) = self.record_failure(&keys, true).await? {
                let secs = u64::try_from((until.millis() - self.now().millis()) / 1000).unwrap_or(1).max(1);
                return Err(IdentityError::Locked { retry_after_secs: secs });
            }
            return Err(e);
        }
        self.db().mfa_reset(u.id).await?;
        self.invalidate_auth_cache();
        self.audit(meta, Some((u.id, &u.email)), "mfa.disable", Some(u.id.to_string()), AuditOutcome::Success, None)
            .await;
        Ok(())
    }
}
