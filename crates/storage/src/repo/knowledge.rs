//! Knowledge bases, documents and chunks. Read access is a predicate in the SQL: the owner,
//! members of a reader group, or an administrator ([`Reader`]). Document bytes and chunk bodies
//! arrive sealed.

use super::{id, ts};
use crate::{Db, StorageError};
use rampart_core::{ChunkId, DocumentId, KnowledgeBaseId, Page, PageRequest, Timestamp, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KbRecord {
    pub id: KnowledgeBaseId,
    pub name: String,
    pub description: String,
    pub owner_id: Option<UserId>,
    pub read_groups: Vec<String>,
    /// The embedding model its chunks are embedded with; `None`: lexical retrieval only.
    pub embedding_model: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Who is reading: their id, groups, and whether they administer everything.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    pub user: UserId,
    pub groups: &'a [String],
    pub admin: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocRecord {
    pub id: DocumentId,
    pub kb_id: KnowledgeBaseId,
    pub name: String,
    pub content_hash: String,
    pub size: i64,
    pub format: Option<String>,
    /// `pending`, `processing`, `ready` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub chunk_count: i64,
    pub uploaded_by: Option<UserId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewChunk {
    pub id: ChunkId,
    pub ordinal: i64,
    /// Sealed text and section.
    pub body: Vec<u8>,
    pub page: Option<i64>,
    pub page_end: Option<i64>,
    pub span_start: i64,
    pub span_end: i64,
    /// The sealed vector and the id of the model that made it.
    pub embedding: Option<(String, Vec<u8>)>,
}

/// A chunk's sealed vector (for building a dense index).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VectorRecord {
    pub id: ChunkId,
    pub kb_id: KnowledgeBaseId,
    pub document_id: DocumentId,
    pub model: String,
    pub sealed: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkRecord {
    pub id: ChunkId,
    pub kb_id: KnowledgeBaseId,
    pub document_id: DocumentId,
    pub document_name: String,
    pub ordinal: i64,
    pub body: Vec<u8>,
    pub page: Option<i64>,
    pub page_end: Option<i64>,
    pub span_start: i64,
    pub span_end: i64,
}

/// Counts shown on a knowledge base.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KbStats {
    pub documents: i64,
    pub chunks: i64,
    pub pending: i64,
    pub failed: i64,
}

/// `$from, $from+1, …` for `n` values.
pub(super) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// The read predicate on `knowledge_bases AS kb`, binding from `$from`: `(kb.owner_id = $from OR
/// EXISTS (reader group in the caller's groups))`, or `1 = 1` for administrators. Returns the SQL
/// and the values to bind in order.
fn read_predicate(r: &Reader<'_>, from: usize) -> (String, Vec<String>) {
    if r.admin {
        // A chat's attached files (a hidden knowledge base) are their owner's alone.
        return (format!("(kb.session_id IS NULL OR kb.owner_id = ${from})"), vec![r.user.to_string()]);
    }
    let mut binds = vec![r.user.to_string()];
    let groups = if r.groups.is_empty() {
        String::new()
    } else {
        binds.extend(r.groups.iter().cloned());
        // Reader groups never open a chat's hidden knowledge base (its owner's alone).
        format!(
            " OR (kb.session_id IS NULL AND EXISTS (SELECT 1 FROM kb_readers g WHERE g.kb_id = kb.id AND g.group_name IN ({})))",
            placeholders(from + 1, r.groups.len())
        )
    };
    (format!("(kb.owner_id = ${from}{groups})"), binds)
}

pub(super) const KB_COLUMNS: &str =
    "kb.id, kb.name, kb.description, kb.owner_id, kb.embedding_model, kb.created_at, kb.updated_at";

pub(super) fn kb_from_row(r: &AnyRow) -> Result<KbRecord, StorageError> {
    let owner: Option<String> = r.try_get("owner_id")?;
    Ok(KbRecord {
        id: id(r, "id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        owner_id: owner.and_then(|o| o.parse().ok()),
        read_groups: Vec::new(),
        embedding_model: r.try_get("embedding_model")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

fn doc_from_row(r: &AnyRow) -> Result<DocRecord, StorageError> {
    let by: Option<String> = r.try_get("uploaded_by")?;
    Ok(DocRecord {
        id: id(r, "id")?,
        kb_id: id(r, "kb_id")?,
        name: r.try_get("name")?,
        content_hash: r.try_get("content_hash")?,
        size: r.try_get("size")?,
        format: r.try_get("format")?,
        status: r.try_get("status")?,
        error: r.try_get("error")?,
        chunk_count: r.try_get("chunk_count")?,
        uploaded_by: by.and_then(|b| b.parse().ok()),
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

const DOC_COLUMNS: &str =
    "id, kb_id, name, content_hash, size, format, status, error, chunk_count, uploaded_by, created_at, updated_at";

fn chunk_from_row(r: &AnyRow) -> Result<ChunkRecord, StorageError> {
    Ok(ChunkRecord {
        id: id(r, "id")?,
        kb_id: id(r, "kb_id")?,
        document_id: id(r, "document_id")?,
        document_name: r.try_get("document_name")?,
        ordinal: r.try_get("ordinal")?,
        body: r.try_get("body")?,
        page: r.try_get("page")?,
        page_end: r.try_get("page_end")?,
        span_start: r.try_get("span_start")?,
        span_end: r.try_get("span_end")?,
    })
}

impl Db {
    async fn fill_readers(&self, kbs: &mut [KbRecord]) -> Result<(), StorageError> {
        for kb in kbs {
            let rows = sqlx::query("SELECT group_name FROM kb_readers WHERE kb_id = $1 ORDER BY group_name")
                .bind(kb.id.to_string())
                .fetch_all(self.pool())
                .await?;
            kb.read_groups = rows.iter().map(|r| r.try_get("group_name")).collect::<Result<_, _>>()?;
        }
        Ok(())
    }

    /// Creates a knowledge base; `Conflict` if the name is taken.
    pub async fn create_kb(&self, kb: &KbRecord) -> Result<(), StorageError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO knowledge_bases (id, name, description, owner_id, embedding_model, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(kb.id.to_string())
        .bind(&kb.name)
        .bind(&kb.description)
        .bind(kb.owner_id.map(|u| u.to_string()))
        .bind(kb.embedding_model.as_deref())
        .bind(kb.created_at.millis())
        .bind(kb.updated_at.millis())
        .execute(&mut *tx)
        .await?;
        for g in &kb.read_groups {
            sqlx::query("INSERT INTO kb_readers (kb_id, group_name) VALUES ($1, $2)")
                .bind(kb.id.to_string())
                .bind(g)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replaces name, description, embedding model and reader groups; false if it does not
    /// exist. A changed embedding model sends every document back to ingestion (same transaction).
    pub async fn update_kb(&self, kb: &KbRecord) -> Result<bool, StorageError> {
        let mut tx = self.begin_write().await?;
        // A chat's hidden knowledge base (attached files) is not changed here: it has no name,
        // description or readers of its own.
        let before: Option<Option<String>> =
            sqlx::query("SELECT embedding_model FROM knowledge_bases WHERE id = $1 AND session_id IS NULL")
                .bind(kb.id.to_string())
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("embedding_model"))
                .transpose()?;
        let Some(before) = before else { return Ok(false) };
        let n = sqlx::query(
            "UPDATE knowledge_bases SET name = $1, description = $2, embedding_model = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(&kb.name)
        .bind(&kb.description)
        .bind(kb.embedding_model.as_deref())
        .bind(kb.updated_at.millis())
            .bind(kb.id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        if before != kb.embedding_model {
            sqlx::query(
                "UPDATE kb_documents SET status = 'pending', error = NULL, updated_at = $1 WHERE kb_id = $2 AND status <> 'failed'",
            )
            .bind(kb.updated_at.millis())
            .bind(kb.id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM kb_readers WHERE kb_id = $1").bind(kb.id.to_string()).execute(&mut *tx).await?;
        for g in &kb.read_groups {
            sqlx::query("INSERT INTO kb_readers (kb_id, group_name) VALUES ($1, $2)")
                .bind(kb.id.to_string())
                .bind(g)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    pub async fn delete_kb(&self, kb: KnowledgeBaseId) -> Result<bool, StorageError> {
        Ok(sqlx::query("DELETE FROM knowledge_bases WHERE id = $1")
            .bind(kb.to_string())
            .execute(self.writer())
            .await?
            .rows_affected()
            == 1)
    }

    /// A knowledge base the reader may read.
    pub async fn kb_for(&self, r: &Reader<'_>, kb: KnowledgeBaseId) -> Result<Option<KbRecord>, StorageError> {
        let (pred, binds) = read_predicate(r, 2);
        let sql = format!("SELECT {KB_COLUMNS} FROM knowledge_bases kb WHERE kb.id = $1 AND {pred}");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(kb.to_string());
        for b in binds {
            q = q.bind(b);
        }
        let Some(row) = q.fetch_optional(self.pool()).await? else { return Ok(None) };
        let mut v = vec![kb_from_row(&row)?];
        self.fill_readers(&mut v).await?;
        Ok(v.pop())
    }

    /// The knowledge bases the reader may read, by name.
    pub async fn kbs_for(&self, r: &Reader<'_>) -> Result<Vec<KbRecord>, StorageError> {
        let (pred, binds) = read_predicate(r, 1);
        let sql = format!(
            "SELECT {KB_COLUMNS} FROM knowledge_bases kb WHERE {pred} AND kb.session_id IS NULL ORDER BY kb.name"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b);
        }
        let mut v = q.fetch_all(self.pool()).await?.iter().map(kb_from_row).collect::<Result<Vec<_>, _>>()?;
        self.fill_readers(&mut v).await?;
        Ok(v)
    }

    /// The ids and embedding models of the knowledge bases the reader may read, among `only`
    /// when given (retrieval: one light query, no reader groups). Chats' hidden knowledge bases
    /// (attached files) only with `hidden`, and then only among `only`.
    pub async fn readable_kb_models(
        &self,
        r: &Reader<'_>,
        only: Option<&[KnowledgeBaseId]>,
        hidden: bool,
    ) -> Result<Vec<(KnowledgeBaseId, Option<String>)>, StorageError> {
        let (pred, binds) = read_predicate(r, 1);
        let mut sql = format!("SELECT kb.id, kb.embedding_model FROM knowledge_bases kb WHERE {pred}");
        if !hidden || only.is_none() {
            sql.push_str(" AND kb.session_id IS NULL");
        }
        if let Some(ids) = only {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(" AND kb.id IN ({})", placeholders(1 + binds.len(), ids.len())));
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b);
        }
        for id in only.unwrap_or_default() {
            q = q.bind(id.to_string());
        }
        q.fetch_all(self.pool()).await?.iter().map(|r| Ok((id(r, "id")?, r.try_get("embedding_model")?))).collect()
    }

    pub async fn kb_stats(&self, kb: KnowledgeBaseId) -> Result<KbStats, StorageError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS documents, CAST(COALESCE(SUM(chunk_count), 0) AS BIGINT) AS chunks, \
             CAST(COALESCE(SUM(CASE WHEN status IN ('pending', 'processing') THEN 1 ELSE 0 END), 0) AS BIGINT) AS pending, \
             CAST(COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS failed \
             FROM kb_documents WHERE kb_id = $1",
        )
        .bind(kb.to_string())
        .fetch_one(self.pool())
        .await?;
        Ok(KbStats {
            documents: row.try_get("documents")?,
            chunks: row.try_get("chunks")?,
            pending: row.try_get("pending")?,
            failed: row.try_get("failed")?,
        })
    }

    /// Every knowledge base's documents: how many, and the bytes uploaded (as uploaded, before
    /// sealing). For the status page.
    pub async fn document_totals(&self) -> Result<(i64, i64), StorageError> {
        let row = sqlx::query("SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM kb_documents")
            .fetch_one(self.pool())
            .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// Stores uploaded documents (status `pending`) in one transaction. Content already in the
    /// knowledge base (same hash) is not stored again: its entry is the existing document.
    pub async fn insert_documents(
        &self,
        docs: &[(DocRecord, Vec<u8>)],
    ) -> Result<Vec<Option<DocRecord>>, StorageError> {
        let mut tx = self.begin_write().await?;
        let mut out = Vec::with_capacity(docs.len());
        let sql = format!("SELECT {DOC_COLUMNS} FROM kb_documents WHERE kb_id = $1 AND content_hash = $2");
        for (d, sealed) in docs {
            let existing = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(d.kb_id.to_string())
                .bind(&d.content_hash)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = existing {
                out.push(Some(doc_from_row(&row)?));
                continue;
            }
            sqlx::query(
                "INSERT INTO kb_documents (id, kb_id, name, content_hash, size, format, status, error, chunk_count, uploaded_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(d.id.to_string())
            .bind(d.kb_id.to_string())
            .bind(&d.name)
            .bind(&d.content_hash)
            .bind(d.size)
            .bind(d.format.as_deref())
            .bind(&d.status)
            .bind(d.error.as_deref())
            .bind(d.chunk_count)
            .bind(d.uploaded_by.map(|u| u.to_string()))
            .bind(d.created_at.millis())
            .bind(d.updated_at.millis())
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO kb_document_contents (document_id, content) VALUES ($1, $2)")
                .bind(d.id.to_string())
                .bind(sealed.clone())
                .execute(&mut *tx)
                .await?;
            out.push(None);
        }
        tx.commit().await?;
        Ok(out)
    }

    pub async fn document_by_hash(&self, kb: KnowledgeBaseId, hash: &str) -> Result<Option<DocRecord>, StorageError> {
        let sql = format!("SELECT {DOC_COLUMNS} FROM kb_documents WHERE kb_id = $1 AND content_hash = $2");
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(kb.to_string()).bind(hash).fetch_optional(self.pool()).await?;
        row.as_ref().map(doc_from_row).transpose()
    }

    /// A document of a knowledge base.
    pub async fn document(&self, kb: KnowledgeBaseId, doc: DocumentId) -> Result<Option<DocRecord>, StorageError> {
        let sql = format!("SELECT {DOC_COLUMNS} FROM kb_documents WHERE kb_id = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(kb.to_string())
            .bind(doc.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(doc_from_row).transpose()
    }

    /// A knowledge base's documents, oldest first.
    pub async fn documents(&self, kb: KnowledgeBaseId, page: &PageRequest) -> Result<Page<DocRecord>, StorageError> {
        let limit = page.limit();
        let after = page.cursor.clone().unwrap_or_default();
        let sql = format!("SELECT {DOC_COLUMNS} FROM kb_documents WHERE kb_id = $1 AND id > $2 ORDER BY id LIMIT $3");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(kb.to_string())
            .bind(after)
            .bind(i64::from(limit) + 1)
            .fetch_all(self.pool())
            .await?;
        let mut items = rows.iter().map(doc_from_row).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|d| d.id.to_string())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// The sealed bytes of documents (those that still exist).
    pub async fn document_contents(&self, docs: &[DocumentId]) -> Result<Vec<(DocumentId, Vec<u8>)>, StorageError> {
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT document_id, content FROM kb_document_contents WHERE document_id IN ({})",
            placeholders(1, docs.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for d in docs {
            q = q.bind(d.to_string());
        }
        q.fetch_all(self.pool()).await?.iter().map(|r| Ok((id(r, "document_id")?, r.try_get("content")?))).collect()
    }

    /// Takes up to `limit` of the oldest pending documents for ingestion (`pending` →
    /// `processing`), in one transaction. A document another process took in the meantime is
    /// left out (the update requires it still pending).
    pub async fn claim_pending_documents(
        &self,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<(DocumentId, KnowledgeBaseId)>, StorageError> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query("SELECT id, kb_id FROM kb_documents WHERE status = 'pending' ORDER BY id LIMIT $1")
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let (doc, kb): (String, String) = (row.try_get("id")?, row.try_get("kb_id")?);
            let n = sqlx::query(
                "UPDATE kb_documents SET status = 'processing', updated_at = $1 WHERE id = $2 AND status = 'pending'",
            )
            .bind(now.millis())
            .bind(&doc)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                let bad = |s: &str| StorageError::Corrupt(format!("bad id {s}"));
                out.push((doc.parse().map_err(|_| bad(&doc))?, kb.parse().map_err(|_| bad(&kb))?));
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// After a restart: documents left `processing` go back to `pending`.
    pub async fn requeue_processing_documents(&self) -> Result<u64, StorageError> {
        Ok(sqlx::query("UPDATE kb_documents SET status = 'pending' WHERE status = 'processing'")
            .execute(self.writer())
            .await?
            .rows_affected())
    }

    /// Re-ingests a document; false if it is not in this knowledge base.
    pub async fn requeue_document(
        &self,
        kb: KnowledgeBaseId,
        doc: DocumentId,
        now: Timestamp,
    ) -> Result<bool, StorageError> {
        Ok(sqlx::query(
            "UPDATE kb_documents SET status = 'pending', error = NULL, updated_at = $1 WHERE kb_id = $2 AND id = $3",
        )
        .bind(now.millis())
        .bind(kb.to_string())
        .bind(doc.to_string())
        .execute(self.writer())
        .await?
        .rows_affected()
            == 1)
    }

    /// Replaces the chunks of documents (one transaction for all).
    pub async fn replace_chunks(
        &self,
        docs: &[(KnowledgeBaseId, DocumentId, Vec<NewChunk>)],
    ) -> Result<(), StorageError> {
        let mut tx = self.begin_write().await?;
        for (kb, doc, chunks) in docs {
            sqlx::query("DELETE FROM kb_chunks WHERE document_id = $1").bind(doc.to_string()).execute(&mut *tx).await?;
            for c in chunks {
                sqlx::query(
                    "INSERT INTO kb_chunks (id, kb_id, document_id, ordinal, body, page, page_end, span_start, span_end, \
                     embedding_model, embedding) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(c.id.to_string())
                .bind(kb.to_string())
                .bind(doc.to_string())
                .bind(c.ordinal)
                .bind(c.body.clone())
                .bind(c.page)
                .bind(c.page_end)
                .bind(c.span_start)
                .bind(c.span_end)
                .bind(c.embedding.as_ref().map(|e| e.0.clone()))
                .bind(c.embedding.as_ref().map(|e| e.1.clone()))
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends an ingestion: `ready` with its chunk count, or `failed` with a reason (chunks removed).
    pub async fn finish_document(
        &self,
        doc: DocumentId,
        status: &str,
        error: Option<&str>,
        format: Option<&str>,
        chunk_count: i64,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        let mut tx = self.begin_write().await?;
        if status != "ready" {
            sqlx::query("DELETE FROM kb_chunks WHERE document_id = $1").bind(doc.to_string()).execute(&mut *tx).await?;
        }
        sqlx::query(
            "UPDATE kb_documents SET status = $1, error = $2, format = $3, chunk_count = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(status)
        .bind(error)
        .bind(format)
        .bind(chunk_count)
        .bind(now.millis())
        .bind(doc.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks ingested documents `ready` with their format and chunk count (one transaction);
    /// only those still `processing` (one re-queued meanwhile is left for its next ingestion).
    pub async fn finish_documents_ready(
        &self,
        docs: &[(DocumentId, String, i64)],
        now: Timestamp,
    ) -> Result<(), StorageError> {
        let mut tx = self.begin_write().await?;
        for (doc, format, chunks) in docs {
            sqlx::query(
                "UPDATE kb_documents SET status = 'ready', error = NULL, format = $1, chunk_count = $2, updated_at = $3 \
                 WHERE id = $4 AND status = 'processing'",
            )
            .bind(format)
            .bind(chunks)
            .bind(now.millis())
            .bind(doc.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_document(&self, kb: KnowledgeBaseId, doc: DocumentId) -> Result<bool, StorageError> {
        Ok(sqlx::query("DELETE FROM kb_documents WHERE kb_id = $1 AND id = $2")
            .bind(kb.to_string())
            .bind(doc.to_string())
            .execute(self.writer())
            .await?
            .rows_affected()
            == 1)
    }

    /// Chunks by id, with their document's name, only from the given knowledge bases.
    pub async fn chunks_in(&self, ids: &[ChunkId], kbs: &[KnowledgeBaseId]) -> Result<Vec<ChunkRecord>, StorageError> {
        if ids.is_empty() || kbs.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT c.id, c.kb_id, c.document_id, d.name AS document_name, c.ordinal, c.body, c.page, c.page_end, \
             c.span_start, c.span_end FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id \
             WHERE c.id IN ({}) AND c.kb_id IN ({})",
            placeholders(1, ids.len()),
            placeholders(1 + ids.len(), kbs.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for i in ids {
            q = q.bind(i.to_string());
        }
        for k in kbs {
            q = q.bind(k.to_string());
        }
        q.fetch_all(self.pool()).await?.iter().map(chunk_from_row).collect()
    }

    /// Chunks of `ready` documents in id order after `after` (for rebuilding an index).
    pub async fn ready_chunks_after(
        &self,
        after: Option<ChunkId>,
        limit: i64,
    ) -> Result<Vec<ChunkRecord>, StorageError> {
        let rows = sqlx::query(
            "SELECT c.id, c.kb_id, c.document_id, d.name AS document_name, c.ordinal, c.body, c.page, c.page_end, \
             c.span_start, c.span_end FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id \
             WHERE d.status = 'ready' AND c.id > $1 ORDER BY c.id LIMIT $2",
        )
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(chunk_from_row).collect()
    }

    /// Chunks of one document, in order.
    pub async fn document_chunks(&self, doc: DocumentId) -> Result<Vec<ChunkRecord>, StorageError> {
        let rows = sqlx::query(
            "SELECT c.id, c.kb_id, c.document_id, d.name AS document_name, c.ordinal, c.body, c.page, c.page_end, \
             c.span_start, c.span_end FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id \
             WHERE c.document_id = $1 ORDER BY c.ordinal",
        )
        .bind(doc.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(chunk_from_row).collect()
    }

    /// Chunks of one document with ordinals in `from..=to`, in order (a passage in context).
    pub async fn document_chunk_range(
        &self,
        doc: DocumentId,
        from: i64,
        to: i64,
    ) -> Result<Vec<ChunkRecord>, StorageError> {
        let rows = sqlx::query(
            "SELECT c.id, c.kb_id, c.document_id, d.name AS document_name, c.ordinal, c.body, c.page, c.page_end, \
             c.span_start, c.span_end FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id \
             WHERE c.document_id = $1 AND c.ordinal >= $2 AND c.ordinal <= $3 ORDER BY c.ordinal",
        )
        .bind(doc.to_string())
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(chunk_from_row).collect()
    }

    /// Ready chunks in total (to tell whether an index is complete).
    pub async fn ready_chunk_count(&self) -> Result<i64, StorageError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id WHERE d.status = 'ready'",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("n")?)
    }

    /// A knowledge base by id, whoever reads (ingestion; not for users).
    pub async fn kb_by_id(&self, kb: KnowledgeBaseId) -> Result<Option<KbRecord>, StorageError> {
        let sql = format!("SELECT {KB_COLUMNS} FROM knowledge_bases kb WHERE kb.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(kb.to_string()).fetch_optional(self.pool()).await?;
        row.as_ref().map(kb_from_row).transpose()
    }

    /// Whether some knowledge base embeds with this model (it cannot be deleted then).
    pub async fn embedding_model_in_use(&self, model: &str) -> Result<bool, StorageError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM knowledge_bases WHERE embedding_model = $1")
            .bind(model)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Vectors of ready documents in chunk-id order after `after`, of one knowledge base or all
    /// (for building dense indexes).
    pub async fn vectors_after(
        &self,
        kb: Option<KnowledgeBaseId>,
        after: Option<ChunkId>,
        limit: i64,
    ) -> Result<Vec<VectorRecord>, StorageError> {
        let rows = sqlx::query(
            "SELECT c.id, c.kb_id, c.document_id, c.embedding_model, c.embedding FROM kb_chunks c \
             JOIN kb_documents d ON d.id = c.document_id \
             WHERE d.status = 'ready' AND c.embedding IS NOT NULL AND ($1 = '' OR c.kb_id = $1) AND c.id > $2 \
             ORDER BY c.id LIMIT $3",
        )
        .bind(kb.map(|k| k.to_string()).unwrap_or_default())
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(vector_from_row).collect()
    }

    /// Which chunks of ready documents have a vector made with `model`, in one knowledge base
    /// (to check a saved dense index against).
    pub async fn vector_ids(
        &self,
        kb: KnowledgeBaseId,
        model: &str,
    ) -> Result<Vec<(ChunkId, DocumentId)>, StorageError> {
        let rows = sqlx::query(
            "SELECT c.id, c.document_id FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id \
             WHERE d.status = 'ready' AND c.kb_id = $1 AND c.embedding_model = $2 AND c.embedding IS NOT NULL",
        )
        .bind(kb.to_string())
        .bind(model)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok((id(r, "id")?, id(r, "document_id")?))).collect()
    }

    /// The vectors of one document (its chunks' order).
    pub async fn document_vectors(&self, doc: DocumentId) -> Result<Vec<VectorRecord>, StorageError> {
        let rows = sqlx::query(
            "SELECT id, kb_id, document_id, embedding_model, embedding FROM kb_chunks \
             WHERE document_id = $1 AND embedding IS NOT NULL ORDER BY ordinal",
        )
        .bind(doc.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(vector_from_row).collect()
    }

    /// Vectors of ready documents per knowledge base and model (to tell whether a dense index
    /// is complete).
    pub async fn vector_counts(&self) -> Result<Vec<(KnowledgeBaseId, String, i64)>, StorageError> {
        let rows = sqlx::query(
            "SELECT c.kb_id, c.embedding_model, COUNT(*) AS n FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id \
             WHERE d.status = 'ready' AND c.embedding IS NOT NULL GROUP BY c.kb_id, c.embedding_model",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok((id(r, "kb_id")?, r.try_get("embedding_model")?, r.try_get("n")?))).collect()
    }
}

fn vector_from_row(r: &AnyRow) -> Result<VectorRecord, StorageError> {
    Ok(VectorRecord {
        id: id(r, "id")?,
        kb_id: id(r, "kb_id")?,
        document_id: id(r, "document_id")?,
        model: r.try_get("embedding_model")?,
        sealed: r.try_get("embedding")?,
    })
}
