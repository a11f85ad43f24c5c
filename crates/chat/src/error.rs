//! Chat errors and their public codes.

use rampart_core::ErrorCode;
use rampart_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("not found")]
    NotFound,
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("sealed content: {0}")]
    Crypto(String),
    #[error("model: {0}")]
    Model(#[from] rampart_core::llm::ModelError),
}

impl ChatError {
    /// The public code. Exhaustive on purpose.
    pub fn code(&self) -> ErrorCode {
        match self {
            ChatError::Invalid(_) => ErrorCode::InvalidRequest,
            ChatError::NotFound => ErrorCode::NotFound,
            ChatError::Storage(StorageError::InvalidCursor) => ErrorCode::InvalidRequest,
            ChatError::Storage(_) | ChatError::Crypto(_) => ErrorCode::Internal,
            ChatError::Model(_) => ErrorCode::UpstreamError,
        }
    }

    pub fn public_message(&self) -> String {
        match self {
            ChatError::Invalid(m) => m.clone(),
            ChatError::Storage(StorageError::InvalidCursor) => "invalid cursor".into(),
            _ => self.code().default_message().to_owned(),
        }
    }
}

pub type Result<T, E = ChatError> = std::result::Result<T, E>;
