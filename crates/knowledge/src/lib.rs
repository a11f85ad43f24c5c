//! `rampart-knowledge`: knowledge bases — parsing uploaded documents (format chosen by content
//! sniffing), structure-aware chunking with citation locations, the lexical (BM25) index, the
//! dense (HNSW) index, their fusion, and retrieval with access control inside every query.
//!
//! Owns `parse` (one file per format family), `chunk`, `index`, `dense`, `fuse`, `config` (the
//! `[knowledge]` section and the service settings built from it), and `service`: the
//! `KnowledgeService` with one file per flow (management of knowledge bases and documents,
//! ingestion, retrieval, rebuild of the indexes), the views it hands out and its error; and
//! `tools`, the search tool an agent reads knowledge bases with.
//! Depends on `core` (ids, `Principal`, the embedding and reranking ports), `crypto` (sealing of
//! documents, chunks, vectors and graphs; the index's term key) and `storage` (the knowledge
//! repositories); knows nothing of HTTP nor of the other feature crates.

pub mod chunk;
pub mod config;
pub mod dense;
pub mod fuse;
pub mod index;
pub mod parse;
pub mod service;
pub mod tools;
