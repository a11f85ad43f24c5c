//! `rampart-knowledge`: knowledge bases — parsing uploaded documents (format chosen by content
//! sniffing), structure-aware chunking with citation locations, the lexical (BM25) index, the
//! dense (HNSW) index, their fusion, and retrieval with access control inside every query.
//!
//! Owns `parse` (one file per format family), `chunk`, `config` (the
//! `[knowledge]` section and the service settings built from it), and `service`: the
//! `KnowledgeService` with one file per flow (management of knowledge bases and documents,
//! ingestion, retrieval, rebuild of the indexes), the views it hands out and its error; and
//! `tools`, the search tool an agent reads knowledge bases with.
//! The indexes themselves (`index`, `dense`, `fuse`: lexical, dense, fused) are `rampart-index`'s,
//! shared with meeting search; this crate names them for its ids.
//! Depends on `core` (ids, `Principal`, the embedding and reranking ports), `crypto` (sealing of
//! documents, chunks, vectors and graphs; the index's term key), `index` and `storage` (the
//! knowledge repositories); knows nothing of HTTP nor of the other feature crates.

pub mod chunk;
pub mod config;
pub mod parse;
pub mod service;
pub mod tools;

/// The lexical index (`rampart-index`), of chunks of documents in knowledge bases.
pub mod index {
    pub use rampart_index::lexical::{IndexError, Language, TermKey, language};
    pub type LexicalIndex = rampart_index::lexical::LexicalIndex<
        rampart_core::KnowledgeBaseId,
        rampart_core::DocumentId,
        rampart_core::ChunkId,
    >;
}

/// The dense index (`rampart-index`): one graph per knowledge base.
pub mod dense {
    pub use rampart_index::dense::{DenseError, decode, encode, key};
    pub type DenseIndex = rampart_index::dense::DenseIndex<
        rampart_core::KnowledgeBaseId,
        rampart_core::DocumentId,
        rampart_core::ChunkId,
    >;
    pub type ChunkVector = rampart_index::dense::ChunkVector<rampart_core::DocumentId, rampart_core::ChunkId>;
}

pub use rampart_index::fuse;
