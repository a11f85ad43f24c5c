//! `rampart-knowledge`: knowledge bases — parsing uploaded documents (format chosen by content
//! sniffing), structure-aware chunking with citation locations, the lexical (BM25) index, the
//! dense (HNSW) index, their fusion, and retrieval with access control inside every query.
//! `config`: the `[knowledge]` section and the service settings built from it.

pub mod chunk;
pub mod config;
pub mod dense;
pub mod fuse;
pub mod index;
pub mod parse;
pub mod service;
