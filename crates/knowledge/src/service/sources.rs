//! Opening what an answer cites: a passage with its neighbours, a document's original bytes,
//! and whether a chat's chosen knowledge bases are all readable. Each checks the caller's read
//! access first; a passage of another document, or a document of another knowledge base, is
//! "not found".

use super::{DocView, KnowledgeError, KnowledgeService, Result, document_aad, reader};
use rampart_core::{ChunkId, DocumentId, KnowledgeBaseId, Principal};
use serde::Serialize;

/// The most passages shown on each side of a cited one.
pub const MAX_AROUND: usize = 10;

/// A cited passage among its neighbours.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PassageContext {
    pub knowledge_base_id: KnowledgeBaseId,
    pub knowledge_base_name: String,
    pub document: DocView,
    /// In document order; the cited one has `cited: true`.
    pub passages: Vec<ContextPassage>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContextPassage {
    pub chunk_id: ChunkId,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    pub cited: bool,
}

impl KnowledgeService {
    /// Whether the caller may read every knowledge base in `ids` (those that do not exist
    /// count as unreadable).
    pub async fn all_readable(&self, p: &Principal, ids: &[KnowledgeBaseId]) -> Result<bool> {
        let mut wanted = ids.to_vec();
        wanted.sort();
        wanted.dedup();
        let found = self.inner.db.readable_kb_models(&reader(p), Some(&wanted), false).await?;
        Ok(found.len() == wanted.len())
    }

    /// Every knowledge base the caller may read (not the hidden ones of attached files).
    pub async fn readable_ids(&self, p: &Principal) -> Result<Vec<KnowledgeBaseId>> {
        Ok(self.inner.db.readable_kb_models(&reader(p), None, false).await?.into_iter().map(|kb| kb.0).collect())
    }

    /// The passage `chunk` of document `doc` with up to `around` passages on each side.
    pub async fn passage_context(
        &self,
        p: &Principal,
        kb: KnowledgeBaseId,
        doc: DocumentId,
        chunk: ChunkId,
        around: usize,
    ) -> Result<PassageContext> {
        if around > MAX_AROUND {
            return Err(KnowledgeError::Invalid(format!("around: at most {MAX_AROUND}")));
        }
        let base = self.readable(p, kb).await?;
        let document = self.inner.db.document(kb, doc).await?.ok_or(KnowledgeError::NotFound)?;
        let cited = self.inner.db.chunks_in(&[chunk], &[kb]).await?;
        let cited = cited.into_iter().find(|c| c.document_id == doc).ok_or(KnowledgeError::NotFound)?;
        let n = i64::try_from(around).unwrap_or(0);
        let rows = self.inner.db.document_chunk_range(doc, cited.ordinal - n, cited.ordinal + n).await?;
        let mut passages = Vec::with_capacity(rows.len());
        for c in &rows {
            let body = self.open_chunk(c)?;
            passages.push(ContextPassage {
                chunk_id: c.id,
                text: body.text,
                page: c.page,
                section: body.section,
                cited: c.id == chunk,
            });
        }
        Ok(PassageContext {
            knowledge_base_id: kb,
            knowledge_base_name: base.name,
            document: document.into(),
            passages,
        })
    }

    /// A document as uploaded, with its view (name, format).
    pub async fn document_content(
        &self,
        p: &Principal,
        kb: KnowledgeBaseId,
        doc: DocumentId,
    ) -> Result<(DocView, Vec<u8>)> {
        self.readable(p, kb).await?;
        let d = self.inner.db.document(kb, doc).await?.ok_or(KnowledgeError::NotFound)?;
        let sealed = self.inner.db.document_contents(&[doc]).await?;
        let (_, sealed) = sealed.into_iter().find(|(id, _)| *id == doc).ok_or(KnowledgeError::NotFound)?;
        let bytes = self.inner.keyring.open(&document_aad(doc), &sealed)?;
        Ok((d.into(), bytes))
    }
}
