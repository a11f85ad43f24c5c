//! `rampart-index`: the retrieval indexes that knowledge bases and past meetings share — the
//! lexical index (BM25 over keyed terms, `lexical`), the dense index (HNSW graphs sealed at
//! rest, `dense`), reciprocal-rank fusion of their rankings (`fuse`) and embedding texts
//! through the model port (`embed`).
//!
//! Both indexes hold three kinds of id: an access **scope** (a knowledge base, a meeting), a
//! **document** in it (a document, a meeting's transcript or summary) and an **entry** (a chunk,
//! a passage). Access control is inside every query: a search names the scopes the caller may
//! read, and nothing of another scope is scored, counted or returned. Text is never stored:
//! the database keeps it, sealed, and both indexes are rebuildable from it.
//!
//! A shared service (the floor of `storage` and `providers`): it depends on `core` (ids, the
//! embedding port) and `crypto` (the terms' key, sealing of graphs) only, and knows nothing of
//! the feature crates that use it.

pub mod dense;
pub mod embed;
pub mod fuse;
pub mod lexical;

/// An id the indexes hold (a scope, a document or an entry): a UUID, written as text in the
/// lexical index and as its low 64 bits in dense graphs.
pub trait IndexId:
    Copy + Eq + Ord + std::hash::Hash + std::fmt::Display + std::fmt::Debug + Send + Sync + 'static
{
    fn parse_id(s: &str) -> Option<Self>;
    /// The low 64 bits of the UUID (of a v7 UUID, 62 of them random).
    fn low64(self) -> u64;
}

macro_rules! index_ids {
    ($($t:ty),* $(,)?) => {
        $(impl IndexId for $t {
            fn parse_id(s: &str) -> Option<Self> {
                <$t>::parse(s)
            }
            fn low64(self) -> u64 {
                self.0.as_u64_pair().1
            }
        })*
    };
}

index_ids!(
    rampart_core::KnowledgeBaseId,
    rampart_core::DocumentId,
    rampart_core::ChunkId,
    rampart_core::MeetingKey,
    rampart_core::PassageId,
);
