//! Single-use tickets for WebSockets opened by browsers (which cannot send an `Authorization`
//! header): stored as hashes, taken (deleted) by the first use.

use super::id;
use crate::{Db, StorageError};
use rampart_core::{Timestamp, UserId};
use sqlx::Row;

/// What a ticket was issued for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketRecord {
    pub user_id: UserId,
    pub purpose: String,
    /// Space-separated scopes of the credential that asked for it.
    pub scopes: String,
}

impl Db {
    pub async fn create_ticket(&self, hash: &str, t: &TicketRecord, expires_at: Timestamp) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO ws_tickets (hash, user_id, purpose, scopes, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(hash)
            .bind(t.user_id.to_string())
            .bind(&t.purpose)
            .bind(&t.scopes)
            .bind(expires_at.millis())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Takes a ticket: it is deleted whether or not it is still good; returned only if it is.
    pub async fn take_ticket(&self, hash: &str, now: Timestamp) -> Result<Option<TicketRecord>, StorageError> {
        let row = sqlx::query("DELETE FROM ws_tickets WHERE hash = $1 RETURNING user_id, purpose, scopes, expires_at")
            .bind(hash)
            .fetch_optional(self.writer())
            .await?;
        let Some(r) = row else { return Ok(None) };
        if r.try_get::<i64, _>("expires_at")? <= now.millis() {
            return Ok(None);
        }
        Ok(Some(TicketRecord {
            user_id: id(&r, "user_id")?,
            purpose: r.try_get("purpose")?,
            scopes: r.try_get("scopes")?,
        }))
    }
}
