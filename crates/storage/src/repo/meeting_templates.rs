//! Meeting templates (summary sections, shortcut buttons) in two layers: the defaults a binary
//! ships, replaced by a newer binary at start-up, and the administrators' custom entries, which
//! no upgrade touches. Merging the layers is the meetings crate's business.

use super::ts;
use crate::{Db, StorageError};
use rampart_core::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

/// Which layer a row is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Default,
    Custom,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Default => "default",
            Layer::Custom => "custom",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateRecord {
    /// `summary` or `shortcut`.
    pub kind: String,
    pub layer: Layer,
    pub key: String,
    pub label: String,
    pub body: String,
    pub position: i64,
    pub enabled: bool,
    pub updated_by: Option<String>,
    pub updated_at: Timestamp,
}

fn record(r: &AnyRow) -> Result<TemplateRecord, StorageError> {
    let layer = match r.try_get::<String, _>("layer")?.as_str() {
        "default" => Layer::Default,
        "custom" => Layer::Custom,
        other => return Err(StorageError::Corrupt(format!("meeting template layer {other:?}"))),
    };
    Ok(TemplateRecord {
        kind: r.try_get("kind")?,
        layer,
        key: r.try_get("template_key")?,
        label: r.try_get("label")?,
        body: r.try_get("body")?,
        position: r.try_get("position")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        updated_by: r.try_get("updated_by")?,
        updated_at: ts(r, "updated_at")?,
    })
}

const COLS: &str = "kind, layer, template_key, label, body, position, enabled, updated_by, updated_at";

/// Where the version of the defaults stored for `kind` is kept.
fn version_key(kind: &str) -> String {
    format!("meeting_templates.defaults_version.{kind}")
}

/// What [`Db::put_custom_template`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    Stored,
    /// `expected` named another version than the stored one (or there is none).
    Changed,
    /// The kind already has `max` custom entries (a new key was refused).
    Full,
}

impl Db {
    /// Both layers of a kind, in key order.
    pub async fn meeting_templates(&self, kind: &str) -> Result<Vec<TemplateRecord>, StorageError> {
        let sql = super::sqlf!("SELECT {COLS} FROM meeting_templates WHERE kind = $1 ORDER BY template_key, layer");
        let rows = sqlx::query(sql).bind(kind).fetch_all(self.pool()).await?;
        rows.iter().map(record).collect()
    }

    /// The version of the defaults stored for `kind` (none before the first start-up).
    pub async fn default_templates_version(&self, kind: &str) -> Result<Option<i64>, StorageError> {
        Ok(self.meta_get(&version_key(kind)).await?.and_then(|v| v.trim().parse().ok()))
    }

    /// Replaces the default layer of `kind` with `rows`, unless defaults of a newer `version`
    /// are stored (an older replica starting during a rolling upgrade must not bring its own
    /// back). The custom layer is not touched. True if replaced.
    pub async fn replace_default_templates(
        &self,
        kind: &str,
        version: i64,
        rows: &[TemplateRecord],
    ) -> Result<bool, StorageError> {
        let mut tx = self.begin_write().await?;
        // The version row is claimed first: on PostgreSQL a concurrent replacement waits for
        // this one and then sees its version.
        let won = sqlx::query(
            "INSERT INTO meta (meta_key, meta_value) VALUES ($1, $2) ON CONFLICT (meta_key) DO UPDATE \
             SET meta_value = excluded.meta_value WHERE CAST(meta.meta_value AS BIGINT) <= $3",
        )
        .bind(version_key(kind))
        .bind(version.to_string())
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !won {
            return Ok(false);
        }
        sqlx::query("DELETE FROM meeting_templates WHERE kind = $1 AND layer = 'default'")
            .bind(kind)
            .execute(&mut *tx)
            .await?;
        for r in rows {
            insert(&mut tx, kind, Layer::Default, r).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Stores an administrator's entry (inserted, or replacing theirs of the same key). With
    /// `expected`, only if the stored custom entry has that version (`updated_at` in ms). A new
    /// key is refused when the kind already has `max` custom entries.
    pub async fn put_custom_template(
        &self,
        r: &TemplateRecord,
        expected: Option<i64>,
        max: usize,
    ) -> Result<PutOutcome, StorageError> {
        let mut tx = self.begin_write().await?;
        let stored = sqlx::query(
            "SELECT updated_at FROM meeting_templates WHERE kind = $1 AND layer = 'custom' AND template_key = $2",
        )
        .bind(&r.kind)
        .bind(&r.key)
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| row.try_get::<i64, _>(0))
        .transpose()?;
        if expected.is_some() && expected != stored {
            return Ok(PutOutcome::Changed);
        }
        if stored.is_none() {
            let n: i64 = sqlx::query("SELECT COUNT(*) FROM meeting_templates WHERE kind = $1 AND layer = 'custom'")
                .bind(&r.kind)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            if usize::try_from(n).unwrap_or(usize::MAX) >= max {
                return Ok(PutOutcome::Full);
            }
        }
        sqlx::query("DELETE FROM meeting_templates WHERE kind = $1 AND layer = 'custom' AND template_key = $2")
            .bind(&r.kind)
            .bind(&r.key)
            .execute(&mut *tx)
            .await?;
        // Versions only grow, even when the clock does not.
        let at = Timestamp::from_millis(r.updated_at.millis().max(stored.map_or(0, |s| s + 1)));
        insert(&mut tx, &r.kind, Layer::Custom, &TemplateRecord { updated_at: at, ..r.clone() }).await?;
        tx.commit().await?;
        Ok(PutOutcome::Stored)
    }

    /// Removes an administrator's entry of `key` (back to the default, if there is one).
    pub async fn delete_custom_template(&self, kind: &str, key: &str) -> Result<bool, StorageError> {
        let n = sqlx::query("DELETE FROM meeting_templates WHERE kind = $1 AND layer = 'custom' AND template_key = $2")
            .bind(kind)
            .bind(key)
            .execute(self.writer())
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Removes every administrator's entry of `kind`: the defaults alone apply.
    pub async fn delete_custom_templates(&self, kind: &str) -> Result<u64, StorageError> {
        Ok(sqlx::query("DELETE FROM meeting_templates WHERE kind = $1 AND layer = 'custom'")
            .bind(kind)
            .execute(self.writer())
            .await?
            .rows_affected())
    }
}

async fn insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    kind: &str,
    layer: Layer,
    r: &TemplateRecord,
) -> Result<(), StorageError> {
    sqlx::query(super::sqlf!("INSERT INTO meeting_templates ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
        .bind(kind)
        .bind(layer.as_str())
        .bind(&r.key)
        .bind(&r.label)
        .bind(&r.body)
        .bind(r.position)
        .bind(i64::from(r.enabled))
        .bind(r.updated_by.as_deref())
        .bind(r.updated_at.millis())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
