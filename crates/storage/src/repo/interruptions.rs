//! Service interruptions, one row per service type.

use super::ts;
use crate::{Db, StorageError};
use rampart_core::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Debug)]
pub struct InterruptionRecord {
    pub service_type: String,
    pub message: String,
    pub reason: String,
    pub activated_by: Option<String>,
    pub activated_at: Timestamp,
    pub expires_at: Timestamp,
}

fn from_row(r: &AnyRow) -> Result<InterruptionRecord, StorageError> {
    Ok(InterruptionRecord {
        service_type: r.try_get("service_type")?,
        message: r.try_get("message")?,
        reason: r.try_get("reason")?,
        activated_by: r.try_get("activated_by")?,
        activated_at: ts(r, "activated_at")?,
        expires_at: ts(r, "expires_at")?,
    })
}

impl Db {
    /// Activates (or replaces) the interruption of a service type.
    pub async fn put_interruption(&self, i: &InterruptionRecord) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO service_interruptions (service_type, message, reason, activated_by, activated_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (service_type) DO UPDATE SET message = $2, reason = $3, \
             activated_by = $4, activated_at = $5, expires_at = $6",
        )
        .bind(&i.service_type)
        .bind(&i.message)
        .bind(&i.reason)
        .bind(i.activated_by.as_deref())
        .bind(i.activated_at.millis())
        .bind(i.expires_at.millis())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Interruptions in force at `now`.
    pub async fn active_interruptions(&self, now: Timestamp) -> Result<Vec<InterruptionRecord>, StorageError> {
        let rows = sqlx::query(
            "SELECT service_type, message, reason, activated_by, activated_at, expires_at FROM service_interruptions \
             WHERE expires_at > $1 ORDER BY service_type",
        )
        .bind(now.millis())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Ends an interruption; true if one was in force.
    pub async fn delete_interruption(&self, service_type: &str, now: Timestamp) -> Result<bool, StorageError> {
        Ok(sqlx::query("DELETE FROM service_interruptions WHERE service_type = $1 AND expires_at > $2")
            .bind(service_type)
            .bind(now.millis())
            .execute(self.writer())
            .await?
            .rows_affected()
            == 1)
    }
}
