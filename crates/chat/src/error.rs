//! Chat errors and their public codes.

use rampart_core::ErrorCode;
use rampart_core::error::PublicError;
use rampart_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("not found")]
    NotFound,
    /// A knowledge base chosen for a turn does not exist or is not readable by the caller.
    #[error("a chosen knowledge base is not readable")]
    UnknownKnowledgeBase,
    /// A per-user limit is reached (the prompt library is full).
    #[error("limit reached: {0}")]
    Limit(String),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// Sealed content did not open (another key, a damaged row).
    #[error("sealed content: {0}")]
    Sealed(#[from] rampart_crypto::EnvelopeError),
    /// Opened content is not what was sealed (not UTF-8, not the JSON written).
    #[error("stored content does not read back: {0}")]
    Stored(&'static str),
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("model: {0}")]
    Model(#[from] rampart_core::llm::ModelError),
}

impl PublicError for ChatError {
    /// Exhaustive on purpose: a new variant must choose its code.
    fn code(&self) -> ErrorCode {
        match self {
            ChatError::Invalid(_) => ErrorCode::InvalidRequest,
            ChatError::NotFound | ChatError::UnknownKnowledgeBase => ErrorCode::NotFound,
            ChatError::Limit(_) => ErrorCode::Conflict,
            ChatError::Storage(StorageError::InvalidCursor) => ErrorCode::InvalidRequest,
            ChatError::Storage(_) | ChatError::Sealed(_) | ChatError::Stored(_) | ChatError::Json(_) => {
                ErrorCode::Internal
            }
            ChatError::Model(_) => ErrorCode::UpstreamError,
        }
    }

    fn public_message(&self) -> String {
        match self {
            ChatError::Invalid(m) | ChatError::Limit(m) => m.clone(),
            ChatError::UnknownKnowledgeBase => "A knowledge base you chose was not found.".into(),
            ChatError::Storage(StorageError::InvalidCursor) => "invalid cursor".into(),
            _ => self.code().default_message().to_owned(),
        }
    }
}

pub type Result<T, E = ChatError> = std::result::Result<T, E>;
