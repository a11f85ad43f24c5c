//! Keeping meeting search's indexes in step with the database. The database is the truth: a
//! meeting's passages are written there (sealed) first, then its entries in the indexes are
//! replaced by what the database holds — the same path for this replica's changes and for other
//! replicas' ([`SearchChange`]). At start and every minute, the lexical index is checked against
//! the passages' count (rebuilt when they differ), the dense graphs against the vectors' counts
//! (they live in memory and are rebuilt from the database's sealed vectors), and finished
//! meetings never indexed (a crash after the end, meetings from before meeting search) are.

use super::passages::{self, Draft};
use super::{DenseIndex, MeetingIndex, PassageBody, PassageDoc, PassageVector, vector_aad};
use crate::error::{MeetingError, Result};
use crate::service::MeetingService;
use rampart_core::embed::EmbedPurpose;
use rampart_core::meetings::PassageKind;
use rampart_core::{MeetingKey, PassageId, Timestamp};
use rampart_storage::repo::meeting_passages::NewPassage;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How often the indexes are checked against the database.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// Meetings indexed per step of the catch-up.
const PENDING_BATCH: i64 = 50;

/// A change to the meeting indexes, for other replicas' indexes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", tag = "op")]
pub enum SearchChange {
    /// A meeting's passages were (re)placed: read them from the database.
    Put { meeting: MeetingKey },
    /// A meeting's passages of one kind, or (no kind) all of them, are gone.
    Remove { meeting: MeetingKey, kind: Option<PassageKind> },
}

/// Runs index work (commits write and sync files; graph inserts are CPU work) off the async
/// workers.
async fn blocking<T: Send + 'static>(
    ix: &Arc<MeetingIndex>,
    f: impl FnOnce(&MeetingIndex) -> Result<T> + Send + 'static,
) -> Result<T> {
    let ix = ix.clone();
    tokio::task::spawn_blocking(move || f(&ix)).await.map_err(|e| MeetingError::Search(Box::new(e)))?
}

impl MeetingService {
    /// Makes a finished meeting's transcript searchable, in the background (at its end).
    pub(crate) fn index_later(&self, key: MeetingKey) {
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = me.index_meeting(key).await {
                tracing::warn!(meeting = %key, error = %e, "a meeting could not be indexed for search (retried within a minute)");
            }
        });
    }

    /// Makes a meeting's transcript searchable now: its final segments in passages, sealed,
    /// stored and indexed, replacing what was there.
    /// The assistant's answers are not what was said: they are left out.
    pub async fn index_meeting(&self, key: MeetingKey) -> Result<()> {
        let segs = self.said(key).await?;
        self.put_passages(key, PassageKind::Transcript, passages::from_segments(&segs)).await
    }

    /// The summaries' seam: makes a meeting's summary (Markdown text) searchable with the
    /// meeting's own access, in passages of paragraphs, replacing the summary indexed before
    /// (empty text: none). Whoever writes summaries calls it each time one is stored; it does
    /// not check the caller's access (the summary's writer did).
    pub async fn index_summary(&self, key: MeetingKey, text: &str) -> Result<()> {
        self.put_passages(key, PassageKind::Summary, passages::from_summary(text)).await
    }

    async fn put_passages(&self, key: MeetingKey, kind: PassageKind, drafts: Vec<Draft>) -> Result<()> {
        let ix = self.search_index().cloned();
        let texts: Vec<String> = drafts.iter().map(|d| d.text.clone()).collect();
        let vectors = match &ix {
            Some(ix) => self.embed_passages(ix, &texts).await,
            None => None,
        };
        let rows = self.passage_rows(key, &drafts, vectors.as_ref())?;
        let _writing = match &ix {
            Some(ix) => Some(ix.writing.lock().await),
            None => None,
        };
        if !self.db().replace_meeting_passages(key, kind.as_str(), &rows, self.now()).await? {
            return Ok(());
        }
        if let Some(ix) = &ix {
            self.reload_meeting(ix, key).await?;
            ix.changed(SearchChange::Put { meeting: key });
        }
        Ok(())
    }

    /// Vectors of passages' texts with the index's model; none without a model, or when it is
    /// missing or fails (logged: the meeting is found lexically).
    async fn embed_passages(&self, ix: &MeetingIndex, texts: &[String]) -> Option<(String, Vec<Vec<f32>>)> {
        let model = ix.model.as_deref()?;
        if texts.is_empty() {
            return None;
        }
        let Some(e) = ix.models.embedder(model) else {
            tracing::warn!(model = %model, "the embedding model is not configured; meetings are searched lexically");
            return None;
        };
        match rampart_index::embed::embed_all(e.as_ref(), texts, EmbedPurpose::Document).await {
            Ok(v) => Some((model.to_owned(), v)),
            Err(err) => {
                tracing::warn!(model = %model, error = %err, "meeting passages not embedded; the meeting is searched lexically");
                None
            }
        }
    }

    /// The database rows of passages: body and vector sealed under the meeting and passage.
    fn passage_rows(
        &self,
        key: MeetingKey,
        drafts: &[Draft],
        vectors: Option<&(String, Vec<Vec<f32>>)>,
    ) -> Result<Vec<NewPassage>> {
        let mut rows = Vec::with_capacity(drafts.len());
        for (i, d) in drafts.iter().enumerate() {
            let id = PassageId::new();
            let body = PassageBody { text: d.text.clone(), speaker: d.speaker.clone() };
            let embedding = vectors.map(|(model, v)| {
                (model.clone(), self.0.keyring.seal(&vector_aad(key, id), &rampart_index::dense::encode(&v[i])))
            });
            rows.push(NewPassage {
                id,
                ordinal: i64::try_from(i).unwrap_or(i64::MAX),
                channel: d.channel.map(|c| c.as_str().to_owned()),
                start_ms: d.start_ms,
                end_ms: d.end_ms,
                body: self.seal_passage(key, id, &body)?,
                embedding,
            });
        }
        Ok(rows)
    }

    /// Replaces a meeting's entries in both indexes with its passages in the database.
    async fn reload_meeting(&self, ix: &Arc<MeetingIndex>, meeting: MeetingKey) -> Result<()> {
        let mut entries = Vec::new();
        for r in self.db().meeting_passages(meeting).await? {
            if let Some(kind) = PassageKind::parse(&r.kind) {
                let text = self.open_passage(meeting, r.id, &r.body)?.text;
                entries.push((meeting, PassageDoc { meeting, kind }, r.id, text));
            }
        }
        let vectors = self.vectors_of(ix, meeting).await?;
        blocking(ix, move |ix| {
            ix.lexical.delete_kb(meeting)?;
            ix.lexical.add_chunks(&entries)?;
            ix.lexical.flush()?;
            put_graph(&ix.dense, meeting, vectors)
        })
        .await
    }

    /// A meeting's vectors made with the index's model (`None`: no model, or none stored).
    async fn vectors_of(&self, ix: &MeetingIndex, meeting: MeetingKey) -> Result<Option<(String, Vec<PassageVector>)>> {
        let Some(model) = ix.model.clone() else { return Ok(None) };
        let mut out = Vec::new();
        for r in self.db().passage_vectors(Some(meeting)).await?.iter().filter(|r| r.model == model) {
            out.extend(self.open_vector(r)?);
        }
        Ok((!out.is_empty()).then_some((model, out)))
    }

    /// Takes a meeting's passages of one kind, or (`None`) all of them, out of the indexes (the
    /// database's rows went with the meeting or the transcript).
    pub(crate) async fn unindex(&self, key: MeetingKey, kind: Option<PassageKind>) -> Result<()> {
        let Some(ix) = self.search_index().cloned() else { return Ok(()) };
        let _writing = ix.writing.lock().await;
        remove_from_indexes(&ix, key, kind).await?;
        ix.changed(SearchChange::Remove { meeting: key, kind });
        Ok(())
    }

    /// Applies another replica's change to this replica's indexes.
    pub async fn apply_search_change(&self, c: &SearchChange) -> Result<()> {
        let Some(ix) = self.search_index().cloned() else { return Ok(()) };
        let _writing = ix.writing.lock().await;
        match *c {
            SearchChange::Put { meeting } => self.reload_meeting(&ix, meeting).await,
            SearchChange::Remove { meeting, kind } => remove_from_indexes(&ix, meeting, kind).await,
        }
    }
}

/// Replaces a meeting's graph with one of `vectors` (none: the graph is dropped).
fn put_graph(dense: &DenseIndex, meeting: MeetingKey, vectors: Option<(String, Vec<PassageVector>)>) -> Result<()> {
    match vectors {
        Some((model, v)) => dense.rebuild_kb(meeting, &model, &v)?,
        None => dense.delete_kb(meeting)?,
    }
    Ok(())
}

async fn remove_from_indexes(ix: &Arc<MeetingIndex>, meeting: MeetingKey, kind: Option<PassageKind>) -> Result<()> {
    blocking(ix, move |ix| {
        match kind {
            None => {
                ix.lexical.delete_kb(meeting)?;
                ix.dense.delete_kb(meeting)?;
            }
            Some(kind) => {
                let doc = PassageDoc { meeting, kind };
                ix.lexical.delete_document(doc)?;
                ix.dense.delete_document(doc)?;
            }
        }
        Ok(())
    })
    .await
}

impl MeetingService {
    /// Starts meeting search's upkeep (when an index is set): now and every minute, the indexes
    /// are checked against the database and rebuilt where they differ, and finished meetings
    /// never indexed are indexed.
    pub fn start_search(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.search_index()?;
        let me = self.clone();
        Some(tokio::spawn(async move {
            loop {
                match me.reconcile_search().await {
                    Ok(true) => tracing::info!("meeting search indexes rebuilt: they differed from the database"),
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "could not check the meeting search indexes"),
                }
                match me.index_pending().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(meetings = n, "meetings indexed for search"),
                    Err(e) => tracing::warn!(error = %e, "could not index meetings for search"),
                }
                tokio::time::sleep(UPKEEP_EVERY).await;
            }
        }))
    }

    /// Indexes the finished meetings whose transcript was never made into passages; how many.
    pub async fn index_pending(&self) -> Result<usize> {
        let mut n = 0;
        loop {
            // A meeting that ended within the last round is indexed by its own end: not twice
            // at once (the second would replace the first's passages under a search).
            let before =
                Timestamp::from_millis(self.now().millis() - i64::try_from(UPKEEP_EVERY.as_millis()).unwrap_or(0));
            let keys = self.db().meetings_to_index(before, PENDING_BATCH).await?;
            if keys.is_empty() {
                return Ok(n);
            }
            // One meeting that fails (logged) does not hold up the others; a batch of failures
            // alone ends the round (they are tried again at the next upkeep).
            let mut failed = 0;
            for k in &keys {
                match self.index_meeting(*k).await {
                    Ok(()) => n += 1,
                    Err(e) => {
                        tracing::warn!(meeting = %k, error = %e, "a meeting could not be indexed for search");
                        failed += 1;
                    }
                }
            }
            if failed == keys.len() {
                return Ok(n);
            }
        }
    }

    /// Rebuilds what does not match the database: the lexical index when it does not hold as
    /// many passages as the database, each meeting's graph that does not hold its vectors of
    /// the index's model. True if anything was rebuilt.
    pub async fn reconcile_search(&self) -> Result<bool> {
        let Some(ix) = self.search_index().cloned() else { return Ok(false) };
        let _writing = ix.writing.lock().await;
        let mut rebuilt = false;
        if u64::try_from(self.db().passage_count().await?).ok() != Some(ix.lexical.len()) {
            self.rebuild_lexical(&ix).await?;
            rebuilt = true;
        }
        let mut have = ix.dense.counts();
        for (meeting, model, n) in self.db().passage_vector_counts().await? {
            if ix.model.as_deref() != Some(model.as_str()) {
                continue;
            }
            match have.remove(&meeting) {
                Some((m, c)) if m == model && i64::try_from(c).ok() == Some(n) => {}
                _ => {
                    let vectors = self.vectors_of(&ix, meeting).await?;
                    blocking(&ix, move |ix| put_graph(&ix.dense, meeting, vectors)).await?;
                    rebuilt = true;
                }
            }
        }
        for (meeting, (_, n)) in have {
            if n > 0 {
                ix.dense.delete_kb(meeting)?;
                rebuilt = true;
            }
        }
        Ok(rebuilt)
    }

    async fn rebuild_lexical(&self, ix: &MeetingIndex) -> Result<u64> {
        tracing::info!("rebuilding the meeting search index from the database");
        // Searches see the old entries until the new ones are committed at the end.
        ix.lexical.replace_all()?;
        let (mut after, mut n) = (None, 0u64);
        loop {
            let batch = self.db().passages_after(after, 500).await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id);
            let mut entries = Vec::with_capacity(batch.len());
            for r in &batch {
                if let Some(kind) = PassageKind::parse(&r.kind) {
                    let text = self.open_passage(r.meeting_id, r.id, &r.body)?.text;
                    entries.push((r.meeting_id, PassageDoc { meeting: r.meeting_id, kind }, r.id, text));
                }
            }
            ix.lexical.add_chunks(&entries)?;
            n += entries.len() as u64;
        }
        ix.lexical.flush()?;
        Ok(n)
    }
}
