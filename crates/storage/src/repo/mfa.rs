//! TOTP enrolment state and recovery codes. The TOTP secret arrives here already sealed.

use super::ts_opt;
use crate::{Db, StorageError};
use rampart_core::{Timestamp, UserId};
use sqlx::Row;

#[derive(Clone, Debug)]
pub struct MfaRecord {
    pub sealed_secret: Vec<u8>,
    pub enabled: bool,
    pub last_step: i64,
    pub enabled_at: Option<Timestamp>,
}

impl Db {
    pub async fn mfa(&self, uid: UserId) -> Result<Option<MfaRecord>, StorageError> {
        let r = sqlx::query("SELECT totp_secret, enabled, last_step, enabled_at FROM user_mfa WHERE user_id = $1")
            .bind(uid.to_string())
            .fetch_optional(self.pool())
            .await?;
        r.map(|r| {
            Ok(MfaRecord {
                sealed_secret: r.try_get("totp_secret")?,
                enabled: r.try_get::<i64, _>("enabled")? != 0,
                last_step: r.try_get("last_step")?,
                enabled_at: ts_opt(&r, "enabled_at")?,
            })
        })
        .transpose()
    }

    /// Starts (or restarts) enrolment with a new sealed secret. Refused (false) while MFA is enabled.
    pub async fn mfa_begin(&self, uid: UserId, sealed_secret: &[u8], now: Timestamp) -> Result<bool, StorageError> {
        let mut tx = self.begin_write().await?;
        let enabled = sqlx::query("SELECT enabled FROM user_mfa WHERE user_id = $1")
            .bind(uid.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()?
            .unwrap_or(0);
        if enabled != 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM user_mfa WHERE user_id = $1").bind(uid.to_string()).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO user_mfa (user_id, totp_secret, enabled, last_step, created_at) VALUES ($1, $2, 0, 0, $3)",
        )
        .bind(uid.to_string())
        .bind(sealed_secret.to_vec())
        .bind(now.millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records a used TOTP step only if it is newer than the last one (replay protection that
    /// holds under concurrency: the compare is in the UPDATE).
    pub async fn mfa_use_step(&self, uid: UserId, step: i64) -> Result<bool, StorageError> {
        let n = sqlx::query("UPDATE user_mfa SET last_step = $1 WHERE user_id = $2 AND last_step < $1")
            .bind(step)
            .bind(uid.to_string())
            .execute(self.writer())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Enables MFA and replaces the recovery codes, atomically.
    pub async fn mfa_enable(&self, uid: UserId, code_hashes: &[String], now: Timestamp) -> Result<bool, StorageError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE user_mfa SET enabled = 1, enabled_at = $1 WHERE user_id = $2 AND enabled = 0")
            .bind(now.millis())
            .bind(uid.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(uid.to_string()).execute(&mut *tx).await?;
        for h in code_hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(uid.to_string())
                .bind(h)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Consumes a recovery code (single use). True if it was valid and unused.
    pub async fn use_recovery_code(&self, uid: UserId, code_hash: &str, now: Timestamp) -> Result<bool, StorageError> {
        let n = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now.millis())
        .bind(uid.to_string())
        .bind(code_hash)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn unused_recovery_codes(&self, uid: UserId) -> Result<i64, StorageError> {
        Ok(sqlx::query("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
            .bind(uid.to_string())
            .fetch_one(self.pool())
            .await?
            .try_get(0)?)
    }

    /// Removes MFA entirely (admin reset, or reset with a recovery code).
    pub async fn mfa_reset(&self, uid: UserId) -> Result<bool, StorageError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM user_mfa WHERE user_id = $1")
            .bind(uid.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(uid.to_string()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(n == 1)
    }
}
