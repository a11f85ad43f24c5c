//! The knowledge service's settings ([`KnowledgeConfig`]) and the `[knowledge]` section they
//! are built from ([`KnowledgeSection::service_config`]).

use crate::chunk::{ChunkConfig, Unit};
use crate::parse::Limits;
use rampart_core::config::{ByteSize, ConfigError};
use rampart_index::lexical::Language;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The id of the in-process embedding model (sentence-transformers' all-MiniLM-L6-v2), as
/// knowledge bases and their vectors record it. A `[[models]]` entry with this id takes its place.
pub const LOCAL_EMBEDDING_MODEL: &str = "all-MiniLM-L6-v2";

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

/// The `[knowledge]` section: ingestion limits, chunking, the indexes, retrieval models.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KnowledgeSection {
    /// Stemming language of the lexical index (`english`, `german`, `french`, …).
    pub language: String,
    /// Documents parsed at once.
    pub ingest_concurrency: usize,
    /// Largest document accepted.
    pub max_document_bytes: ByteSize,
    /// Largest upload request (all files together).
    pub max_upload_bytes: ByteSize,
    /// PDF pages per document.
    pub max_pages: usize,
    /// Target chunk size and overlap, in `chunk_unit`s (`chars` or `words`).
    pub chunk_size: usize,
    pub chunk_overlap: usize,
    pub chunk_unit: Unit,
    /// Where the lexical index lives; default `{data_dir}/index/lexical`.
    pub index_dir: Option<PathBuf>,
    /// Where the dense (vector) indexes live; default `{data_dir}/index/dense`.
    pub dense_index_dir: Option<PathBuf>,
    /// The embedding model (a `[[models]]` id of kind `embedding`, or `all-MiniLM-L6-v2`, the
    /// in-process one) of knowledge bases created without naming one; unset: the in-process
    /// model when its weights are installed (and `local_embedder` is on), else none (lexical only).
    pub embedding_model: Option<String>,
    /// Whether all-MiniLM-L6-v2 runs in process when its weights are in `local_model_dir`.
    pub local_embedder: bool,
    /// Where its weights are; default `{data_dir}/models/all-MiniLM-L6-v2` (`make minilm-model`).
    pub local_model_dir: Option<PathBuf>,
    /// A reranking model (`[[models]]` id of kind `rerank`) for every retrieval; unset: none.
    pub reranker: Option<String>,
    /// Fused candidates the reranker reorders (at least the number of results asked for).
    pub rerank_candidates: usize,
    /// How deep the lexical and dense rankings go before they are fused.
    pub fusion_depth: usize,
}

impl Default for KnowledgeSection {
    fn default() -> Self {
        let d = KnowledgeConfig::default();
        Self {
            language: "english".into(),
            ingest_concurrency: d.ingest_concurrency,
            max_document_bytes: ByteSize::mib(50),
            max_upload_bytes: ByteSize::mib(100),
            max_pages: 2000,
            chunk_size: d.chunking.target,
            chunk_overlap: d.chunking.overlap,
            chunk_unit: d.chunking.unit,
            index_dir: None,
            dense_index_dir: None,
            embedding_model: None,
            local_embedder: true,
            local_model_dir: None,
            reranker: None,
            rerank_candidates: d.rerank_candidates,
            fusion_depth: d.fusion_depth,
        }
    }
}

fn err(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::new(key, message)
}

impl KnowledgeSection {
    /// Checks the section on its own (that `embedding_model` and `reranker` name models of
    /// the right kind is for whoever knows the models).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.stemmer()?;
        if !(1..=64).contains(&self.ingest_concurrency) {
            return Err(err("ingest_concurrency", "must be 1-64"));
        }
        if self.max_document_bytes.0 == 0 {
            return Err(err("max_document_bytes", "must be above 0"));
        }
        if self.max_pages == 0 {
            return Err(err("max_pages", "must be above 0"));
        }
        if self.max_upload_bytes < self.max_document_bytes {
            return Err(err("max_upload_bytes", "must be at least max_document_bytes"));
        }
        if !(50..=100_000).contains(&self.chunk_size) {
            return Err(err("chunk_size", "must be 50-100000"));
        }
        if self.chunk_overlap >= self.chunk_size {
            return Err(err("chunk_overlap", "must be below chunk_size"));
        }
        if !(1..=200).contains(&self.rerank_candidates) {
            return Err(err("rerank_candidates", "must be 1-200"));
        }
        if !(1..=1000).contains(&self.fusion_depth) {
            return Err(err("fusion_depth", "must be 1-1000"));
        }
        Ok(())
    }

    /// The lexical index's stemmer for `language`.
    pub fn stemmer(&self) -> Result<Language, ConfigError> {
        crate::index::language(&self.language).ok_or_else(|| {
            err("language", format!("{:?} has no stemmer (english, german, french, spanish, …)", self.language))
        })
    }

    /// Where the lexical index lives.
    pub fn lexical_dir(&self, data_dir: &Path) -> PathBuf {
        self.index_dir.clone().unwrap_or_else(|| data_dir.join("index").join("lexical"))
    }

    /// Where the dense indexes live.
    pub fn dense_dir(&self, data_dir: &Path) -> PathBuf {
        self.dense_index_dir.clone().unwrap_or_else(|| data_dir.join("index").join("dense"))
    }

    /// Where the in-process embedding model's weights are looked for.
    pub fn local_model_dir(&self, data_dir: &Path) -> PathBuf {
        self.local_model_dir.clone().unwrap_or_else(|| data_dir.join("models").join(LOCAL_EMBEDDING_MODEL))
    }

    /// The model of knowledge bases created without naming one: the configured one, else the
    /// in-process one when it can run (`local_ready`: on, built in and its weights installed).
    pub fn default_embedding_model(&self, local_ready: bool) -> Option<String> {
        match &self.embedding_model {
            Some(m) => Some(m.clone()),
            None if local_ready && self.local_embedder => Some(LOCAL_EMBEDDING_MODEL.to_owned()),
            None => None,
        }
    }

    /// The knowledge service's settings (the default embedding model as configured; see
    /// [`KnowledgeSection::default_embedding_model`] for the in-process one).
    pub fn service_config(&self) -> KnowledgeConfig {
        KnowledgeConfig {
            limits: Limits { max_bytes: self.max_document_bytes.0, max_pages: self.max_pages, ..Default::default() },
            chunking: ChunkConfig { target: self.chunk_size, overlap: self.chunk_overlap, unit: self.chunk_unit },
            ingest_concurrency: self.ingest_concurrency,
            max_files_per_upload: KnowledgeConfig::default().max_files_per_upload,
            default_embedding_model: self.embedding_model.clone(),
            reranker: self.reranker.clone(),
            rerank_candidates: self.rerank_candidates,
            fusion_depth: self.fusion_depth,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_reads_todays_keys_and_builds_the_service_settings() {
        let s: KnowledgeSection = serde_json::from_value(serde_json::json!({
            "chunk_unit": "words", "chunk_size": 200, "chunk_overlap": 20, "max_document_bytes": "1MiB",
        }))
        .unwrap();
        s.validate().unwrap();
        let c = s.service_config();
        assert_eq!((c.chunking.unit, c.chunking.target, c.limits.max_bytes), (Unit::Words, 200, 1 << 20));
        assert_eq!(c.max_files_per_upload, 100);
        let bad: Result<KnowledgeSection, _> = serde_json::from_value(serde_json::json!({"chunk_unit": "tokens"}));
        assert!(bad.is_err());
        let s = KnowledgeSection { chunk_overlap: 1000, ..Default::default() };
        assert_eq!(s.validate().unwrap_err().key, "chunk_overlap");
        let s = KnowledgeSection { language: "klingon".into(), ..Default::default() };
        assert_eq!(s.validate().unwrap_err().key, "language");
    }

    #[test]
    fn the_in_process_model_is_the_default_only_when_nothing_else_is_configured_and_it_can_run() {
        let s = KnowledgeSection::default();
        assert_eq!(s.default_embedding_model(true).as_deref(), Some(LOCAL_EMBEDDING_MODEL));
        assert_eq!(s.default_embedding_model(false), None, "weights absent: lexical");
        let off = KnowledgeSection { local_embedder: false, ..Default::default() };
        assert_eq!(off.default_embedding_model(true), None);
        let configured = KnowledgeSection { embedding_model: Some("embed".into()), ..Default::default() };
        assert_eq!(configured.default_embedding_model(true).as_deref(), Some("embed"));
        assert_eq!(s.local_model_dir(Path::new("/d")), Path::new("/d/models/all-MiniLM-L6-v2"));
        let moved = KnowledgeSection { local_model_dir: Some("/m".into()), ..Default::default() };
        assert_eq!(moved.local_model_dir(Path::new("/d")), Path::new("/m"));
    }
}
