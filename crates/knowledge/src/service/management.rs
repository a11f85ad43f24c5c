//! Managing knowledge bases and their documents: who may read and change them, uploads (sealed,
//! deduplicated by content hash), deletion and re-ingestion.

use super::{DocView, IndexChange, KbCounts, KbView, document_aad, reader};
use super::{KnowledgeError, KnowledgeService, Result};
use rampart_core::{DocumentId, KnowledgeBaseId, Page, PageRequest, Principal};
use rampart_storage::StorageError;
use rampart_storage::repo::knowledge::{DocRecord, KbRecord, KbStats};

fn check_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(KnowledgeError::Invalid("name: use 1-64 characters of a-z, 0-9, '-', '_', '.'".into()))
    }
}

fn check_groups(groups: &[String]) -> Result<()> {
    if groups.len() > 100 || groups.iter().any(|g| g.is_empty() || g.len() > 128) {
        return Err(KnowledgeError::Invalid("readGroups: at most 100 names of 1-128 characters".into()));
    }
    Ok(())
}

impl KnowledgeService {
    // ---- knowledge bases ----

    /// `embedding_model`: `None` takes the configured default, `Some("")` none (lexical only).
    pub async fn create_kb(
        &self,
        p: &Principal,
        name: &str,
        description: Option<&str>,
        read_groups: &[String],
        embedding_model: Option<&str>,
    ) -> Result<KbView> {
        check_name(name)?;
        check_groups(read_groups)?;
        let embedding_model = match embedding_model {
            None => self.inner.cfg.default_embedding_model.clone(),
            Some(m) => self.check_embedding_model(m)?,
        };
        let description = description.unwrap_or_default();
        if description.chars().count() > 1000 {
            return Err(KnowledgeError::Invalid("description: at most 1,000 characters".into()));
        }
        let now = self.now();
        let mut groups = read_groups.to_vec();
        groups.sort();
        groups.dedup();
        let kb = KbRecord {
            id: KnowledgeBaseId::new(),
            name: name.to_owned(),
            description: description.to_owned(),
            owner_id: Some(p.user_id),
            read_groups: groups,
            embedding_model,
            created_at: now,
            updated_at: now,
        };
        self.inner.db.create_kb(&kb).await?;
        Ok(KbView::of(kb, Some(KbCounts::from(KbStats::default()))))
    }

    pub async fn list_kbs(&self, p: &Principal) -> Result<Vec<KbView>> {
        Ok(self.inner.db.kbs_for(&reader(p)).await?.into_iter().map(|k| KbView::of(k, None)).collect())
    }

    /// A knowledge base the caller may read, with its counts.
    pub async fn get_kb(&self, p: &Principal, id: KnowledgeBaseId) -> Result<KbView> {
        let kb = self.readable(p, id).await?;
        let stats = self.inner.db.kb_stats(id).await?;
        Ok(KbView::of(kb, Some(stats.into())))
    }

    /// A knowledge base the caller may read, without counts.
    pub async fn readable_kb(&self, p: &Principal, id: KnowledgeBaseId) -> Result<KbView> {
        Ok(KbView::of(self.readable(p, id).await?, None))
    }

    pub(super) async fn readable(&self, p: &Principal, id: KnowledgeBaseId) -> Result<KbRecord> {
        self.inner.db.kb_for(&reader(p), id).await?.ok_or(KnowledgeError::NotFound)
    }

    /// Readable and changeable by the caller (its owner or an administrator).
    async fn manageable(&self, p: &Principal, id: KnowledgeBaseId) -> Result<KbRecord> {
        let kb = self.readable(p, id).await?;
        if p.is_admin() || kb.owner_id == Some(p.user_id) { Ok(kb) } else { Err(KnowledgeError::Forbidden) }
    }

    /// A model id for a knowledge base: `""` is none; anything else must be a configured
    /// embedding model.
    fn check_embedding_model(&self, m: &str) -> Result<Option<String>> {
        if m.is_empty() {
            return Ok(None);
        }
        if self.models().embedder(m).is_none() {
            return Err(KnowledgeError::Invalid(format!("embeddingModel: {m:?} is not a configured embedding model")));
        }
        Ok(Some(m.to_owned()))
    }

    /// Changes what is given. A different embedding model re-ingests every document.
    pub async fn update_kb(
        &self,
        p: &Principal,
        id: KnowledgeBaseId,
        name: Option<&str>,
        description: Option<&str>,
        read_groups: Option<&[String]>,
        embedding_model: Option<&str>,
    ) -> Result<KbView> {
        let mut kb = self.manageable(p, id).await?;
        if let Some(m) = embedding_model {
            kb.embedding_model = self.check_embedding_model(m)?;
        }
        if let Some(n) = name {
            check_name(n)?;
            kb.name = n.to_owned();
        }
        if let Some(d) = description {
            if d.chars().count() > 1000 {
                return Err(KnowledgeError::Invalid("description: at most 1,000 characters".into()));
            }
            kb.description = d.to_owned();
        }
        if let Some(g) = read_groups {
            check_groups(g)?;
            let mut g = g.to_vec();
            g.sort();
            g.dedup();
            kb.read_groups = g;
        }
        kb.updated_at = self.now();
        if !self.inner.db.update_kb(&kb).await? {
            return Err(KnowledgeError::NotFound);
        }
        self.inner.wake.notify_waiters();
        self.get_kb(p, id).await
    }

    /// Deletes a knowledge base, its documents and chunks, and its index entries.
    pub async fn delete_kb(&self, p: &Principal, id: KnowledgeBaseId) -> Result<()> {
        self.manageable(p, id).await?;
        if !self.inner.db.delete_kb(id).await? {
            return Err(KnowledgeError::NotFound);
        }
        self.remove_kb_from_indexes(id).await?;
        self.changed(IndexChange::DeleteKb { kb: id });
        Ok(())
    }

    // ---- documents ----

    /// Stores uploaded files for ingestion. Content already in this knowledge base is reported
    /// as `duplicate` (with the existing document's id) and not stored again.
    pub async fn upload(
        &self,
        p: &Principal,
        kb: KnowledgeBaseId,
        files: Vec<(String, Vec<u8>)>,
    ) -> Result<Vec<DocView>> {
        self.manageable(p, kb).await?;
        self.check_files(&files)?;
        let now = self.now();
        let mut rows = Vec::with_capacity(files.len());
        for (name, bytes) in files {
            let hash = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes));
            let d = DocRecord {
                id: DocumentId::new(),
                kb_id: kb,
                name,
                content_hash: hash,
                size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
                format: None,
                status: "pending".into(),
                error: None,
                chunk_count: 0,
                uploaded_by: Some(p.user_id),
                created_at: now,
                updated_at: now,
            };
            let sealed = self.inner.keyring.seal(&document_aad(d.id), &bytes);
            rows.push((d, sealed));
        }
        // One transaction: a duplicate (also within this upload) comes back as the document
        // already stored.
        let existing = match self.inner.db.insert_documents(&rows).await {
            // The same content uploaded at the same moment by another request (PostgreSQL
            // runs both transactions at once): once it committed, it is found as a duplicate.
            Err(StorageError::Conflict) => self.inner.db.insert_documents(&rows).await?,
            r => r?,
        };
        let out: Vec<DocView> = rows
            .into_iter()
            .zip(existing)
            .map(|((d, _), e)| match e {
                Some(e) => DocView { status: "duplicate".into(), ..DocView::from(e) },
                None => DocView::from(d),
            })
            .collect();
        self.inner.wake.notify_waiters();
        Ok(out)
    }

    /// An upload's number of files, their names and sizes.
    pub fn check_files(&self, files: &[(String, Vec<u8>)]) -> Result<()> {
        if files.is_empty() || files.len() > self.inner.cfg.max_files_per_upload {
            return Err(KnowledgeError::Invalid(format!(
                "send 1-{} files in the field \"file\"",
                self.inner.cfg.max_files_per_upload
            )));
        }
        for (name, bytes) in files {
            if name.is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
                return Err(KnowledgeError::Invalid(
                    "file names must be 1-255 characters without control characters".into(),
                ));
            }
            if bytes.len() > self.inner.cfg.limits.max_bytes {
                return Err(KnowledgeError::Invalid(format!(
                    "{name}: larger than the limit of {} bytes",
                    self.inner.cfg.limits.max_bytes
                )));
            }
        }
        Ok(())
    }

    pub async fn list_documents(
        &self,
        p: &Principal,
        kb: KnowledgeBaseId,
        page: &PageRequest,
    ) -> Result<Page<DocView>> {
        self.readable(p, kb).await?;
        let pg = self.inner.db.documents(kb, page).await?;
        Ok(Page { items: pg.items.into_iter().map(DocView::from).collect(), next_cursor: pg.next_cursor })
    }

    pub async fn get_document(&self, p: &Principal, kb: KnowledgeBaseId, doc: DocumentId) -> Result<DocView> {
        self.readable(p, kb).await?;
        self.inner.db.document(kb, doc).await?.map(DocView::from).ok_or(KnowledgeError::NotFound)
    }

    /// Deletes a document and removes its chunks from the index.
    pub async fn delete_document(&self, p: &Principal, kb: KnowledgeBaseId, doc: DocumentId) -> Result<()> {
        self.manageable(p, kb).await?;
        if !self.inner.db.delete_document(kb, doc).await? {
            return Err(KnowledgeError::NotFound);
        }
        self.remove_document_from_indexes(doc).await?;
        self.changed(IndexChange::DeleteDocument { doc });
        Ok(())
    }

    /// Ingests a document again (e.g. after a parser improvement, or a failure).
    pub async fn reingest(&self, p: &Principal, kb: KnowledgeBaseId, doc: DocumentId) -> Result<DocView> {
        self.manageable(p, kb).await?;
        if !self.inner.db.requeue_document(kb, doc, self.now()).await? {
            return Err(KnowledgeError::NotFound);
        }
        self.inner.wake.notify_waiters();
        self.get_document(p, kb, doc).await
    }

    /// Knowledge bases by name (for assistants' configuration); unknown names are left out.
    pub async fn ids_by_name(&self, names: &[String]) -> Result<Vec<KnowledgeBaseId>> {
        Ok(self.inner.db.kb_ids_by_name(names).await?)
    }
}
