//! Every column that holds sealed (envelope-encrypted) data, and a batched walk over them that
//! replaces values in place, for master-key rotation (`rampart keys rotate-master`).

use crate::{Db, StorageError};
use sqlx::Row;

/// A column of sealed blobs and the table's key (an expression over its primary key columns).
#[derive(Clone, Copy, Debug)]
pub struct SealedColumn {
    pub table: &'static str,
    pub key: &'static str,
    pub column: &'static str,
}

/// The inventory. A test checks it against the schema: every blob column is listed here.
pub const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn { table: "user_mfa", key: "user_id", column: "totp_secret" },
    SealedColumn { table: "signing_keys", key: "kid", column: "private_key" },
    SealedColumn { table: "chat_sessions", key: "id", column: "title" },
    SealedColumn { table: "chat_messages", key: "id", column: "content" },
    SealedColumn { table: "chat_messages", key: "id", column: "parts" },
    SealedColumn { table: "feedback", key: "id", column: "text_feedback" },
    SealedColumn { table: "user_prompts", key: "id", column: "title" },
    SealedColumn { table: "user_prompts", key: "id", column: "body" },
    SealedColumn { table: "jobs", key: "id", column: "result" },
    SealedColumn { table: "catalog", key: "kind || '/' || id", column: "secrets" },
    SealedColumn { table: "kb_document_contents", key: "document_id", column: "content" },
    SealedColumn { table: "kb_chunks", key: "id", column: "body" },
    SealedColumn { table: "kb_chunks", key: "id", column: "embedding" },
    SealedColumn { table: "meetings", key: "id", column: "call_id" },
    SealedColumn { table: "meetings", key: "id", column: "details" },
    SealedColumn { table: "meeting_segments", key: "meeting_id || '/' || segment_id", column: "body" },
    SealedColumn { table: "meeting_summaries", key: "meeting_id", column: "body" },
    SealedColumn { table: "meeting_passages", key: "id", column: "body" },
    SealedColumn { table: "meeting_passages", key: "id", column: "embedding" },
];

/// What one walk did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rewrapped {
    pub scanned: u64,
    pub changed: u64,
}

impl Db {
    /// Walks `c` in key order, `batch` rows at a time, and stores `f(value)` where it returns
    /// `Some`. Each row is replaced only if it still holds the value that was read (a
    /// concurrent writer wins; its value is sealed under the active key anyway).
    pub async fn rewrap_column(
        &self,
        c: &SealedColumn,
        batch: u32,
        mut f: impl FnMut(&[u8]) -> Option<Vec<u8>>,
    ) -> Result<Rewrapped, StorageError> {
        let (t, k, col) = (c.table, c.key, c.column);
        let select =
            format!("SELECT {k} AS k, {col} AS v FROM {t} WHERE {k} > $1 AND {col} IS NOT NULL ORDER BY {k} LIMIT $2");
        let update = format!("UPDATE {t} SET {col} = $1 WHERE {k} = $2 AND {col} = $3");
        let mut out = Rewrapped::default();
        let mut after = String::new();
        loop {
            let rows = sqlx::query(sqlx::AssertSqlSafe(select.clone()))
                .bind(&after)
                .bind(i64::from(batch))
                .fetch_all(self.pool())
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("k")?;
            let mut tx = self.begin_write().await?;
            for r in &rows {
                out.scanned += 1;
                let key: String = r.try_get("k")?;
                let old: Vec<u8> = r.try_get("v")?;
                if let Some(new) = f(&old) {
                    let n = sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                        .bind(new)
                        .bind(&key)
                        .bind(old)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    out.changed += n;
                }
            }
            tx.commit().await?;
        }
        Ok(out)
    }

    /// Every byte-string column of the schema, as `table.column` (for the inventory test).
    pub async fn blob_columns(&self) -> Result<Vec<String>, StorageError> {
        let sql = match self.backend() {
            crate::db::Backend::Sqlite => {
                "SELECT m.name || '.' || p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND upper(p.type) = 'BLOB' ORDER BY 1"
            }
            crate::db::Backend::Postgres => {
                "SELECT table_name || '.' || column_name FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND data_type = 'bytea' ORDER BY 1"
            }
        };
        Ok(sqlx::query(sql)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?)
    }
}
