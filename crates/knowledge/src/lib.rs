//! `rampart-knowledge`: knowledge bases — parsing uploaded documents (format chosen by content
//! sniffing), structure-aware chunking with citation locations, the lexical (BM25) index and
//! retrieval with access control inside the query.

pub mod chunk;
pub mod index;
pub mod parse;
pub mod service;
