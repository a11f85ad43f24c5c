//! What the knowledge service's operations fail with.

use crate::dense::DenseError;
use crate::index::IndexError;
use rampart_core::error::PublicError;
use rampart_core::{ChunkId, ErrorCode};
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

impl PublicError for KnowledgeError {
    /// Exhaustive on purpose: a new variant must choose its code.
    fn code(&self) -> ErrorCode {
        match self {
            KnowledgeError::NotFound => ErrorCode::NotFound,
            KnowledgeError::Forbidden => ErrorCode::Forbidden,
            KnowledgeError::Invalid(_) => ErrorCode::InvalidRequest,
            KnowledgeError::Conflict(_) => ErrorCode::Conflict,
            KnowledgeError::Storage(StorageError::InvalidCursor) => ErrorCode::InvalidRequest,
            KnowledgeError::Storage(_)
            | KnowledgeError::Index(_)
            | KnowledgeError::Dense(_)
            | KnowledgeError::Sealed(_)
            | KnowledgeError::ChunkBody(_)
            | KnowledgeError::MalformedVector(_)
            | KnowledgeError::Task { .. } => ErrorCode::Internal,
        }
    }

    fn public_message(&self) -> String {
        match self {
            KnowledgeError::Forbidden => "Only the knowledge base's owner or an administrator may change it.".into(),
            KnowledgeError::Invalid(m) | KnowledgeError::Conflict(m) => m.clone(),
            KnowledgeError::Storage(StorageError::InvalidCursor) => "invalid cursor".into(),
            _ => self.code().default_message().to_owned(),
        }
    }
}

pub type Result<T> = std::result::Result<T, KnowledgeError>;
