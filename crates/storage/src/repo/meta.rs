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

    /// Whether the database takes writes now (readiness): a one-row write to `meta`, which fails
    /// on a full disk or a read-only database while reads still work.
    pub async fn write_probe(&self, now: rampart_core::Timestamp) -> Result<(), StorageError> {
        self.meta_set("readiness_probe", &now.millis().to_string()).await
    }

    /// Deletes a key; true if this call removed it.
    pub async fn meta_take(&self, key: &str) -> Result<bool, StorageError> {
        Ok(sqlx::query("DELETE FROM meta WHERE meta_key = $1").bind(key).execute(self.writer()).await?.rows_affected()
            == 1)
    }

    /// Adds `word` after the key's value (space-separated), or stores it as the value: one
    /// statement, so concurrent appends from several processes all land.
    pub async fn meta_append_word(&self, key: &str, word: &str) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO meta (meta_key, meta_value) VALUES ($1, $2) ON CONFLICT (meta_key) \
             DO UPDATE SET meta_value = meta.meta_value || ' ' || excluded.meta_value",
        )
        .bind(key)
        .bind(word)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Stores a value unless the key has one (the first writer wins).
    pub async fn meta_insert_if_absent(&self, key: &str, value: &str) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO meta (meta_key, meta_value) VALUES ($1, $2) ON CONFLICT (meta_key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}
