//! Keeping the indexes in step with the database: other replicas' changes applied, indexes
//! opened and checked at start, rebuilt where they differ, dense graphs saved.

use super::{KnowledgeError, KnowledgeService, Result};
use rampart_core::{DocumentId, KnowledgeBaseId};
use rampart_storage::repo::knowledge::VectorRecord;
use serde::{Deserialize, Serialize};

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

impl KnowledgeService {
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

    pub(super) async fn remove_document_from_indexes(&self, doc: DocumentId) -> Result<()> {
        self.blocking(move |i| {
            i.index.delete_document(doc)?;
            Ok(i.dense.delete_document(doc)?)
        })
        .await
    }

    pub(super) async fn remove_kb_from_indexes(&self, kb: KnowledgeBaseId) -> Result<()> {
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
            .map_err(|source| KnowledgeError::Task { task: "dense index task", source })??;
        Ok(())
    }
}
