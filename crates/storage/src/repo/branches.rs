//! Branching chat history: a session's messages form a tree, and the history is one path of it.
//!
//! Design (issue 16: edit a sent message, regenerate an answer, every branch kept):
//! - each message has a `parent_id`: the message it follows (a question follows the answer
//!   before it, an answer follows its question); `NULL` for a first message;
//! - a session has an `active_leaf`; the history (what users read and what the model sees)
//!   is the path from the root to that leaf, ordered by `seq` (a child is always stored after
//!   its parent, so `seq` orders a path and the history pages by `seq` as before);
//! - appending (a new question, an answer) attaches under the active leaf, or under a given
//!   parent (an edited question goes under the edited one's parent; a regenerated answer under
//!   its question), and makes the new message the active leaf;
//! - messages with the same parent are siblings ("2 / 3"); switching to a sibling makes the
//!   newest message below it the active leaf.
//!
//! Nothing is deleted or overwritten: an edit adds a message, so every content row keeps its
//! own id as the sealing AAD. Clients that know nothing of branches see a linear history.

use super::chat::{MESSAGE_COLS, NewMessage};
use crate::repo::sqlf;
use crate::{Db, StorageError};
use rampart_core::{MessageId, SessionId, Timestamp, UserId};
use sqlx::Row;

/// The ids on the path from a session's root to its active leaf (`$1` is the session id);
/// prefix a query with it and filter on `id IN (SELECT id FROM path)`.
pub(crate) const PATH: &str = "WITH RECURSIVE path(id) AS (\
    SELECT active_leaf FROM chat_sessions WHERE id = $1 \
    UNION ALL SELECT m.parent_id FROM chat_messages m JOIN path ON m.id = path.id \
    WHERE m.parent_id IS NOT NULL) ";

/// As `PATH`, from message `$3` when it is not NULL (the question a regenerated answer will
/// follow, before that answer makes itself the leaf).
pub(crate) const PATH_FROM: &str = "WITH RECURSIVE path(id) AS (\
    SELECT COALESCE($3, active_leaf) FROM chat_sessions WHERE id = $1 \
    UNION ALL SELECT m.parent_id FROM chat_messages m JOIN path ON m.id = path.id \
    WHERE m.parent_id IS NOT NULL) ";

/// Where new messages go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Under {
    /// After the session's active leaf (the linear case).
    Leaf,
    /// Under this message of the session (`None`: a new first message).
    Parent(Option<MessageId>),
}

/// A message's place in the tree (no content).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeNode {
    pub id: MessageId,
    pub parent_id: Option<MessageId>,
}

fn opt_id(r: &sqlx::any::AnyRow, col: &str) -> Result<Option<MessageId>, StorageError> {
    let s: Option<String> = r.try_get(col)?;
    s.map(|s| s.parse().map_err(|_| StorageError::Corrupt(format!("{col} is not a valid id")))).transpose()
}

impl Db {
    /// Appends messages to the caller's session, each following the one before, the first
    /// under `under`; the last becomes the active leaf. False if the session is not theirs, or
    /// the parent is not a message of it (nothing is stored then).
    pub async fn append_under(
        &self,
        sid: SessionId,
        user: UserId,
        under: Under,
        msgs: &[NewMessage<'_>],
        now: Timestamp,
    ) -> Result<bool, StorageError> {
        let mut tx = self.begin_write().await?;
        // First, so that concurrent appends to one session queue on its row (PostgreSQL).
        let touched = sqlx::query("UPDATE chat_sessions SET updated_at = $1 WHERE id = $2 AND user_id = $3")
            .bind(now.millis())
            .bind(sid.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if touched != 1 {
            return Ok(false);
        }
        let mut parent = match under {
            Under::Leaf => opt_id(
                &sqlx::query("SELECT active_leaf FROM chat_sessions WHERE id = $1")
                    .bind(sid.to_string())
                    .fetch_one(&mut *tx)
                    .await?,
                "active_leaf",
            )?,
            Under::Parent(None) => None,
            Under::Parent(Some(pid)) => {
                let found = sqlx::query("SELECT id FROM chat_messages WHERE id = $1 AND session_id = $2")
                    .bind(pid.to_string())
                    .bind(sid.to_string())
                    .fetch_optional(&mut *tx)
                    .await?;
                if found.is_none() {
                    return Ok(false);
                }
                Some(pid)
            }
        };
        let next: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM chat_messages WHERE session_id = $1")
            .bind(sid.to_string())
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        for (i, m) in msgs.iter().enumerate() {
            sqlx::query(sqlf!(
                "INSERT INTO chat_messages ({MESSAGE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .bind(m.id.to_string())
            .bind(sid.to_string())
            .bind(next + 1 + i64::try_from(i).unwrap_or(0))
            .bind(m.role)
            .bind(m.sealed_content.to_vec())
            .bind(m.sealed_parts.map(<[u8]>::to_vec))
            .bind(m.model_id)
            .bind(m.response_time_ms)
            .bind(now.millis())
            .bind(parent.map(|p| p.to_string()))
            .execute(&mut *tx)
            .await?;
            parent = Some(m.id);
        }
        sqlx::query("UPDATE chat_sessions SET active_leaf = $1 WHERE id = $2")
            .bind(parent.map(|p| p.to_string()))
            .bind(sid.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Makes the branch through `to` the user's history: the newest message at or below `to`
    /// becomes the active leaf. `None` if the session or the message is not theirs.
    pub async fn switch_branch(
        &self,
        user: UserId,
        sid: SessionId,
        to: MessageId,
    ) -> Result<Option<MessageId>, StorageError> {
        let mut tx = self.begin_write().await?;
        let leaf = sqlx::query(
            "WITH RECURSIVE below(id, seq) AS (\
             SELECT m.id, m.seq FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id \
             WHERE m.id = $1 AND m.session_id = $2 AND s.user_id = $3 \
             UNION ALL SELECT c.id, c.seq FROM chat_messages c JOIN below ON c.parent_id = below.id \
             WHERE c.session_id = $2) \
             SELECT id FROM below ORDER BY seq DESC LIMIT 1",
        )
        .bind(to.to_string())
        .bind(sid.to_string())
        .bind(user.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = leaf else { return Ok(None) };
        let leaf: MessageId = super::id(&row, "id")?;
        sqlx::query("UPDATE chat_sessions SET active_leaf = $1 WHERE id = $2 AND user_id = $3")
            .bind(leaf.to_string())
            .bind(sid.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(leaf))
    }

    /// Every message's place in a session's tree, oldest first (ids only: nothing to open; the
    /// caller has checked ownership).
    pub async fn session_tree(&self, sid: SessionId) -> Result<Vec<TreeNode>, StorageError> {
        let rows = sqlx::query("SELECT id, parent_id FROM chat_messages WHERE session_id = $1 ORDER BY seq")
            .bind(sid.to_string())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok(TreeNode { id: super::id(r, "id")?, parent_id: opt_id(r, "parent_id")? })).collect()
    }
}
