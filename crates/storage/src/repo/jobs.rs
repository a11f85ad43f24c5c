//! Async inference jobs. The result arrives sealed; reads take the owner.

use super::{id, ts};
use crate::{Db, StorageError};
use rampart_core::{JobId, Timestamp, UserId};
use sqlx::Row;

#[derive(Clone, Debug)]
pub struct JobRecord {
    pub id: JobId,
    pub user_id: UserId,
    pub assistant_id: String,
    /// `pending`, `running`, `succeeded` or `failed`.
    pub status: String,
    pub sealed_result: Option<Vec<u8>>,
    pub error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Db {
    pub async fn create_job(
        &self,
        jid: JobId,
        user: UserId,
        assistant_id: &str,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO jobs (id, user_id, assistant_id, status, created_at, updated_at) VALUES ($1, $2, $3, 'pending', $4, $4)")
            .bind(jid.to_string())
            .bind(user.to_string())
            .bind(assistant_id)
            .bind(now.millis())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Moves a job to `status`, with its result or error.
    pub async fn update_job(
        &self,
        jid: JobId,
        status: &str,
        sealed_result: Option<&[u8]>,
        error: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        sqlx::query("UPDATE jobs SET status = $1, result = $2, error = $3, updated_at = $4 WHERE id = $5")
            .bind(status)
            .bind(sealed_result.map(<[u8]>::to_vec))
            .bind(error)
            .bind(now.millis())
            .bind(jid.to_string())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// One of the user's jobs.
    pub async fn job(&self, user: UserId, jid: JobId) -> Result<Option<JobRecord>, StorageError> {
        let r = sqlx::query("SELECT id, user_id, assistant_id, status, result, error, created_at, updated_at FROM jobs WHERE id = $1 AND user_id = $2")
            .bind(jid.to_string())
            .bind(user.to_string())
            .fetch_optional(self.pool())
            .await?;
        r.map(|r| {
            Ok(JobRecord {
                id: id(&r, "id")?,
                user_id: id(&r, "user_id")?,
                assistant_id: r.try_get("assistant_id")?,
                status: r.try_get("status")?,
                sealed_result: r.try_get("result")?,
                error: r.try_get("error")?,
                created_at: ts(&r, "created_at")?,
                updated_at: ts(&r, "updated_at")?,
            })
        })
        .transpose()
    }

    /// Jobs left unfinished by a previous process: marked failed at start-up.
    pub async fn fail_unfinished_jobs(&self, reason: &str, now: Timestamp) -> Result<u64, StorageError> {
        Ok(sqlx::query(
            "UPDATE jobs SET status = 'failed', error = $1, updated_at = $2 WHERE status IN ('pending', 'running')",
        )
        .bind(reason)
        .bind(now.millis())
        .execute(self.writer())
        .await?
        .rows_affected())
    }
}
