//! What the knowledge service's operations fail with.

use crate::dense::DenseError;
use crate::index::IndexError;
use rampart_core::ChunkId;
use rampart_crypto::EnvelopeError;
use rampart_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error("not found")]
    NotFound,
    /// Readable, but the caller may not change it.
    #[error("forbidden")]
    Forbidden,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("storage: {0}")]
    Storage(StorageError),
    /// The lexical index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A dense graph failed.
    #[error(transparent)]
    Dense(#[from] DenseError),
    /// A stored document, chunk or vector did not open (another key, a damaged row).
    #[error(transparent)]
    Sealed(#[from] EnvelopeError),
    /// A chunk's body did not serialise, or its stored form does not read back.
    #[error(transparent)]
    ChunkBody(serde_json::Error),
    /// A stored vector opened but is not a vector.
    #[error("stored vector of chunk {0} is malformed")]
    MalformedVector(ChunkId),
    /// Index work run off the async workers panicked or was cancelled.
    #[error("{task}: {source}")]
    Task { task: &'static str, source: tokio::task::JoinError },
}

impl From<StorageError> for KnowledgeError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict => KnowledgeError::Conflict("The name is already used.".into()),
            e => KnowledgeError::Storage(e),
        }
    }
}

pub type Result<T> = std::result::Result<T, KnowledgeError>;
