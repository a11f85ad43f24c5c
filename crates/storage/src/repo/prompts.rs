//! Each user's prompt library: saved prompts with a title and a text, both sealed before they
//! arrive here. Every call takes the owner, so another user's ids simply find nothing.

use super::{cursor, id, paginate, ts};
use crate::repo::sqlf;
use crate::{Db, StorageError};
use rampart_core::{Page, PageRequest, PromptId, Timestamp, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Debug)]
pub struct PromptRecord {
    pub id: PromptId,
    pub user_id: UserId,
    pub sealed_title: Vec<u8>,
    pub sealed_body: Vec<u8>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLS: &str = "id, user_id, title, body, created_at, updated_at";

fn prompt(r: &AnyRow) -> Result<PromptRecord, StorageError> {
    Ok(PromptRecord {
        id: id(r, "id")?,
        user_id: id(r, "user_id")?,
        sealed_title: r.try_get("title")?,
        sealed_body: r.try_get("body")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

impl Db {
    /// Saves a new prompt unless the user already has `max` (false then, nothing stored).
    pub async fn create_prompt(&self, p: &PromptRecord, max: u32) -> Result<bool, StorageError> {
        let mut tx = self.begin_write().await?;
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM user_prompts WHERE user_id = $1")
            .bind(p.user_id.to_string())
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if n >= i64::from(max) {
            return Ok(false);
        }
        sqlx::query(sqlf!("INSERT INTO user_prompts ({COLS}) VALUES ($1, $2, $3, $4, $5, $6)"))
            .bind(p.id.to_string())
            .bind(p.user_id.to_string())
            .bind(p.sealed_title.clone())
            .bind(p.sealed_body.clone())
            .bind(p.created_at.millis())
            .bind(p.updated_at.millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn prompt(&self, user: UserId, pid: PromptId) -> Result<Option<PromptRecord>, StorageError> {
        let r = sqlx::query(sqlf!("SELECT {COLS} FROM user_prompts WHERE id = $1 AND user_id = $2"))
            .bind(pid.to_string())
            .bind(user.to_string())
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(prompt).transpose()
    }

    /// The user's prompts, oldest first.
    pub async fn list_prompts(&self, user: UserId, page: &PageRequest) -> Result<Page<PromptRecord>, StorageError> {
        let after = cursor(page)?.unwrap_or_default();
        let rows =
            sqlx::query(sqlf!("SELECT {COLS} FROM user_prompts WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3"))
                .bind(user.to_string())
                .bind(after)
                .bind(i64::from(page.limit()) + 1)
                .fetch_all(self.pool())
                .await?;
        let items = rows.iter().map(prompt).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |p| p.id.to_string()))
    }

    /// Replaces a prompt's title and text; false if it is not the user's.
    pub async fn update_prompt(
        &self,
        user: UserId,
        pid: PromptId,
        sealed_title: &[u8],
        sealed_body: &[u8],
        now: Timestamp,
    ) -> Result<bool, StorageError> {
        Ok(sqlx::query("UPDATE user_prompts SET title = $1, body = $2, updated_at = $3 WHERE id = $4 AND user_id = $5")
            .bind(sealed_title.to_vec())
            .bind(sealed_body.to_vec())
            .bind(now.millis())
            .bind(pid.to_string())
            .bind(user.to_string())
            .execute(self.writer())
            .await?
            .rows_affected()
            == 1)
    }

    pub async fn delete_prompt(&self, user: UserId, pid: PromptId) -> Result<bool, StorageError> {
        Ok(sqlx::query("DELETE FROM user_prompts WHERE id = $1 AND user_id = $2")
            .bind(pid.to_string())
            .bind(user.to_string())
            .execute(self.writer())
            .await?
            .rows_affected()
            == 1)
    }
}
