//! Knowledge bases as a service: management with owner/reader rules, uploads (sealed, deduplicated
//! by content hash), background ingestion with bounded concurrency that resumes after a restart
//! (parse, chunk, embed), and retrieval with access control inside every index query: lexical,
//! dense, or both fused by reciprocal rank, optionally reranked.

use crate::chunk;
use crate::dense::{ChunkVector, DenseIndex};
use crate::index::LexicalIndex;
use crate::parse;
use rampart_core::clock::SharedClock;
use rampart_core::embed::{EmbedPurpose, Embedder, ModelDirectory, NoModels};
use rampart_core::{ChunkId, DocumentId, KnowledgeBaseId, Page, PageRequest, Principal, Timestamp};
use rampart_crypto::Keyring;
use rampart_storage::repo::knowledge::{ChunkRecord, DocRecord, KbRecord, KbStats, NewChunk, Reader, VectorRecord};
use rampart_storage::{Db, StorageError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
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

impl From<crate::dense::DenseError> for KnowledgeError {
    fn from(e: crate::dense::DenseError) -> Self {
        KnowledgeError::Internal(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, KnowledgeError>;

pub use crate::config::KnowledgeConfig;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KbView {
    pub id: KnowledgeBaseId,
    pub name: String,
    pub description: String,
    pub owner_id: Option<rampart_core::UserId>,
    pub read_groups: Vec<String>,
    /// The embedding model its passages are embedded with; absent: lexical retrieval only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding_model: Option<String>,
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
            embedding_model: k.embedding_model,
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

/// How passages are ranked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Lexical and dense rankings fused (lexical alone where there is no embedding model).
    #[default]
    Hybrid,
    /// BM25 only.
    Lexical,
    /// Nearest vectors only (nothing from knowledge bases without an embedding model).
    Semantic,
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

fn vector_aad(id: ChunkId) -> Vec<u8> {
    format!("kb_chunk_vector:{id}").into_bytes()
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
    dense: DenseIndex,
    models: std::sync::OnceLock<Arc<dyn ModelDirectory>>,
    cfg: KnowledgeConfig,
    wake: tokio::sync::Notify,
    /// Documents in the index writer, not yet committed nor marked `ready` (see `settle`).
    staged: std::sync::Mutex<Vec<Staged>>,
    staged_wake: tokio::sync::Notify,
    settling: tokio::sync::Mutex<()>,
    /// Told of every change this process makes to its index, so other replicas can follow.
    on_change: std::sync::OnceLock<Box<dyn Fn(IndexChange) + Send + Sync>>,
}

/// An ingested document waiting for the index commit that makes it searchable.
struct Staged {
    kb: KnowledgeBaseId,
    doc: DocumentId,
    format: String,
    chunks: i64,
}

/// Documents one worker takes at once (one claim, one write of their chunks, one index call).
const INGEST_BATCH: i64 = 16;

/// While documents keep coming, the index is committed this often (a commit writes a segment:
/// fewer, larger ones index faster); when the queue runs dry it is committed at once.
const COMMIT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

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
    pub fn new(
        db: Db,
        keyring: Keyring,
        clock: SharedClock,
        index: LexicalIndex,
        dense: DenseIndex,
        cfg: KnowledgeConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                keyring,
                clock,
                index,
                dense,
                models: std::sync::OnceLock::new(),
                cfg,
                staged: std::sync::Mutex::new(Vec::new()),
                staged_wake: tokio::sync::Notify::new(),
                settling: tokio::sync::Mutex::new(()),
                wake: tokio::sync::Notify::new(),
                on_change: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Where embedding and reranking models are found (set once, by the server, from its catalog;
    /// without it knowledge bases are lexical only).
    pub fn set_models(&self, models: Arc<dyn ModelDirectory>) {
        let _ = self.inner.models.set(models);
    }

    fn models(&self) -> &dyn ModelDirectory {
        match self.inner.models.get() {
            Some(m) => m.as_ref(),
            None => &NoModels,
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

    /// Applies another replica's change to this replica's indexes.
    pub async fn apply_index_change(&self, c: &IndexChange) -> Result<()> {
        match *c {
            IndexChange::Put { kb, doc } => {
                let mut texts = Vec::new();
                for ch in self.inner.db.document_chunks(doc).await? {
                    texts.push((ch.id, self.open_chunk(&ch)?.text));
                }
                let rows = self.inner.db.document_vectors(doc).await?;
                let vectors = match rows.first().map(|r| r.model.clone()) {
                    Some(model) => Some((model, self.open_vectors(&rows)?)),
                    None => None,
                };
                self.blocking(move |i| {
                    i.index.put_document(kb, doc, &texts)?;
                    match vectors {
                        Some((model, v)) => i.dense.put_document(kb, &model, doc, &v)?,
                        None => i.dense.delete_document(doc)?,
                    }
                    Ok(())
                })
                .await?;
            }
            IndexChange::DeleteDocument { doc } => self.remove_document_from_indexes(doc).await?,
            IndexChange::DeleteKb { kb } => self.remove_kb_from_indexes(kb).await?,
        }
        Ok(())
    }

    /// Runs index work (commits write and sync files; graph inserts are CPU work) off the async
    /// workers.
    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&Inner) -> Result<T> + Send + 'static) -> Result<T> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(&me.inner))
            .await
            .map_err(|e| KnowledgeError::Internal(format!("index task: {e}")))?
    }

    async fn remove_document_from_indexes(&self, doc: DocumentId) -> Result<()> {
        self.blocking(move |i| {
            i.index.delete_document(doc)?;
            Ok(i.dense.delete_document(doc)?)
        })
        .await
    }

    async fn remove_kb_from_indexes(&self, kb: KnowledgeBaseId) -> Result<()> {
        self.blocking(move |i| {
            i.index.delete_kb(kb)?;
            Ok(i.dense.delete_kb(kb)?)
        })
        .await
    }

    /// Rebuilds what does not match the database (a replica that missed changes, a crash before
    /// a dense graph was saved): the lexical index when it does not hold as many chunks as the
    /// database has ready, and each dense graph that does not hold its knowledge base's vectors.
    /// True if anything was rebuilt.
    pub async fn reconcile(&self) -> Result<bool> {
        // Not while documents are between the index and `ready`: the counts would differ.
        let _one = self.inner.settling.lock().await;
        if !self.inner.staged.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_empty() {
            return Ok(false);
        }
        let mut rebuilt = false;
        let expected = self.inner.db.ready_chunk_count().await?;
        if u64::try_from(expected).unwrap_or(0) != self.inner.index.len() {
            self.rebuild_lexical().await?;
            rebuilt = true;
        }
        let mut have = self.inner.dense.counts();
        for (kb, model, n) in self.inner.db.vector_counts().await? {
            match have.remove(&kb) {
                Some((m, c)) if m == model && i64::try_from(c).unwrap_or(-1) == n => {}
                _ => {
                    self.rebuild_dense_kb(kb).await?;
                    rebuilt = true;
                }
            }
        }
        // Graphs of knowledge bases without vectors any more (deleted elsewhere, model removed).
        for (kb, (_, n)) in have {
            if n > 0 {
                self.inner.dense.delete_kb(kb)?;
                rebuilt = true;
            }
        }
        Ok(rebuilt)
    }

    /// Opens the saved indexes and rebuilds what does not match the database (at start, and
    /// before a command ingests on its own).
    pub async fn open_indexes(&self) -> Result<()> {
        self.load_dense().await?;
        self.reconcile().await?;
        Ok(())
    }

    /// Opens the saved dense graphs that match the database; rebuilds the others.
    async fn load_dense(&self) -> Result<()> {
        for (kb, model, _) in self.inner.db.vector_counts().await? {
            let ids = self.inner.db.vector_ids(kb, &model).await?;
            if !self.inner.dense.load_kb(kb, &model, &ids)? {
                self.rebuild_dense_kb(kb).await?;
            }
        }
        Ok(())
    }

    /// Writes changed dense graphs to the data directory (also done every 30 s while serving).
    pub fn save_indexes(&self) -> Result<usize> {
        Ok(self.inner.dense.save_dirty()?)
    }

    fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    pub fn index(&self) -> &LexicalIndex {
        &self.inner.index
    }

    // ---- knowledge bases ----

    /// `embedding_model`: `None` takes the configured default, `Some("")` none (lexical only).
    pub async fn create_kb(
        &self,
        p: &Principal,
        name: &str,
        description: Option<&str>,
        read_groups: &[String],
        embedding_model: Option<&str>,
    ) -> Result<KbView> {
        check_name(name)?;
        check_groups(read_groups)?;
        let embedding_model = match embedding_model {
            None => self.inner.cfg.default_embedding_model.clone(),
            Some(m) => self.check_embedding_model(m)?,
        };
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
            embedding_model,
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

    /// A knowledge base the caller may read, without counts.
    pub async fn readable_kb(&self, p: &Principal, id: KnowledgeBaseId) -> Result<KbView> {
        Ok(KbView::of(self.readable(p, id).await?, None))
    }

    async fn readable(&self, p: &Principal, id: KnowledgeBaseId) -> Result<KbRecord> {
        self.inner.db.kb_for(&reader(p), id).await?.ok_or(KnowledgeError::NotFound)
    }

    /// Readable and changeable by the caller (its owner or an administrator).
    async fn manageable(&self, p: &Principal, id: KnowledgeBaseId) -> Result<KbRecord> {
        let kb = self.readable(p, id).await?;
        if p.is_admin() || kb.owner_id == Some(p.user_id) { Ok(kb) } else { Err(KnowledgeError::Forbidden) }
    }

    /// A model id for a knowledge base: `""` is none; anything else must be a configured
    /// embedding model.
    fn check_embedding_model(&self, m: &str) -> Result<Option<String>> {
        if m.is_empty() {
            return Ok(None);
        }
        if self.models().embedder(m).is_none() {
            return Err(KnowledgeError::Invalid(format!("embeddingModel: {m:?} is not a configured embedding model")));
        }
        Ok(Some(m.to_owned()))
    }

    /// Changes what is given. A different embedding model re-ingests every document.
    pub async fn update_kb(
        &self,
        p: &Principal,
        id: KnowledgeBaseId,
        name: Option<&str>,
        description: Option<&str>,
        read_groups: Option<&[String]>,
        embedding_model: Option<&str>,
    ) -> Result<KbView> {
        let mut kb = self.manageable(p, id).await?;
        if let Some(m) = embedding_model {
            kb.embedding_model = self.check_embedding_model(m)?;
        }
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
        self.inner.wake.notify_waiters();
        self.get_kb(p, id).await
    }

    /// Deletes a knowledge base, its documents and chunks, and its index entries.
    pub async fn delete_kb(&self, p: &Principal, id: KnowledgeBaseId) -> Result<()> {
        self.manageable(p, id).await?;
        if !self.inner.db.delete_kb(id).await? {
            return Err(KnowledgeError::NotFound);
        }
        self.remove_kb_from_indexes(id).await?;
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
        let now = self.now();
        let mut rows = Vec::with_capacity(files.len());
        for (name, bytes) in files {
            let hash = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes));
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
            rows.push((d, sealed));
        }
        // One transaction: a duplicate (also within this upload) comes back as the document
        // already stored.
        let existing = match self.inner.db.insert_documents(&rows).await {
            // The same content uploaded at the same moment by another request (PostgreSQL
            // runs both transactions at once): once it committed, it is found as a duplicate.
            Err(StorageError::Conflict) => self.inner.db.insert_documents(&rows).await?,
            r => r?,
        };
        let out: Vec<DocView> = rows
            .into_iter()
            .zip(existing)
            .map(|((d, _), e)| match e {
                Some(e) => DocView { status: "duplicate".into(), ..DocView::from(e) },
                None => DocView::from(d),
            })
            .collect();
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
        self.remove_document_from_indexes(doc).await?;
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
        self.open_indexes().await?;
        let mut tasks = Vec::new();
        // Dense graphs are saved when changed; a replica that missed changes (no bus, or a
        // message lost) catches up.
        let me = self.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = 0u64;
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                tick += 1;
                if let Err(e) = me.save_indexes() {
                    tracing::warn!(error = %e, "could not save the dense index");
                }
                if tick.is_multiple_of(2) {
                    match me.reconcile().await {
                        Ok(true) => tracing::info!("indexes rebuilt: they had fallen behind the database"),
                        Ok(false) => {}
                        Err(e) => tracing::warn!(error = %e, "could not check the indexes"),
                    }
                }
            }
        }));
        // Commits staged documents in batches and marks them ready.
        let me = self.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                me.inner.staged_wake.notified().await;
                tokio::time::sleep(COMMIT_EVERY).await;
                if let Err(e) = me.settle().await {
                    tracing::error!(error = %e, "could not commit ingested documents");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    me.inner.staged_wake.notify_one();
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
                    // The queue ran dry: what was ingested becomes searchable now.
                    if let Err(e) = self.settle().await {
                        tracing::error!(error = %e, "could not commit ingested documents");
                    }
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

    /// Ingests a batch of pending documents, if there are any; true if it did.
    pub async fn ingest_next(&self) -> Result<bool> {
        let claimed = self.inner.db.claim_pending_documents(self.now(), INGEST_BATCH).await?;
        if claimed.is_empty() {
            return Ok(false);
        }
        self.ingest(claimed).await?;
        Ok(true)
    }

    /// Ingests claimed documents: decrypt, parse and chunk (off the async workers), embed when
    /// the knowledge base has a model, then one transaction for all their chunks and one call
    /// into the indexes. A document that fails is marked `failed` with its reason; the others
    /// go on.
    async fn ingest(&self, claimed: Vec<(DocumentId, KnowledgeBaseId)>) -> Result<()> {
        let ids: Vec<DocumentId> = claimed.iter().map(|c| c.0).collect();
        let contents = self.inner.db.document_contents(&ids).await?;
        let parsed = self
            .blocking(move |i| {
                let mut out = Vec::with_capacity(claimed.len());
                for (doc, kb) in claimed {
                    // A document deleted since it was claimed has no content any more.
                    let Some((_, sealed)) = contents.iter().find(|c| c.0 == doc) else { continue };
                    let bytes = i
                        .keyring
                        .open(&document_aad(doc), sealed)
                        .map_err(|e| KnowledgeError::Internal(e.to_string()))?;
                    let parsed = parse::parse(&bytes, &i.cfg.limits).map(|p| {
                        let format = format!("{:?}", p.format).to_ascii_lowercase();
                        (format, chunk::chunk(&p, &i.cfg.chunking))
                    });
                    out.push((doc, kb, parsed));
                }
                Ok(out)
            })
            .await?;
        let mut kbs: HashMap<KnowledgeBaseId, Option<KbRecord>> = HashMap::new();
        let mut writes = Vec::with_capacity(parsed.len());
        let mut indexed = Vec::with_capacity(parsed.len());
        let mut staged = Vec::with_capacity(parsed.len());
        for (doc, kb, result) in parsed {
            let (format, chunks) = match result {
                Ok((format, chunks)) if !chunks.is_empty() => (format, chunks),
                Ok((format, _)) => {
                    self.fail(doc, "no text found", Some(&format)).await?;
                    continue;
                }
                Err(e) => {
                    let reason: String = e.to_string().chars().take(200).collect();
                    tracing::info!(document = %doc, reason = %reason, "document failed to parse");
                    self.fail(doc, &reason, None).await?;
                    continue;
                }
            };
            // The knowledge base may have gone, or changed model, since the upload.
            let kb_rec = match kbs.entry(kb) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(self.inner.db.kb_by_id(kb).await?),
            };
            let Some(kb_rec) = kb_rec.as_ref() else { continue };
            let texts: Vec<String> = chunks.iter().map(|c| c.text.clone()).collect();
            let vectors = match &kb_rec.embedding_model {
                None => None,
                Some(model) => match self.embed_passages(model, &texts).await {
                    Ok(v) => Some((model.clone(), v)),
                    Err(reason) => {
                        self.fail(doc, &reason, Some(&format)).await?;
                        continue;
                    }
                },
            };
            let chunk_ids: Vec<ChunkId> = chunks.iter().map(|_| ChunkId::new()).collect();
            let mut rows = Vec::with_capacity(chunks.len());
            for (i, (c, id)) in chunks.into_iter().zip(&chunk_ids).enumerate() {
                let body = serde_json::to_vec(&ChunkBody { text: c.text, section: c.section })
                    .map_err(|e| KnowledgeError::Internal(e.to_string()))?;
                let embedding = vectors.as_ref().map(|(model, v)| {
                    (model.clone(), self.inner.keyring.seal(&vector_aad(*id), &crate::dense::encode(&v[i])))
                });
                rows.push(NewChunk {
                    id: *id,
                    ordinal: i64::try_from(i).unwrap_or(i64::MAX),
                    body: self.inner.keyring.seal(&chunk_aad(*id), &body),
                    page: c.page.map(i64::from),
                    page_end: c.page_end.map(i64::from),
                    span_start: i64::try_from(c.start).unwrap_or(i64::MAX),
                    span_end: i64::try_from(c.end).unwrap_or(i64::MAX),
                    embedding,
                });
            }
            let vectors: Option<(String, Vec<ChunkVector>)> = vectors.map(|(model, v)| {
                let cv = chunk_ids
                    .iter()
                    .zip(v)
                    .map(|(id, vector)| ChunkVector { chunk: *id, document: doc, vector })
                    .collect();
                (model, cv)
            });
            staged.push(Staged { kb, doc, format, chunks: i64::try_from(rows.len()).unwrap_or(i64::MAX) });
            indexed.push((kb, doc, chunk_ids.into_iter().zip(texts).collect::<Vec<_>>(), vectors));
            writes.push((kb, doc, rows));
        }
        if writes.is_empty() {
            return Ok(());
        }
        // Chunks first, then the indexes, then (after the next commit, see `settle`) `ready`: a
        // crash anywhere leaves the documents `processing`, which the next start takes again.
        self.inner.db.replace_chunks(&writes).await?;
        self.blocking(move |i| {
            for (kb, doc, texts, vectors) in indexed {
                i.index.stage_document(kb, doc, &texts)?;
                match vectors {
                    Some((model, cv)) => i.dense.put_document(kb, &model, doc, &cv)?,
                    None => i.dense.delete_document(doc)?,
                }
            }
            Ok(())
        })
        .await?;
        self.inner.staged.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(staged);
        self.inner.staged_wake.notify_one();
        Ok(())
    }

    async fn fail(&self, doc: DocumentId, reason: &str, format: Option<&str>) -> Result<()> {
        Ok(self.inner.db.finish_document(doc, "failed", Some(reason), format, 0, self.now()).await?)
    }

    /// Commits the lexical index once for every document staged so far, then marks them
    /// `ready` (one transaction) and tells other replicas. Runs in the background after each
    /// batch of ingestion; commands that ingest on their own call it when done. Returns how
    /// many documents it settled.
    pub async fn settle(&self) -> Result<usize> {
        let _one = self.inner.settling.lock().await;
        let staged = std::mem::take(&mut *self.inner.staged.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        if staged.is_empty() {
            return Ok(0);
        }
        // Documents staged while this commit runs are in it too; they are marked ready by the
        // next settle, after a commit that (again) includes them.
        if let Err(e) = self.blocking(|i| Ok(i.index.flush()?)).await {
            self.inner.staged.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(staged);
            return Err(e);
        }
        let done: Vec<(DocumentId, String, i64)> = staged.iter().map(|s| (s.doc, s.format.clone(), s.chunks)).collect();
        self.inner.db.finish_documents_ready(&done, self.now()).await?;
        for s in &staged {
            self.changed(IndexChange::Put { kb: s.kb, doc: s.doc });
        }
        Ok(staged.len())
    }

    /// Vectors for a document's passages, unit length; `Err` is the document's failure reason.
    async fn embed_passages(&self, model: &str, texts: &[String]) -> std::result::Result<Vec<Vec<f32>>, String> {
        let Some(e) = self.models().embedder(model) else {
            return Err(format!("the embedding model {model:?} is not configured (reingest once it is)"));
        };
        embed_all(e.as_ref(), texts, EmbedPurpose::Document).await.map_err(|detail| {
            tracing::warn!(model = %model, error = %detail, "embedding failed");
            "the embedding model failed or is unreachable (reingest to retry)".to_owned()
        })
    }

    /// Rebuilds the indexes from the database (`rampart kb reindex`): the lexical index, and the
    /// dense graph of every knowledge base with vectors. Returns the chunks indexed lexically.
    pub async fn rebuild_index(&self) -> Result<u64> {
        let n = self.rebuild_lexical().await?;
        for (kb, _, _) in self.inner.db.vector_counts().await? {
            self.rebuild_dense_kb(kb).await?;
        }
        self.save_indexes()?;
        Ok(n)
    }

    async fn rebuild_lexical(&self) -> Result<u64> {
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

    /// Rebuilds one knowledge base's dense graph from the vectors stored for it (those of its
    /// current model; none: the graph is dropped).
    async fn rebuild_dense_kb(&self, kb: KnowledgeBaseId) -> Result<()> {
        let model = self.inner.db.kb_by_id(kb).await?.and_then(|k| k.embedding_model);
        let mut after = None;
        let mut vectors = Vec::new();
        loop {
            let batch = self.inner.db.vectors_after(Some(kb), after, 1000).await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id);
            let current: Vec<VectorRecord> = batch.into_iter().filter(|r| Some(&r.model) == model.as_ref()).collect();
            vectors.extend(self.open_vectors(&current)?);
        }
        tracing::info!(kb = %kb, vectors = vectors.len(), "rebuilding a dense index from the database");
        let me = self.clone();
        let model = model.unwrap_or_default();
        tokio::task::spawn_blocking(move || me.inner.dense.rebuild_kb(kb, &model, &vectors))
            .await
            .map_err(|e| KnowledgeError::Internal(format!("dense index task: {e}")))??;
        Ok(())
    }

    fn open_vectors(&self, rows: &[VectorRecord]) -> Result<Vec<ChunkVector>> {
        rows.iter()
            .map(|r| {
                let plain = self
                    .inner
                    .keyring
                    .open(&vector_aad(r.id), &r.sealed)
                    .map_err(|e| KnowledgeError::Internal(e.to_string()))?;
                let vector = crate::dense::decode(&plain)
                    .ok_or_else(|| KnowledgeError::Internal(format!("stored vector of chunk {} is malformed", r.id)))?;
                Ok(ChunkVector { chunk: r.id, document: r.document_id, vector })
            })
            .collect()
    }

    fn open_chunk(&self, c: &ChunkRecord) -> Result<ChunkBody> {
        let plain =
            self.inner.keyring.open(&chunk_aad(c.id), &c.body).map_err(|e| KnowledgeError::Internal(e.to_string()))?;
        serde_json::from_slice(&plain).map_err(|e| KnowledgeError::Internal(e.to_string()))
    }

    // ---- retrieval ----

    /// The best passages for `query` from the knowledge bases in `wanted` that the caller may
    /// read (all readable ones when `wanted` is `None`). Unreadable ones are not searched at all:
    /// the lexical query requires their ids, the dense search walks only their graphs.
    ///
    /// `Hybrid` fuses the lexical and dense rankings (reciprocal rank); knowledge bases without an
    /// embedding model, or an embedding model that fails, leave the lexical ranking alone. With a
    /// reranker configured, the best fused candidates are reordered by it. Scores: BM25
    /// (lexical), cosine similarity (semantic), the fused score (hybrid), or the reranker's.
    pub async fn retrieve(
        &self,
        p: &Principal,
        wanted: Option<&[KnowledgeBaseId]>,
        query: &str,
        k: usize,
        mode: SearchMode,
    ) -> Result<Vec<Passage>> {
        let kbs = self.inner.db.readable_kb_models(&reader(p), wanted).await?;
        if kbs.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let allowed: Vec<KnowledgeBaseId> = kbs.iter().map(|kb| kb.0).collect();
        let reranker = self.inner.cfg.reranker.as_deref().and_then(|id| self.models().reranker(id));
        // How many passages come out; each ranking goes deeper only when two are fused (a
        // deeper top-k costs the BM25 search its pruning).
        let wanted_n = if reranker.is_some() { k.max(self.inner.cfg.rerank_candidates) } else { k };
        let fusing = mode == SearchMode::Hybrid && kbs.iter().any(|kb| kb.1.is_some());
        let depth = if fusing { self.inner.cfg.fusion_depth.max(wanted_n) } else { wanted_n };
        let lexical = match mode {
            SearchMode::Semantic => Vec::new(),
            _ => self.inner.index.search(query, &allowed, depth)?,
        };
        let dense = match mode {
            SearchMode::Lexical => Vec::new(),
            _ if !kbs.iter().any(|kb| kb.1.is_some()) => Vec::new(),
            _ => self.dense_hits(query, &kbs, depth).await?,
        };
        let ranked = match mode {
            SearchMode::Lexical => lexical,
            SearchMode::Semantic => dense,
            SearchMode::Hybrid if dense.is_empty() => lexical,
            SearchMode::Hybrid => {
                let l: Vec<ChunkId> = lexical.iter().map(|h| h.0).collect();
                let d: Vec<ChunkId> = dense.iter().map(|h| h.0).collect();
                crate::fuse::rrf(&[&l, &d], crate::fuse::RRF_K)
            }
        };
        let mut out = self.passages(&ranked[..ranked.len().min(wanted_n)], &allowed).await?;
        if let Some(r) = reranker {
            let texts: Vec<String> = out.iter().map(|x| x.text.clone()).collect();
            match r.rerank(query, &texts).await {
                Ok(scores) if scores.len() == out.len() => {
                    for (x, s) in out.iter_mut().zip(scores) {
                        x.score = s;
                    }
                    out.sort_by(|a, b| b.score.total_cmp(&a.score));
                }
                Ok(_) => tracing::warn!("the reranker answered for other documents than asked; fused order kept"),
                Err(e) => tracing::warn!(error = %e, "reranking failed; fused order kept"),
            }
        }
        out.truncate(k);
        Ok(out)
    }

    /// Dense hits over the knowledge bases that have an embedding model: the query embedded once
    /// per model, each graph searched with its model's vector, merged by similarity. A model that
    /// is missing or fails is skipped (logged): retrieval falls back to what else there is.
    async fn dense_hits(
        &self,
        query: &str,
        kbs: &[(KnowledgeBaseId, Option<String>)],
        depth: usize,
    ) -> Result<Vec<(ChunkId, f32)>> {
        let mut by_model: std::collections::BTreeMap<&str, Vec<KnowledgeBaseId>> = Default::default();
        for (id, model) in kbs {
            if let Some(m) = model.as_deref() {
                by_model.entry(m).or_default().push(*id);
            }
        }
        let mut hits = Vec::new();
        for (model, ids) in by_model {
            let Some(e) = self.models().embedder(model) else {
                tracing::warn!(model = %model, "embedding model not configured; lexical retrieval only for its knowledge bases");
                continue;
            };
            let q = match embed_all(e.as_ref(), &[query.to_owned()], EmbedPurpose::Query).await {
                Ok(mut v) if v.len() == 1 => v.remove(0),
                Ok(_) => continue,
                Err(detail) => {
                    tracing::warn!(model = %model, error = %detail, "query embedding failed; lexical retrieval only");
                    continue;
                }
            };
            hits.extend(self.inner.dense.search(&q, model, &ids, depth)?);
        }
        hits.sort_by(|a, b| b.1.total_cmp(&a.1));
        hits.truncate(depth);
        Ok(hits)
    }

    /// The passages of ranked chunks, in order, from the allowed knowledge bases. The database
    /// has the last word: an index entry of a just-deleted document is skipped.
    async fn passages(&self, ranked: &[(ChunkId, f32)], allowed: &[KnowledgeBaseId]) -> Result<Vec<Passage>> {
        let ids: Vec<ChunkId> = ranked.iter().map(|h| h.0).collect();
        let rows = self.inner.db.chunks_in(&ids, allowed).await?;
        let mut out = Vec::with_capacity(ranked.len());
        for (id, score) in ranked {
            let Some(c) = rows.iter().find(|r| r.id == *id) else { continue };
            let body = self.open_chunk(c)?;
            out.push(Passage {
                knowledge_base_id: c.kb_id,
                document_id: c.document_id,
                document_name: c.document_name.clone(),
                chunk_id: c.id,
                text: body.text,
                score: *score,
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
        Ok(self.inner.db.kb_ids_by_name(names).await?)
    }
}

/// Embeds `texts` in the model's batch size; unit-length vectors of one size, or the reason.
pub async fn embed_all(
    e: &dyn Embedder,
    texts: &[String],
    purpose: EmbedPurpose,
) -> std::result::Result<Vec<Vec<f32>>, String> {
    let mut out = Vec::with_capacity(texts.len());
    for batch in texts.chunks(e.max_batch().max(1)) {
        let vectors = e.embed(batch, purpose).await.map_err(|err| err.detail)?;
        if vectors.len() != batch.len() {
            return Err(format!("{} vectors for {} texts", vectors.len(), batch.len()));
        }
        for mut v in vectors {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if !norm.is_normal() {
                return Err("a zero or non-finite vector".into());
            }
            v.iter_mut().for_each(|x| *x /= norm);
            if out.first().is_some_and(|f: &Vec<f32>| f.len() != v.len()) {
                return Err("vectors of different sizes".into());
            }
            out.push(v);
        }
    }
    Ok(out)
}
