//! A small key–value table for server state (e.g. the bootstrap code's hash).

use crate::{Db, StorageError};
use sqlx::Row;

impl Db {
    pub async fn meta_get(&self, key: &str) -> Result<Option<String>, StorageError> {
        let r = sqlx::query("SELECT meta_value FROM meta WHERE meta_key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        Ok(r.map(|r| r.try_get::<String, _>(0)).transpose()?)
    }

    pub async fn meta_set(&self, key: &str, value: &str) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO meta (meta_key, meta_value) VALUES ($1, $2) ON CONFLICT (meta_key) DO UPDATE SET meta_value = $2")
            .bind(key)
            .bind(value)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Deletes a key; true if this call removed it.
    pub async fn meta_take(&self, key: &str) -> Result<bool, StorageError> {
        Ok(sqlx::query("DELETE FROM meta WHERE meta_key = $1").bind(key).execute(self.writer()).await?.rows_affected()
            == 1)
    }
}

impl Db {
    /// Work waiting or running, by queue and status: knowledge-base documents being ingested
    /// (`ingestion`) and background inference jobs (`jobs`). For metrics and the status page.
    pub async fn queue_depths(&self) -> Result<Vec<(&'static str, String, i64)>, StorageError> {
        let mut out = Vec::new();
        for (queue, sql) in [
            (
                "ingestion",
                "SELECT status, COUNT(*) FROM kb_documents WHERE status IN ('pending', 'processing') GROUP BY status",
            ),
            ("jobs", "SELECT status, COUNT(*) FROM jobs WHERE status IN ('pending', 'running') GROUP BY status"),
        ] {
            for r in sqlx::query(sql).fetch_all(self.pool()).await? {
                out.push((queue, r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?));
            }
        }
        Ok(out)
    }
}
