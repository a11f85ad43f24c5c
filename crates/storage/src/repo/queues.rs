//! How much background work is waiting or running, for metrics and the status page.

use crate::{Db, StorageError};
use sqlx::Row;

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
