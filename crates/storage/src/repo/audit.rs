//! The audit log: who did what to whom, with what outcome. Never passwords, codes or tokens.

use super::{id, paginate, ts};
use crate::{Db, StorageError};
use rampart_core::{AuditId, Page, PageRequest, Timestamp, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Debug, Default)]
pub struct AuditEntry {
    pub actor_id: Option<UserId>,
    /// A readable actor (email, `system`, `cli`).
    pub actor: Option<String>,
    pub action: String,
    pub target: Option<String>,
    /// `success`, `failure`, `denied`, `locked`…
    pub outcome: String,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    /// A short machine-readable reason; never secret material.
    pub detail: Option<String>,
}

#[derive(Clone, Debug)]
pub struct AuditRecord {
    pub id: AuditId,
    pub at: Timestamp,
    pub entry: AuditEntry,
}

#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_id: Option<UserId>,
    pub outcome: Option<String>,
}

fn from_row(r: &AnyRow) -> Result<AuditRecord, StorageError> {
    let actor_id: Option<String> = r.try_get("actor_id")?;
    Ok(AuditRecord {
        id: id(r, "id")?,
        at: ts(r, "at")?,
        entry: AuditEntry {
            actor_id: actor_id.and_then(|s| s.parse().ok()),
            actor: r.try_get("actor")?,
            action: r.try_get("action")?,
            target: r.try_get("target")?,
            outcome: r.try_get("outcome")?,
            client_ip: r.try_get("client_ip")?,
            request_id: r.try_get("request_id")?,
            detail: r.try_get("detail")?,
        },
    })
}

impl Db {
    pub async fn audit(&self, e: &AuditEntry, now: Timestamp) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO audit_log (id, at, actor_id, actor, action, target, outcome, client_ip, request_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            .bind(AuditId::new().to_string())
            .bind(now.millis())
            .bind(e.actor_id.map(|u| u.to_string()))
            .bind(e.actor.as_deref())
            .bind(e.action.as_str())
            .bind(e.target.as_deref())
            .bind(e.outcome.as_str())
            .bind(e.client_ip.as_deref())
            .bind(e.request_id.as_deref())
            .bind(e.detail.as_deref())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Newest first, with optional exact-match filters.
    pub async fn list_audit(&self, f: &AuditFilter, page: &PageRequest) -> Result<Page<AuditRecord>, StorageError> {
        let before = super::cursor(page)?.unwrap_or_default();
        let rows = sqlx::query(
            "SELECT id, at, actor_id, actor, action, target, outcome, client_ip, request_id, detail FROM audit_log \
             WHERE ($1 = '' OR id < $1) AND ($2 = '' OR action = $2) AND ($3 = '' OR actor_id = $3) AND ($4 = '' OR outcome = $4) \
             ORDER BY id DESC LIMIT $5",
        )
        .bind(before)
        .bind(f.action.clone().unwrap_or_default())
        .bind(f.actor_id.map(|u| u.to_string()).unwrap_or_default())
        .bind(f.outcome.clone().unwrap_or_default())
        .bind(i64::from(page.limit()) + 1)
        .fetch_all(self.pool())
        .await?;
        let items = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |a| a.id.to_string()))
    }
}
