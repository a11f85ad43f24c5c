//! The knowledge service's settings.

use crate::chunk::ChunkConfig;
use crate::parse::Limits;

#[derive(Clone, Debug)]
pub struct KnowledgeConfig {
    pub limits: Limits,
    pub chunking: ChunkConfig,
    /// Documents ingested at once.
    pub ingest_concurrency: usize,
    /// Files in one upload request.
    pub max_files_per_upload: usize,
    /// The embedding model of knowledge bases created without naming one (`None`: lexical).
    pub default_embedding_model: Option<String>,
    /// A reranking model applied to the best fused candidates.
    pub reranker: Option<String>,
    /// How many fused candidates the reranker sees (at least the number asked for).
    pub rerank_candidates: usize,
    /// How deep each list (lexical, dense) goes before fusion (at least the number asked for).
    pub fusion_depth: usize,
}

impl Default for KnowledgeConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            chunking: ChunkConfig::default(),
            ingest_concurrency: 2,
            max_files_per_upload: 100,
            default_embedding_model: None,
            reranker: None,
            rerank_candidates: 20,
            fusion_depth: 50,
        }
    }
}
