//! Knowledge bases as a service: management with owner/reader rules, uploads (sealed, deduplicated
//! by content hash), background ingestion with bounded concurrency that resumes after a restart,
//! and retrieval with access control inside the index query.

use crate::chunk::{self, ChunkConfig};
use crate::index::LexicalIndex;
use crate::parse::{self, Limits};
use rampart_core::clock::SharedClock;
use rampart_core::{ChunkId, DocumentId, KnowledgeBaseId, Page, PageRequest, Principal, Timestamp};
use rampart_crypto::Keyring;
use rampart_storage::repo::knowledge::{ChunkRecord, DocRecord, KbRecord, KbStats, NewChunk, Reader};
use rampart_storage::{Db, StorageError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error("not found")]
    NotFound,
    /// Readable, but the caller may not change it.
    #[error("forbidden")]
    Forbidden,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("storage: {0}")]
    Storage(StorageError),
    #[error("{0}")]
    Internal(String),
}

impl From<StorageError> for KnowledgeError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict => KnowledgeError::Conflict("The name is already used.".into()),
            e => KnowledgeError::Storage(e),
        }
    }
}

impl From<crate::index::IndexError> for KnowledgeError {
    fn from(e: crate::index::IndexError) -> Self {
        KnowledgeError::Internal(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, KnowledgeError>;

#[derive(Clone, Debug)]
pub struct KnowledgeConfig {
    pub limits: Limits,
    pub chunking: ChunkConfig,
    /// Documents ingested at once.
    pub ingest_concurrency: usize,
    /// Files in one upload request.
    pub max_files_per_upload: usize,
}

impl Default for KnowledgeConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            chunking: ChunkConfig::default(),
            ingest_concurrency: 2,
            max_files_per_upload: 100,
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KbView {
    pub id: KnowledgeBaseId,
    pub name: String,
    pub description: String,
    pub owner_id: Option<rampart_core::UserId>,
    pub read_groups: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Present on `GET /v1/knowledge-bases/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<KbCounts>,
}

#[derive(Clone, Copy, Debug, Serialize, utoipa::ToSchema)]
pub struct KbCounts {
    pub documents: i64,
    pub chunks: i64,
    pub pending: i64,
    pub failed: i64,
}

impl From<KbStats> for KbCounts {
    fn from(s: KbStats) -> Self {
        Self { documents: s.documents, chunks: s.chunks, pending: s.pending, failed: s.failed }
    }
}

impl KbView {
    fn of(k: KbRecord, counts: Option<KbCounts>) -> Self {
        Self {
            id: k.id,
            name: k.name,
            description: k.description,
            owner_id: k.owner_id,
            read_groups: k.read_groups,
            created_at: k.created_at.secs(),
            updated_at: k.updated_at.secs(),
            counts,
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocView {
    pub id: DocumentId,
    pub name: String,
    /// `pending`, `processing`, `ready`, `failed`, or (an upload of content already there)
    /// `duplicate`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    pub size: i64,
    pub chunks: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<DocRecord> for DocView {
    fn from(d: DocRecord) -> Self {
        Self {
            id: d.id,
            name: d.name,
            status: d.status,
            error: d.error,
            format: d.format,
            size: d.size,
            chunks: d.chunk_count,
            created_at: d.created_at.secs(),
            updated_at: d.updated_at.secs(),
        }
    }
}

/// Where a passage sits in its document.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_end: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// Character span in the document's text.
    pub start: i64,
    pub end: i64,
}

/// A retrieved passage.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Passage {
    pub knowledge_base_id: KnowledgeBaseId,
    pub document_id: DocumentId,
    pub document_name: String,
    pub chunk_id: ChunkId,
    pub text: String,
    pub score: f32,
    pub location: Location,
}

/// What a chunk row's sealed body holds.
#[derive(Serialize, Deserialize)]
struct ChunkBody {
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    section: Option<String>,
}

fn chunk_aad(id: ChunkId) -> Vec<u8> {
    format!("kb_chunk:{id}").into_bytes()
}

fn document_aad(id: DocumentId) -> Vec<u8> {
    format!("kb_document:{id}").into_bytes()
}

fn check_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(KnowledgeError::Invalid("name: use 1-64 characters of a-z, 0-9, '-', '_', '.'".into()))
    }
}

fn check_groups(groups: &[String]) -> Result<()> {
    if groups.len() > 100 || groups.iter().any(|g| g.is_empty() || g.len() > 128) {
        return Err(KnowledgeError::Invalid("readGroups: at most 100 names of 1-128 characters".into()));
    }
    Ok(())
}

#[derive(Clone)]
pub struct KnowledgeService {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    keyring: Keyring,
    clock: SharedClock,
    index: LexicalIndex,
    cfg: KnowledgeConfig,
    wake: tokio::sync::Notify,
    /// Told of every change this process makes to its index, so other replicas can follow.
    on_change: std::sync::OnceLock<Box<dyn Fn(IndexChange) + Send + Sync>>,
}

/// A change to the lexical index, for other replicas' indexes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", tag = "op")]
pub enum IndexChange {
    /// A document's chunks are (re)placed: read them from the database.
    Put {
        kb: KnowledgeBaseId,
        doc: DocumentId,
    },
    DeleteDocument {
        doc: DocumentId,
    },
    DeleteKb {
        kb: KnowledgeBaseId,
    },
}

impl std::fmt::Debug for KnowledgeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KnowledgeService")
    }
}

fn reader(p: &Principal) -> Reader<'_> {
    Reader { user: p.user_id, groups: &p.groups, admin: p.is_admin() }
}

impl KnowledgeService {
    pub fn new(db: Db, keyring: Keyring, clock: SharedClock, index: LexicalIndex, cfg: KnowledgeConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                keyring,
                clock,
                index,
                cfg,
                wake: tokio::sync::Notify::new(),
                on_change: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Called after each change this process makes to its index (set once; the server sends
    /// them to other replicas over the bus).
    pub fn on_index_change(&self, f: impl Fn(IndexChange) + Send + Sync + 'static) {
        let _ = self.inner.on_change.set(Box::new(f));
    }

    fn changed(&self, c: IndexChange) {
        if let Some(f) = self.inner.on_change.get() {
            f(c);
        }
    }

    /// Applies another replica's change to this replica's index.
    pub async fn apply_index_change(&self, c: &IndexChange) -> Result<()> {
        match *c {
            IndexChange::Put { kb, doc } => {
                let mut texts = Vec::new();
                for ch in self.inner.db.document_chunks(doc).await? {
                    texts.push((ch.id, self.open_chunk(&ch)?.text));
                }
                self.inner.index.put_document(kb, doc, &texts)?;
            }
            IndexChange::DeleteDocument { doc } => self.inner.index.delete_document(doc)?,
            IndexChange::DeleteKb { kb } => self.inner.index.delete_kb(kb)?,
        }
        Ok(())
    }

    /// Rebuilds the index when it does not hold as many chunks as the database has ready
    /// (a replica that missed changes); true if it did.
    pub async fn reconcile(&self) -> Result<bool> {
        let expected = self.inner.db.ready_chunk_count().await?;
        if u64::try_from(expected).unwrap_or(0) == self.inner.index.len() {
            return Ok(false);
        }
        self.rebuild_index().await?;
        Ok(true)
    }

    fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    pub fn index(&self) -> &LexicalIndex {
        &self.inner.index
    }

    // ---- knowledge bases ----

    pub async fn create_kb(
        &self,
        p: &Principal,
        name: &str,
        description: Option<&str>,
        read_groups: &[String],
    ) -> Result<KbView> {
        check_name(name)?;
        check_groups(read_groups)?;
        let description = description.unwrap_or_default();
        if description.chars().count() > 1000 {
            return Err(KnowledgeError::Invalid("description: at most 1,000 characters".into()));
        }
        let now = self.now();
        let mut groups = read_groups.to_vec();
        groups.sort();
        groups.dedup();
        let kb = KbRecord {
            id: KnowledgeBaseId::new(),
            name: name.to_owned(),
            description: description.to_owned(),
            owner_id: Some(p.user_id),
            read_groups: groups,
            created_at: now,
            updated_at: now,
        };
        self.inner.db.create_kb(&kb).await?;
        Ok(KbView::of(kb, Some(KbCounts::from(KbStats::default()))))
    }

    pub async fn list_kbs(&self, p: &Principal) -> Result<Vec<KbView>> {
        Ok(self.inner.db.kbs_for(&reader(p)).await?.into_iter().map(|k| KbView::of(k, None)).collect())
    }

    /// A knowledge base the caller may read, with its counts.
    pub async fn get_kb(&self, p: &Principal, id: KnowledgeBaseId) -> Result<KbView> {
        let kb = self.readable(p, id).await?;
        let stats = self.inner.db.kb_stats(id).await?;
        Ok(KbView::of(kb, Some(stats.into())))
    }

    async fn readable(&self, p: &Principal, id: KnowledgeBaseId) -> Result<KbRecord> {
        self.inner.db.kb_for(&reader(p), id).await?.ok_or(KnowledgeError::NotFound)
    }

    /// Readable and changeable by the caller (its owner or an administrator).
    async fn manageable(&self, p: &Principal, id: KnowledgeBaseId) -> Result<KbRecord> {
        let kb = self.readable(p, id).await?;
        if p.is_admin() || kb.owner_id == Some(p.user_id) { Ok(kb) } else { Err(KnowledgeError::Forbidden) }
    }

    pub async fn update_kb(
        &self,
        p: &Principal,
        id: KnowledgeBaseId,
        name: Option<&str>,
        description: Option<&str>,
        read_groups: Option<&[String]>,
    ) -> Result<KbView> {
        let mut kb = self.manageable(p, id).await?;
        if let Some(n) = name {
            check_name(n)?;
            kb.name = n.to_owned();
        }
        if let Some(d) = description {
            if d.chars().count() > 1000 {
                return Err(KnowledgeError::Invalid("description: at most 1,000 characters".into()));
            }
            kb.description = d.to_owned();
        }
        if let Some(g) = read_groups {
            check_groups(g)?;
            let mut g = g.to_vec();
            g.sort();
            g.dedup();
            kb.read_groups = g;
        }
        kb.updated_at = self.now();
        if !self.inner.db.update_kb(&kb).await? {
            return Err(KnowledgeError::NotFound);
        }
        self.get_kb(p, id).await
    }

    /// Deletes a knowledge base, its documents and chunks, and its index entries.
    pub async fn delete_kb(&self, p: &Principal, id: KnowledgeBaseId) -> Result<()> {
        self.manageable(p, id).await?;
        if !self.inner.db.delete_kb(id).await? {
            return Err(KnowledgeError::NotFound);
        }
        self.inner.index.delete_kb(id)?;
        self.changed(IndexChange::DeleteKb { kb: id });
        Ok(())
    }

    // ---- documents ----

    /// Stores uploaded files for ingestion. Content already in this knowledge base is reported
    /// as `duplicate` (with the existing document's id) and not stored again.
    pub async fn upload(
        &self,
        p: &Principal,
        kb: KnowledgeBaseId,
        files: Vec<(String, Vec<u8>)>,
    ) -> Result<Vec<DocView>> {
        self.manageable(p, kb).await?;
        if files.is_empty() || files.len() > self.inner.cfg.max_files_per_upload {
            return Err(KnowledgeError::Invalid(format!(
                "send 1-{} files in the field \"file\"",
                self.inner.cfg.max_files_per_upload
            )));
        }
        for (name, bytes) in &files {
            if name.is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
                return Err(KnowledgeError::Invalid(
                    "file names must be 1-255 characters without control characters".into(),
                ));
            }
            if bytes.len() > self.inner.cfg.limits.max_bytes {
                return Err(KnowledgeError::Invalid(format!(
                    "{name}: larger than the limit of {} bytes",
                    self.inner.cfg.limits.max_bytes
                )));
            }
        }
        let mut out = Vec::with_capacity(files.len());
        for (name, bytes) in files {
            let hash = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes));
            if let Some(existing) = self.inner.db.document_by_hash(kb, &hash).await? {
                let mut v = DocView::from(existing);
                v.status = "duplicate".into();
                out.push(v);
                continue;
            }
            let now = self.now();
            let d = DocRecord {
                id: DocumentId::new(),
                kb_id: kb,
                name,
                content_hash: hash,
                size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
                format: None,
                status: "pending".into(),
                error: None,
                chunk_count: 0,
                uploaded_by: Some(p.user_id),
                created_at: now,
                updated_at: now,
            };
            let sealed = self.inner.keyring.seal(&document_aad(d.id), &bytes);
            match self.inner.db.insert_document(&d, &sealed).await {
                Ok(()) => out.push(d.into()),
                // The same content uploaded twice at once.
                Err(StorageError::Conflict) => {
                    if let Some(existing) = self.inner.db.document_by_hash(kb, &d.content_hash).await? {
                        let mut v = DocView::from(existing);
                        v.status = "duplicate".into();
                        out.push(v);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.inner.wake.notify_waiters();
        Ok(out)
    }

    pub async fn list_documents(
        &self,
        p: &Principal,
        kb: KnowledgeBaseId,
        page: &PageRequest,
    ) -> Result<Page<DocView>> {
        self.readable(p, kb).await?;
        let pg = self.inner.db.documents(kb, page).await?;
        Ok(Page { items: pg.items.into_iter().map(DocView::from).collect(), next_cursor: pg.next_cursor })
    }

    pub async fn get_document(&self, p: &Principal, kb: KnowledgeBaseId, doc: DocumentId) -> Result<DocView> {
        self.readable(p, kb).await?;
        self.inner.db.document(kb, doc).await?.map(DocView::from).ok_or(KnowledgeError::NotFound)
    }

    /// Deletes a document and removes its chunks from the index.
    pub async fn delete_document(&self, p: &Principal, kb: KnowledgeBaseId, doc: DocumentId) -> Result<()> {
        self.manageable(p, kb).await?;
        if !self.inner.db.delete_document(kb, doc).await? {
            return Err(KnowledgeError::NotFound);
        }
        self.inner.index.delete_document(doc)?;
        self.changed(IndexChange::DeleteDocument { doc });
        Ok(())
    }

    /// Ingests a document again (e.g. after a parser improvement, or a failure).
    pub async fn reingest(&self, p: &Principal, kb: KnowledgeBaseId, doc: DocumentId) -> Result<DocView> {
        self.manageable(p, kb).await?;
        if !self.inner.db.requeue_document(kb, doc, self.now()).await? {
            return Err(KnowledgeError::NotFound);
        }
        self.inner.wake.notify_waiters();
        self.get_document(p, kb, doc).await
    }

    // ---- ingestion ----

    /// Starts the ingestion workers. Documents a previous run left half-done are taken again;
    /// an index that does not match the database is rebuilt from it first.
    pub async fn start(&self) -> Result<Vec<tokio::task::JoinHandle<()>>> {
        let n = self.inner.db.requeue_processing_documents().await?;
        if n > 0 {
            tracing::info!(documents = n, "resuming interrupted ingestion");
        }
        self.reconcile().await?;
        let mut tasks = Vec::new();
        // A replica that missed changes (no bus, or a message lost) catches up.
        let me = self.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                match me.reconcile().await {
                    Ok(true) => tracing::info!("lexical index rebuilt: it had fallen behind the database"),
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "could not check the lexical index"),
                }
            }
        }));
        for _ in 0..self.inner.cfg.ingest_concurrency.max(1) {
            let me = self.clone();
            tasks.push(tokio::spawn(async move { me.worker().await }));
        }
        Ok(tasks)
    }

    async fn worker(&self) {
        loop {
            let notified = self.inner.wake.notified();
            match self.ingest_next().await {
                Ok(true) => continue,
                Ok(false) => {
                    // Nothing to do: wait for an upload, or poll (other replicas' uploads).
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), notified).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "ingestion failed");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Ingests one pending document, if there is one; true if it did.
    pub async fn ingest_next(&self) -> Result<bool> {
        let Some((doc, kb)) = self.inner.db.claim_pending_document(self.now()).await? else { return Ok(false) };
        self.ingest(kb, doc).await?;
        Ok(true)
    }

    async fn ingest(&self, kb: KnowledgeBaseId, doc: DocumentId) -> Result<()> {
        let Some(sealed) = self.inner.db.document_content(doc).await? else { return Ok(()) };
        let bytes = self
            .inner
            .keyring
            .open(&document_aad(doc), &sealed)
            .map_err(|e| KnowledgeError::Internal(e.to_string()))?;
        let (limits, chunking) = (self.inner.cfg.limits.clone(), self.inner.cfg.chunking.clone());
        let parsed = tokio::task::spawn_blocking(move || {
            parse::parse(&bytes, &limits).map(|p| {
                let format = format!("{:?}", p.format).to_ascii_lowercase();
                (format, chunk::chunk(&p, &chunking))
            })
        })
        .await
        .map_err(|e| KnowledgeError::Internal(format!("parser task: {e}")))?;
        let now = self.now();
        let (format, chunks) = match parsed {
            Ok(x) => x,
            Err(e) => {
                let reason: String = e.to_string().chars().take(200).collect();
                tracing::info!(document = %doc, reason = %reason, "document failed to parse");
                self.inner.db.finish_document(doc, "failed", Some(&reason), None, 0, now).await?;
                return Ok(());
            }
        };
        let mut rows = Vec::with_capacity(chunks.len());
        let mut texts = Vec::with_capacity(chunks.len());
        for (i, c) in chunks.into_iter().enumerate() {
            let id = ChunkId::new();
            let body = serde_json::to_vec(&ChunkBody { text: c.text.clone(), section: c.section.clone() })
                .map_err(|e| KnowledgeError::Internal(e.to_string()))?;
            rows.push(NewChunk {
                id,
                ordinal: i64::try_from(i).unwrap_or(i64::MAX),
                body: self.inner.keyring.seal(&chunk_aad(id), &body),
                page: c.page.map(i64::from),
                page_end: c.page_end.map(i64::from),
                span_start: i64::try_from(c.start).unwrap_or(i64::MAX),
                span_end: i64::try_from(c.end).unwrap_or(i64::MAX),
            });
            texts.push((id, c.text));
        }
        if rows.is_empty() {
            self.inner.db.finish_document(doc, "failed", Some("no text found"), Some(&format), 0, now).await?;
            return Ok(());
        }
        // Chunks first, then the index, then `ready`: a crash anywhere leaves the document
        // `processing`, which the next start takes again from the beginning.
        self.inner.db.replace_chunks(kb, doc, &rows).await?;
        let index_texts = texts;
        self.inner.index.put_document(kb, doc, &index_texts)?;
        self.changed(IndexChange::Put { kb, doc });
        let n = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        self.inner.db.finish_document(doc, "ready", None, Some(&format), n, self.now()).await?;
        Ok(())
    }

    /// Rebuilds the lexical index from the database (`rampart kb reindex`, or at start when the
    /// index does not match).
    pub async fn rebuild_index(&self) -> Result<u64> {
        tracing::info!("rebuilding the lexical index from the database");
        self.inner.index.clear()?;
        let mut after = None;
        let mut n = 0u64;
        loop {
            let batch = self.inner.db.ready_chunks_after(after, 500).await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id);
            let mut docs = Vec::with_capacity(batch.len());
            for c in &batch {
                docs.push((c.kb_id, c.document_id, c.id, self.open_chunk(c)?.text));
            }
            self.inner.index.add_chunks(&docs)?;
            n += docs.len() as u64;
        }
        self.inner.index.flush()?;
        Ok(n)
    }

    fn open_chunk(&self, c: &ChunkRecord) -> Result<ChunkBody> {
        let plain =
            self.inner.keyring.open(&chunk_aad(c.id), &c.body).map_err(|e| KnowledgeError::Internal(e.to_string()))?;
        serde_json::from_slice(&plain).map_err(|e| KnowledgeError::Internal(e.to_string()))
    }

    // ---- retrieval ----

    /// The best passages for `query` from the knowledge bases in `wanted` that the caller may
    /// read (all readable ones when `wanted` is `None`). Unreadable ones are not searched at all.
    pub async fn retrieve(
        &self,
        p: &Principal,
        wanted: Option<&[KnowledgeBaseId]>,
        query: &str,
        k: usize,
    ) -> Result<Vec<Passage>> {
        let readable: Vec<KnowledgeBaseId> =
            self.inner.db.kbs_for(&reader(p)).await?.into_iter().map(|kb| kb.id).collect();
        let allowed: Vec<KnowledgeBaseId> = match wanted {
            Some(w) => readable.into_iter().filter(|id| w.contains(id)).collect(),
            None => readable,
        };
        if allowed.is_empty() {
            return Ok(Vec::new());
        }
        let hits = self.inner.index.search(query, &allowed, k)?;
        let ids: Vec<ChunkId> = hits.iter().map(|h| h.0).collect();
        let rows = self.inner.db.chunks_in(&ids, &allowed).await?;
        let mut out = Vec::with_capacity(hits.len());
        for (id, score) in hits {
            // The database has the last word (an index entry of a just-deleted document is skipped).
            let Some(c) = rows.iter().find(|r| r.id == id) else { continue };
            let body = self.open_chunk(c)?;
            out.push(Passage {
                knowledge_base_id: c.kb_id,
                document_id: c.document_id,
                document_name: c.document_name.clone(),
                chunk_id: c.id,
                text: body.text,
                score,
                location: Location {
                    page: c.page,
                    page_end: c.page_end,
                    section: body.section,
                    start: c.span_start,
                    end: c.span_end,
                },
            });
        }
        Ok(out)
    }

    /// Knowledge bases by name (for assistants' configuration); unknown names are left out.
    pub async fn ids_by_name(&self, names: &[String]) -> Result<Vec<KnowledgeBaseId>> {
        Ok(self.inner.db.all_kbs().await?.into_iter().filter(|k| names.contains(&k.name)).map(|k| k.id).collect())
    }
}
