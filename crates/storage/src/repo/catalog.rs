//! Models and assistants added by administrators at runtime. The repository stores the spec
//! (JSON, no secrets) and the sealed secrets as given; `server` validates and seals.

use super::ts;
use crate::{Db, StorageError};
use rampart_core::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogRecord {
    /// `model` or `assistant`.
    pub kind: String,
    pub id: String,
    pub spec: String,
    pub sealed_secrets: Option<Vec<u8>>,
    pub updated_by: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

fn from_row(r: &AnyRow) -> Result<CatalogRecord, StorageError> {
    Ok(CatalogRecord {
        kind: r.try_get("kind")?,
        id: r.try_get("id")?,
        spec: r.try_get("spec")?,
        sealed_secrets: r.try_get("secrets")?,
        updated_by: r.try_get("updated_by")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

impl Db {
    /// Every entry, models first, each kind by id.
    pub async fn catalog(&self) -> Result<Vec<CatalogRecord>, StorageError> {
        let rows = sqlx::query(
            "SELECT kind, id, spec, secrets, updated_by, created_at, updated_at FROM catalog ORDER BY kind DESC, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn catalog_entry(&self, kind: &str, id: &str) -> Result<Option<CatalogRecord>, StorageError> {
        let row = sqlx::query("SELECT kind, id, spec, secrets, updated_by, created_at, updated_at FROM catalog WHERE kind = $1 AND id = $2")
            .bind(kind)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Adds an entry; `Conflict` if (kind, id) exists.
    pub async fn insert_catalog_entry(&self, r: &CatalogRecord) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO catalog (kind, id, spec, secrets, updated_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&r.kind)
            .bind(&r.id)
            .bind(&r.spec)
            .bind(r.sealed_secrets.clone())
            .bind(r.updated_by.as_deref())
            .bind(r.created_at.millis())
            .bind(r.updated_at.millis())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Replaces an entry's spec and secrets; false if it does not exist.
    pub async fn update_catalog_entry(&self, r: &CatalogRecord) -> Result<bool, StorageError> {
        Ok(sqlx::query(
            "UPDATE catalog SET spec = $1, secrets = $2, updated_by = $3, updated_at = $4 WHERE kind = $5 AND id = $6",
        )
        .bind(&r.spec)
        .bind(r.sealed_secrets.clone())
        .bind(r.updated_by.as_deref())
        .bind(r.updated_at.millis())
        .bind(&r.kind)
        .bind(&r.id)
        .execute(self.writer())
        .await?
        .rows_affected()
            == 1)
    }

    pub async fn delete_catalog_entry(&self, kind: &str, id: &str) -> Result<bool, StorageError> {
        Ok(sqlx::query("DELETE FROM catalog WHERE kind = $1 AND id = $2")
            .bind(kind)
            .bind(id)
            .execute(self.writer())
            .await?
            .rows_affected()
            == 1)
    }

    /// The latest change to the catalog (0 when empty), so replicas can tell when to reload.
    pub async fn catalog_version(&self) -> Result<(i64, i64), StorageError> {
        let row = sqlx::query("SELECT COUNT(*) AS n, COALESCE(MAX(updated_at), 0) AS latest FROM catalog")
            .fetch_one(self.pool())
            .await?;
        Ok((row.try_get("n")?, row.try_get("latest")?))
    }
}
