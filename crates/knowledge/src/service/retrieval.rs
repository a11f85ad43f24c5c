//! Retrieval: the best passages for a query from the knowledge bases the caller may read,
//! lexical, dense, or both fused by reciprocal rank, optionally reranked.

use super::{KnowledgeService, Location, Passage, Result, SearchMode, embed_all, reader};
use rampart_core::embed::{EmbedPurpose, Reranker};
use rampart_core::{ChunkId, KnowledgeBaseId, Principal};

impl KnowledgeService {
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
        let kbs = self.inner.db.readable_kb_models(&reader(p), wanted, true).await?;
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
        let ranked = ranking(mode, lexical, dense);
        let mut out = self.passages(&ranked[..ranked.len().min(wanted_n)], &allowed).await?;
        if let Some(r) = reranker {
            rerank(r.as_ref(), query, &mut out).await;
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
}

/// The ranking the mode asks for: one of the two, or both fused by reciprocal rank (the lexical
/// one alone when there are no dense hits).
fn ranking(mode: SearchMode, lexical: Vec<(ChunkId, f32)>, dense: Vec<(ChunkId, f32)>) -> Vec<(ChunkId, f32)> {
    match mode {
        SearchMode::Lexical => lexical,
        SearchMode::Semantic => dense,
        SearchMode::Hybrid if dense.is_empty() => lexical,
        SearchMode::Hybrid => {
            let l: Vec<ChunkId> = lexical.iter().map(|h| h.0).collect();
            let d: Vec<ChunkId> = dense.iter().map(|h| h.0).collect();
            crate::fuse::rrf(&[&l, &d], crate::fuse::RRF_K)
        }
    }
}

/// Reorders passages by the reranker's scores; a reranker that fails or answers for other
/// documents leaves the order as it was (logged).
async fn rerank(r: &dyn Reranker, query: &str, out: &mut [Passage]) {
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
