//! What the knowledge service's operations fail with.

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
    #[error("{0}")]
    Internal(String),
}

impl From<StorageError> for KnowledgeError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict => KnowledgeError::Conflict("The name is already used.".into()),
            e => KnowledgeError::Storage(e),
        }
    }
}

impl From<crate::index::IndexError> for KnowledgeError {
    fn from(e: crate::index::IndexError) -> Self {
        KnowledgeError::Internal(e.to_string())
    }
}

impl From<crate::dense::DenseError> for KnowledgeError {
    fn from(e: crate::dense::DenseError) -> Self {
        KnowledgeError::Internal(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, KnowledgeError>;
