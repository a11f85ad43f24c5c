//! Ingestion: workers claim pending documents, parse and chunk them, embed them when their
//! knowledge base has a model, seal and store the chunks, stage them into the indexes, and mark
//! them `ready` once the index commit that makes them searchable is done.

use super::{ChunkBody, IndexChange, KnowledgeError, KnowledgeService, Result, Staged};
use super::{EmbedError, chunk_aad, document_aad, embed_all, vector_aad};
use crate::chunk::Chunk;
use crate::dense::ChunkVector;
use crate::{chunk, parse};
use rampart_core::embed::EmbedPurpose;
use rampart_core::{ChunkId, DocumentId, KnowledgeBaseId};
use rampart_storage::repo::knowledge::{KbRecord, NewChunk};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Documents one worker takes at once (one claim, one write of their chunks, one index call).
const INGEST_BATCH: i64 = 16;

/// While documents keep coming, the index is committed this often (a commit writes a segment:
/// fewer, larger ones index faster); when the queue runs dry it is committed at once.
const COMMIT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// What parsing and chunking made of one document: its format and chunks, or why not.
type ParseOutcome = std::result::Result<(String, Vec<Chunk>), parse::ParseError>;

/// A claimed document after [`KnowledgeService::parse_claimed`].
type Parsed = (DocumentId, KnowledgeBaseId, ParseOutcome);

/// Why a document's passages have no vectors: the document's failure reason, as its uploader
/// sees it (the model's own words go to the log).
#[derive(Debug, thiserror::Error)]
enum PassageEmbedError {
    #[error("the embedding model {0:?} is not configured (reingest once it is)")]
    NotConfigured(String),
    #[error("the embedding model failed or is unreachable (reingest to retry)")]
    Failed(#[source] EmbedError),
}

/// One document ready to be stored and indexed.
struct Prepared {
    kb: KnowledgeBaseId,
    doc: DocumentId,
    format: String,
    /// Its chunks as database rows (sealed).
    rows: Vec<NewChunk>,
    /// Its chunks' texts, for the lexical index.
    texts: Vec<(ChunkId, String)>,
    /// Its chunks' vectors and their model, for the dense index.
    vectors: Option<(String, Vec<ChunkVector>)>,
}

impl KnowledgeService {
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
        let parsed = self.parse_claimed(claimed).await?;
        let mut kbs: HashMap<KnowledgeBaseId, Option<KbRecord>> = HashMap::new();
        let mut prepared = Vec::with_capacity(parsed.len());
        for (doc, kb, outcome) in parsed {
            let Some((format, chunks)) = self.chunks_or_fail(doc, outcome).await? else { continue };
            // The knowledge base may have gone, or changed model, since the upload.
            let kb_rec = match kbs.entry(kb) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(self.inner.db.kb_by_id(kb).await?),
            };
            let Some(kb_rec) = kb_rec.as_ref() else { continue };
            let model = kb_rec.embedding_model.as_deref();
            if let Some(p) = self.prepare(kb, doc, model, format, chunks).await? {
                prepared.push(p);
            }
        }
        self.store_and_stage(prepared).await
    }

    /// Decrypts, parses and chunks the claimed documents off the async workers. A document
    /// deleted since it was claimed has no content any more and is left out.
    async fn parse_claimed(&self, claimed: Vec<(DocumentId, KnowledgeBaseId)>) -> Result<Vec<Parsed>> {
        let ids: Vec<DocumentId> = claimed.iter().map(|c| c.0).collect();
        let contents = self.inner.db.document_contents(&ids).await?;
        self.blocking(move |i| {
            let mut out = Vec::with_capacity(claimed.len());
            for (doc, kb) in claimed {
                let Some((_, sealed)) = contents.iter().find(|c| c.0 == doc) else { continue };
                let bytes = i.keyring.open(&document_aad(doc), sealed)?;
                let parsed = parse::parse(&bytes, &i.cfg.limits).map(|p| {
                    let format = format!("{:?}", p.format).to_ascii_lowercase();
                    (format, chunk::chunk(&p, &i.cfg.chunking))
                });
                out.push((doc, kb, parsed));
            }
            Ok(out)
        })
        .await
    }

    /// A document's format and chunks; `None` when it failed to parse or has no text, after
    /// marking it `failed` with the reason.
    async fn chunks_or_fail(&self, doc: DocumentId, outcome: ParseOutcome) -> Result<Option<(String, Vec<Chunk>)>> {
        match outcome {
            Ok((format, chunks)) if !chunks.is_empty() => Ok(Some((format, chunks))),
            Ok((format, _)) => {
                self.fail(doc, "no text found", Some(&format)).await?;
                Ok(None)
            }
            Err(e) => {
                let reason: String = e.to_string().chars().take(200).collect();
                tracing::info!(document = %doc, reason = %reason, "document failed to parse");
                self.fail(doc, &reason, None).await?;
                Ok(None)
            }
        }
    }

    /// Embeds a document's chunks (when its knowledge base has a model) and seals them for the
    /// database; `None` when embedding failed, after marking the document `failed`.
    async fn prepare(
        &self,
        kb: KnowledgeBaseId,
        doc: DocumentId,
        model: Option<&str>,
        format: String,
        chunks: Vec<Chunk>,
    ) -> Result<Option<Prepared>> {
        let texts: Vec<String> = chunks.iter().map(|c| c.text.clone()).collect();
        let vectors = match model {
            None => None,
            Some(model) => match self.embed_passages(model, &texts).await {
                Ok(v) => Some((model.to_owned(), v)),
                Err(reason) => {
                    self.fail(doc, &reason.to_string(), Some(&format)).await?;
                    return Ok(None);
                }
            },
        };
        let chunk_ids: Vec<ChunkId> = chunks.iter().map(|_| ChunkId::new()).collect();
        let rows = self.seal_chunks(chunks, &chunk_ids, vectors.as_ref())?;
        let vectors = vectors.map(|(model, v)| {
            let cv =
                chunk_ids.iter().zip(v).map(|(id, vector)| ChunkVector { chunk: *id, document: doc, vector }).collect();
            (model, cv)
        });
        let texts = chunk_ids.into_iter().zip(texts).collect();
        Ok(Some(Prepared { kb, doc, format, rows, texts, vectors }))
    }

    /// The database rows of a document's chunks: body (text and section) and vector sealed
    /// under the chunk's id.
    fn seal_chunks(
        &self,
        chunks: Vec<Chunk>,
        ids: &[ChunkId],
        vectors: Option<&(String, Vec<Vec<f32>>)>,
    ) -> Result<Vec<NewChunk>> {
        let mut rows = Vec::with_capacity(chunks.len());
        for (i, (c, id)) in chunks.into_iter().zip(ids).enumerate() {
            let body = serde_json::to_vec(&ChunkBody { text: c.text, section: c.section })
                .map_err(KnowledgeError::ChunkBody)?;
            let embedding = vectors.map(|(model, v)| {
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
        Ok(rows)
    }

    /// Stores the prepared documents' chunks in one transaction, stages them into the indexes
    /// in one call, and queues them for `settle`.
    async fn store_and_stage(&self, prepared: Vec<Prepared>) -> Result<()> {
        if prepared.is_empty() {
            return Ok(());
        }
        let mut writes = Vec::with_capacity(prepared.len());
        let mut indexed = Vec::with_capacity(prepared.len());
        let mut staged = Vec::with_capacity(prepared.len());
        for p in prepared {
            let chunks = i64::try_from(p.rows.len()).unwrap_or(i64::MAX);
            staged.push(Staged { kb: p.kb, doc: p.doc, format: p.format, chunks });
            indexed.push((p.kb, p.doc, p.texts, p.vectors));
            writes.push((p.kb, p.doc, p.rows));
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
    async fn embed_passages(
        &self,
        model: &str,
        texts: &[String],
    ) -> std::result::Result<Vec<Vec<f32>>, PassageEmbedError> {
        let Some(e) = self.models().embedder(model) else {
            return Err(PassageEmbedError::NotConfigured(model.to_owned()));
        };
        embed_all(e.as_ref(), texts, EmbedPurpose::Document).await.map_err(|detail| {
            tracing::warn!(model = %model, error = %detail, "embedding failed");
            PassageEmbedError::Failed(detail)
        })
    }
}
