//! Knowledge bases as a service: management with owner/reader rules, uploads (sealed, deduplicated
//! by content hash), background ingestion with bounded concurrency that resumes after a restart
//! (parse, chunk, embed), and retrieval with access control inside every index query: lexical,
//! dense, or both fused by reciprocal rank, optionally reranked.
//!
//! One `impl KnowledgeService` block per flow, one file each: `management.rs` (knowledge bases and
//! documents), `ingestion.rs` (the workers: parse, chunk, embed, seal, settle), `retrieval.rs`
//! (lexical, dense, fused, reranked), `rebuild.rs` (the indexes kept in step with the database),
//! `sources.rs` (what answers cite, opened: a passage in context, a document's bytes).
//! The types they hand out are in `views.rs`, the error in `error.rs`; embedding through the
//! model port is `rampart_index::embed`.

mod attachments;
mod error;
mod ingestion;
mod management;
mod rebuild;
mod retrieval;
mod sources;
mod views;

pub use crate::config::KnowledgeConfig;
pub use error::{KnowledgeError, Result};
pub use rampart_index::embed::{EmbedError, embed_all};
pub use rebuild::IndexChange;
pub use sources::{ContextPassage, MAX_AROUND, PassageContext};
pub use views::{DocView, KbCounts, KbView, Location, Passage, SearchMode};

use crate::dense::{ChunkVector, DenseIndex};
use crate::index::LexicalIndex;
use rampart_core::clock::SharedClock;
use rampart_core::embed::{ModelDirectory, NoModels};
use rampart_core::{ChunkId, DocumentId, KnowledgeBaseId, Principal, Timestamp};
use rampart_crypto::Keyring;
use rampart_storage::Db;
use rampart_storage::repo::knowledge::{ChunkRecord, Reader, VectorRecord};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

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

    /// The embedding model of knowledge bases created without naming one (`None`: lexical).
    pub fn default_embedding_model(&self) -> Option<&str> {
        self.inner.cfg.default_embedding_model.as_deref()
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

    /// Runs index work (commits write and sync files; graph inserts are CPU work) off the async
    /// workers.
    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&Inner) -> Result<T> + Send + 'static) -> Result<T> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(&me.inner))
            .await
            .map_err(|source| KnowledgeError::Task { task: "index task", source })?
    }

    fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    pub fn index(&self) -> &LexicalIndex {
        &self.inner.index
    }

    fn open_vectors(&self, rows: &[VectorRecord]) -> Result<Vec<ChunkVector>> {
        rows.iter()
            .map(|r| {
                let plain = self.inner.keyring.open(&vector_aad(r.id), &r.sealed)?;
                let vector = crate::dense::decode(&plain).ok_or(KnowledgeError::MalformedVector(r.id))?;
                Ok(ChunkVector { chunk: r.id, document: r.document_id, vector })
            })
            .collect()
    }

    fn open_chunk(&self, c: &ChunkRecord) -> Result<ChunkBody> {
        let plain = self.inner.keyring.open(&chunk_aad(c.id), &c.body)?;
        serde_json::from_slice(&plain).map_err(KnowledgeError::ChunkBody)
    }
}
