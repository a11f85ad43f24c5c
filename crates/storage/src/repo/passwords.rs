//! Password changes: the "must change at next sign-in" mark and the single-use reset tokens
//! sent by email (stored as SHA-256 hashes, taken by their first use, short-lived).

use super::{id, ts};
use crate::{Db, StorageError};
use rampart_core::{Timestamp, UserId};
use sqlx::Row;

/// A reset token taken from the table: whose it was and until when it was good.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TakenReset {
    pub user_id: UserId,
    pub expires_at: Timestamp,
}

impl Db {
    /// Sets a user's password hash and whether it must be changed at the next sign-in.
    pub async fn set_password(
        &self,
        uid: UserId,
        hash: &str,
        must_change: bool,
        now: Timestamp,
    ) -> Result<bool, StorageError> {
        let n = sqlx::query(
            "UPDATE users SET password_hash = $1, password_must_change = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(hash)
        .bind(i64::from(must_change))
        .bind(now.millis())
        .bind(uid.to_string())
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Stores a reset token's hash; drops the user's expired ones on the way.
    pub async fn create_password_reset(
        &self,
        token_hash: &str,
        uid: UserId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StorageError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM password_resets WHERE user_id = $1 AND expires_at <= $2")
            .bind(uid.to_string())
            .bind(now.millis())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(uid.to_string())
        .bind(now.millis())
        .bind(expires_at.millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// How many live reset tokens a user has (a cap on mail sent to one address).
    pub async fn count_password_resets(&self, uid: UserId, now: Timestamp) -> Result<i64, StorageError> {
        Ok(sqlx::query("SELECT COUNT(*) FROM password_resets WHERE user_id = $1 AND expires_at > $2")
            .bind(uid.to_string())
            .bind(now.millis())
            .fetch_one(self.pool())
            .await?
            .try_get(0)?)
    }

    /// Whose live reset token this is, without using it up (the new password is checked first).
    pub async fn peek_password_reset(&self, token_hash: &str, now: Timestamp) -> Result<Option<UserId>, StorageError> {
        let r = sqlx::query("SELECT user_id FROM password_resets WHERE token_hash = $1 AND expires_at > $2")
            .bind(token_hash)
            .bind(now.millis())
            .fetch_optional(self.pool())
            .await?;
        r.map(|r| id(&r, "user_id")).transpose()
    }

    /// Takes (deletes) a reset token: the first caller gets it, expired or not; later ones `None`.
    pub async fn take_password_reset(&self, token_hash: &str) -> Result<Option<TakenReset>, StorageError> {
        let r = sqlx::query("DELETE FROM password_resets WHERE token_hash = $1 RETURNING user_id, expires_at")
            .bind(token_hash)
            .fetch_optional(self.writer())
            .await?;
        r.map(|r| Ok(TakenReset { user_id: id(&r, "user_id")?, expires_at: ts(&r, "expires_at")? })).transpose()
    }

    /// Drops every reset token of a user (after a reset or a change: older links stop working).
    pub async fn delete_password_resets(&self, uid: UserId) -> Result<u64, StorageError> {
        Ok(sqlx::query("DELETE FROM password_resets WHERE user_id = $1")
            .bind(uid.to_string())
            .execute(self.writer())
            .await?
            .rows_affected())
    }
}
