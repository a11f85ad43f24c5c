//! Files attached to a chat session: each session has at most one hidden knowledge base
//! (`knowledge_bases.session_id`), owned by the session's user. Hidden knowledge bases are left
//! out of listings, of lookups by name and of "every readable knowledge base" (see `knowledge`).

use super::id;
use super::knowledge::{KB_COLUMNS, KbRecord, kb_from_row, placeholders};
use crate::{Db, StorageError};
use rampart_core::{KnowledgeBaseId, SessionId, Timestamp, UserId};

impl Db {
    /// The ids of the knowledge bases with these names (assistants name theirs in config).
    pub async fn kb_ids_by_name(&self, names: &[String]) -> Result<Vec<KnowledgeBaseId>, StorageError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id FROM knowledge_bases WHERE session_id IS NULL AND name IN ({})",
            placeholders(1, names.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for n in names {
            q = q.bind(n);
        }
        q.fetch_all(self.pool()).await?.iter().map(|r| id(r, "id")).collect()
    }

    /// Every knowledge base (for resolving assistants' names; not for users).
    pub async fn all_kbs(&self) -> Result<Vec<KbRecord>, StorageError> {
        let sql = format!("SELECT {KB_COLUMNS} FROM knowledge_bases kb WHERE kb.session_id IS NULL ORDER BY kb.name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(self.pool()).await?;
        rows.iter().map(kb_from_row).collect()
    }

    /// The hidden knowledge base of the user's session, if the session is theirs and has one.
    pub async fn session_kb(&self, user: UserId, sid: SessionId) -> Result<Option<KnowledgeBaseId>, StorageError> {
        let row = sqlx::query(
            "SELECT kb.id FROM knowledge_bases kb JOIN chat_sessions s ON s.id = kb.session_id \
             WHERE kb.session_id = $1 AND s.user_id = $2 AND kb.owner_id = $2",
        )
        .bind(sid.to_string())
        .bind(user.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| id(&r, "id")).transpose()
    }

    /// The hidden knowledge bases of all the user's sessions (before deleting them all).
    pub async fn session_kbs_of(&self, user: UserId) -> Result<Vec<KnowledgeBaseId>, StorageError> {
        sqlx::query(
            "SELECT kb.id FROM knowledge_bases kb JOIN chat_sessions s ON s.id = kb.session_id WHERE s.user_id = $1",
        )
        .bind(user.to_string())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| id(r, "id"))
        .collect()
    }

    /// Creates the hidden knowledge base of a session of `user` (lexical or with
    /// `embedding_model`); false if the session is not theirs. `Conflict` if it already has one.
    pub async fn create_session_kb(
        &self,
        kb: KnowledgeBaseId,
        user: UserId,
        sid: SessionId,
        embedding_model: Option<&str>,
        now: Timestamp,
    ) -> Result<bool, StorageError> {
        let n = sqlx::query(
            "INSERT INTO knowledge_bases (id, name, description, owner_id, embedding_model, created_at, updated_at, session_id) \
             SELECT $1, $2, '', $3, $4, $5, $5, s.id FROM chat_sessions s WHERE s.id = $6 AND s.user_id = $3",
        )
        .bind(kb.to_string())
        .bind(format!("chat:{sid}"))
        .bind(user.to_string())
        .bind(embedding_model)
        .bind(now.millis())
        .bind(sid.to_string())
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
