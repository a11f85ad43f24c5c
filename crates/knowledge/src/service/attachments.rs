//! Files attached to a chat session: documents of the session's hidden knowledge base, parsed,
//! chunked and indexed like any other, readable by the session's user alone, never listed, and
//! searched by that session's turns only. Another user's session (or a document of another
//! session) is "not found".

use super::{DocView, IndexChange, KnowledgeError, KnowledgeService, Result};
use rampart_core::{DocumentId, KnowledgeBaseId, PageRequest, Principal, SessionId};
use rampart_storage::StorageError;
use rampart_storage::repo::Owner;

impl KnowledgeService {
    /// Whether the session is the caller's (and so may have attachments).
    async fn own_session(&self, p: &Principal, sid: SessionId) -> Result<()> {
        match self.inner.db.session(Owner::User(p.user_id), sid).await? {
            Some(_) => Ok(()),
            None => Err(KnowledgeError::NotFound),
        }
    }

    /// The hidden knowledge base of the caller's session, made on the first attachment.
    async fn session_kb_or_create(&self, p: &Principal, sid: SessionId) -> Result<KnowledgeBaseId> {
        if let Some(kb) = self.inner.db.session_kb(p.user_id, sid).await? {
            return Ok(kb);
        }
        let kb = KnowledgeBaseId::new();
        let model = self.inner.cfg.default_embedding_model.as_deref();
        match self.inner.db.create_session_kb(kb, p.user_id, sid, model, self.now()).await {
            Ok(true) => Ok(kb),
            Ok(false) => Err(KnowledgeError::NotFound),
            // Two first attachments at once: the other one made it.
            Err(StorageError::Conflict) => {
                self.inner.db.session_kb(p.user_id, sid).await?.ok_or(KnowledgeError::NotFound)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Attaches files to the caller's session (same limits and parsers as uploads).
    pub async fn attach(&self, p: &Principal, sid: SessionId, files: Vec<(String, Vec<u8>)>) -> Result<Vec<DocView>> {
        self.check_files(&files)?;
        let kb = self.session_kb_or_create(p, sid).await?;
        self.upload(p, kb, files).await
    }

    /// The files attached to the caller's session.
    pub async fn attachments(&self, p: &Principal, sid: SessionId) -> Result<Vec<DocView>> {
        self.own_session(p, sid).await?;
        let Some(kb) = self.inner.db.session_kb(p.user_id, sid).await? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        let mut page = PageRequest { limit: Some(100), cursor: None };
        loop {
            let pg = self.inner.db.documents(kb, &page).await?;
            out.extend(pg.items.into_iter().map(DocView::from));
            match pg.next_cursor {
                Some(c) if out.len() < 1000 => page.cursor = Some(c),
                _ => return Ok(out),
            }
        }
    }

    /// Removes one attached file (and its index entries).
    pub async fn detach(&self, p: &Principal, sid: SessionId, doc: DocumentId) -> Result<()> {
        let kb = self.inner.db.session_kb(p.user_id, sid).await?.ok_or(KnowledgeError::NotFound)?;
        self.delete_document(p, kb, doc).await
    }

    /// The hidden knowledge base of the caller's session, if it has attachments (every turn of
    /// the session searches it).
    pub async fn session_files_kb(&self, p: &Principal, sid: SessionId) -> Result<Option<KnowledgeBaseId>> {
        Ok(self.inner.db.session_kb(p.user_id, sid).await?)
    }

    /// Removes a session's attachments and their index entries (before the session is deleted;
    /// the database would delete the rows with it, not the index entries).
    pub async fn drop_session_files(&self, p: &Principal, sid: SessionId) -> Result<()> {
        if let Some(kb) = self.inner.db.session_kb(p.user_id, sid).await? {
            self.drop_hidden_kb(kb).await?;
        }
        Ok(())
    }

    /// Removes the attachments of all the caller's sessions (before deleting them all).
    pub async fn drop_all_session_files(&self, p: &Principal) -> Result<()> {
        for kb in self.inner.db.session_kbs_of(p.user_id).await? {
            self.drop_hidden_kb(kb).await?;
        }
        Ok(())
    }

    async fn drop_hidden_kb(&self, kb: KnowledgeBaseId) -> Result<()> {
        self.inner.db.delete_kb(kb).await?;
        self.remove_kb_from_indexes(kb).await?;
        self.changed(IndexChange::DeleteKb { kb });
        Ok(())
    }
}
