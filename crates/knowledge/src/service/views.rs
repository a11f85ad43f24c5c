//! What the knowledge service hands out: knowledge bases, documents, passages and where they sit,
//! and the retrieval modes (the server serialises them as they are).

use rampart_core::{ChunkId, DocumentId, KnowledgeBaseId};
use rampart_storage::repo::knowledge::{DocRecord, KbRecord, KbStats};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KbView {
    pub id: KnowledgeBaseId,
    pub name: String,
    pub description: String,
    pub owner_id: Option<rampart_core::UserId>,
    pub read_groups: Vec<String>,
    /// The embedding model its passages are embedded with; absent: lexical retrieval only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding_model: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Present on `GET /v1/knowledge-bases/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<KbCounts>,
}

#[derive(Clone, Copy, Debug, Serialize, utoipa::ToSchema)]
pub struct KbCounts {
    pub documents: i64,
    pub chunks: i64,
    pub pending: i64,
    pub failed: i64,
}

impl From<KbStats> for KbCounts {
    fn from(s: KbStats) -> Self {
        Self { documents: s.documents, chunks: s.chunks, pending: s.pending, failed: s.failed }
    }
}

impl KbView {
    pub(super) fn of(k: KbRecord, counts: Option<KbCounts>) -> Self {
        Self {
            id: k.id,
            name: k.name,
            description: k.description,
            owner_id: k.owner_id,
            read_groups: k.read_groups,
            embedding_model: k.embedding_model,
            created_at: k.created_at.secs(),
            updated_at: k.updated_at.secs(),
            counts,
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocView {
    pub id: DocumentId,
    pub name: String,
    /// `pending`, `processing`, `ready`, `failed`, or (an upload of content already there)
    /// `duplicate`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    pub size: i64,
    pub chunks: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<DocRecord> for DocView {
    fn from(d: DocRecord) -> Self {
        Self {
            id: d.id,
            name: d.name,
            status: d.status,
            error: d.error,
            format: d.format,
            size: d.size,
            chunks: d.chunk_count,
            created_at: d.created_at.secs(),
            updated_at: d.updated_at.secs(),
        }
    }
}

/// Where a passage sits in its document.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_end: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// Character span in the document's text.
    pub start: i64,
    pub end: i64,
}

/// How passages are ranked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Lexical and dense rankings fused (lexical alone where there is no embedding model).
    #[default]
    Hybrid,
    /// BM25 only.
    Lexical,
    /// Nearest vectors only (nothing from knowledge bases without an embedding model).
    Semantic,
}

/// A retrieved passage.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Passage {
    pub knowledge_base_id: KnowledgeBaseId,
    pub document_id: DocumentId,
    pub document_name: String,
    pub chunk_id: ChunkId,
    pub text: String,
    pub score: f32,
    pub location: Location,
}
