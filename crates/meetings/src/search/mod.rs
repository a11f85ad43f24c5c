//! Past meetings as knowledge: a finished meeting's transcript (and its summary, when one is
//! written) in passages, sealed in the database and indexed in `rampart-index`'s lexical index
//! (keyed terms) and, with an embedding model, its dense index (one graph per meeting), fused
//! by reciprocal rank. The scopes of every search are the meetings the caller may read, read
//! from the database at the time of the search (owner, shared-with, administrators): a share
//! or an unshare changes what is found at once, and a deleted meeting is gone.
//!
//! `passages` groups segments into passages, `indexing` keeps the indexes in step with the
//! database (at a meeting's end, a summary, a deletion, retention; checked at start and every
//! minute), `query` answers searches and the recent-meetings list (also as the
//! `core::meetings::PastMeetings` port).

mod indexing;
mod passages;
mod query;

pub use indexing::SearchChange;
pub use query::MAX_QUERY_CHARS;

use crate::error::Result;
use crate::service::MeetingService;
use rampart_core::embed::ModelDirectory;
use rampart_core::meetings::PassageKind;
use rampart_core::{MeetingKey, PassageId};
use rampart_index::IndexId;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};

/// What the index calls a document: a meeting's transcript or its summary (each replaced as a
/// whole).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PassageDoc {
    pub meeting: MeetingKey,
    pub kind: PassageKind,
}

impl std::fmt::Display for PassageDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.meeting, self.kind.as_str())
    }
}

impl IndexId for PassageDoc {
    fn parse_id(s: &str) -> Option<Self> {
        let (m, k) = s.split_once('/')?;
        Some(Self { meeting: MeetingKey::parse(m)?, kind: PassageKind::parse(k)? })
    }
    fn low64(self) -> u64 {
        self.meeting.low64() ^ u64::from(self.kind == PassageKind::Summary)
    }
}

pub type LexicalIndex = rampart_index::lexical::LexicalIndex<MeetingKey, PassageDoc, PassageId>;
pub type DenseIndex = rampart_index::dense::DenseIndex<MeetingKey, PassageDoc, PassageId>;
type PassageVector = rampart_index::dense::ChunkVector<PassageDoc, PassageId>;

/// The meeting indexes and how passages are embedded.
pub struct MeetingIndex {
    lexical: LexicalIndex,
    dense: DenseIndex,
    /// The embedding model of passages (`None`: lexical only).
    model: Option<String>,
    models: Arc<dyn ModelDirectory>,
    /// Held while passages are written to the database and the indexes, and while the indexes
    /// are checked against the database (the counts would differ half-way).
    writing: tokio::sync::Mutex<()>,
    /// Told of every change this process makes to its indexes, so other replicas can follow.
    on_change: OnceLock<Box<dyn Fn(SearchChange) + Send + Sync>>,
}

impl std::fmt::Debug for MeetingIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MeetingIndex(model: {:?})", self.model)
    }
}

impl MeetingIndex {
    /// Indexes over `lexical` and `dense`; passages are embedded with `model` (from `models`)
    /// when it is set.
    pub fn new(
        lexical: LexicalIndex,
        dense: DenseIndex,
        model: Option<String>,
        models: Arc<dyn ModelDirectory>,
    ) -> Self {
        Self { lexical, dense, model, models, writing: tokio::sync::Mutex::new(()), on_change: OnceLock::new() }
    }

    /// Called after each change this process makes to its indexes (set once; the server sends
    /// them to other replicas over the bus).
    pub fn on_change(&self, f: impl Fn(SearchChange) + Send + Sync + 'static) {
        let _ = self.on_change.set(Box::new(f));
    }

    fn changed(&self, c: SearchChange) {
        if let Some(f) = self.on_change.get() {
            f(c);
        }
    }

    /// Passages in the lexical index.
    pub fn len(&self) -> u64 {
        self.lexical.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lexical.is_empty()
    }
}

/// What a passage row's sealed body holds.
#[derive(Serialize, Deserialize)]
struct PassageBody {
    text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    speaker: Option<String>,
}

fn passage_aad(meeting: MeetingKey, id: PassageId) -> Vec<u8> {
    format!("meeting_passage:{meeting}/{id}").into_bytes()
}

fn vector_aad(meeting: MeetingKey, id: PassageId) -> Vec<u8> {
    format!("meeting_passage_vector:{meeting}/{id}").into_bytes()
}

impl MeetingService {
    /// The indexes meeting search uses (set once at start-up; without them, passages are still
    /// stored and searches find nothing).
    pub fn set_search_index(&self, ix: Arc<MeetingIndex>) {
        let _ = self.0.search.set(ix);
    }

    pub fn search_index(&self) -> Option<&Arc<MeetingIndex>> {
        self.0.search.get()
    }

    fn seal_passage(&self, meeting: MeetingKey, id: PassageId, body: &PassageBody) -> Result<Vec<u8>> {
        Ok(self.0.keyring.seal(&passage_aad(meeting, id), &serde_json::to_vec(body)?))
    }

    fn open_passage(&self, meeting: MeetingKey, id: PassageId, sealed: &[u8]) -> Result<PassageBody> {
        let plain = self.0.keyring.open(&passage_aad(meeting, id), sealed)?;
        Ok(serde_json::from_slice(&plain)?)
    }

    fn open_vector(&self, v: &rampart_storage::repo::meeting_passages::PassageVector) -> Result<Option<PassageVector>> {
        let plain = self.0.keyring.open(&vector_aad(v.meeting_id, v.id), &v.sealed)?;
        let Some(kind) = PassageKind::parse(&v.kind) else { return Ok(None) };
        Ok(rampart_index::dense::decode(&plain).map(|vector| PassageVector {
            chunk: v.id,
            document: PassageDoc { meeting: v.meeting_id, kind },
            vector,
        }))
    }
}
