//! What the meetings service's operations fail with, and what clients are told.

use crate::recording::RecordingError;
use rampart_core::ErrorCode;
use rampart_core::error::PublicError;
use rampart_core::speech::SpeechError;
use rampart_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum MeetingError {
    #[error("not found")]
    NotFound,
    /// Readable (shared with the caller), but only its owner or an administrator may change it.
    #[error("forbidden")]
    Forbidden,
    #[error("{0}")]
    Invalid(String),
    /// The call id names someone else's meeting.
    #[error("the call id is another user's meeting")]
    CallIdTaken,
    /// The meeting is live on another connection.
    #[error("the meeting is live on another connection")]
    Busy,
    #[error("too many live meetings ({0})")]
    TooMany(&'static str),
    /// Not now, in the meeting's state (a summary of a live meeting, one being generated).
    #[error("{0}")]
    State(String),
    /// `If-Match` named another version than the stored one.
    #[error("changed since it was read")]
    Changed,
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("sealed meeting data: {0}")]
    Sealed(#[from] rampart_crypto::EnvelopeError),
    #[error("stored meeting data: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Recording(#[from] RecordingError),
    #[error(transparent)]
    Speech(#[from] SpeechError),
    #[error("audio: {0}")]
    Audio(String),
    /// A model call failed (the detail is for the log).
    #[error("model: {0}")]
    Model(String),
    /// Meeting search's indexes failed (or their work off the async workers did).
    #[error("search index: {0}")]
    Search(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<rampart_index::lexical::IndexError> for MeetingError {
    fn from(e: rampart_index::lexical::IndexError) -> Self {
        MeetingError::Search(Box::new(e))
    }
}

impl From<rampart_index::dense::DenseError> for MeetingError {
    fn from(e: rampart_index::dense::DenseError) -> Self {
        MeetingError::Search(Box::new(e))
    }
}

impl PublicError for MeetingError {
    /// Exhaustive on purpose: a new variant must choose its code.
    fn code(&self) -> ErrorCode {
        match self {
            MeetingError::NotFound | MeetingError::CallIdTaken => ErrorCode::NotFound,
            MeetingError::Forbidden => ErrorCode::Forbidden,
            MeetingError::Invalid(_) | MeetingError::Audio(_) => ErrorCode::InvalidRequest,
            MeetingError::Busy | MeetingError::State(_) => ErrorCode::Conflict,
            MeetingError::Changed => ErrorCode::PreconditionFailed,
            MeetingError::TooMany(_) => ErrorCode::RateLimited,
            MeetingError::Storage(StorageError::InvalidCursor) => ErrorCode::InvalidRequest,
            MeetingError::Storage(StorageError::Conflict) => ErrorCode::Conflict,
            MeetingError::Storage(_)
            | MeetingError::Sealed(_)
            | MeetingError::Json(_)
            | MeetingError::Recording(_)
            | MeetingError::Search(_) => ErrorCode::Internal,
            MeetingError::Speech(_) => ErrorCode::Unavailable,
            MeetingError::Model(_) => ErrorCode::UpstreamError,
        }
    }

    fn public_message(&self) -> String {
        match self {
            MeetingError::Forbidden => "Only the meeting's owner or an administrator may change it.".into(),
            MeetingError::Invalid(m) | MeetingError::Audio(m) | MeetingError::State(m) => m.clone(),
            MeetingError::Busy => "The meeting is live on another connection.".into(),
            MeetingError::TooMany(what) => format!("Too many live meetings ({what}); end one first."),
            MeetingError::Storage(StorageError::InvalidCursor) => "invalid cursor".into(),
            _ => self.code().default_message().to_owned(),
        }
    }
}

pub type Result<T, E = MeetingError> = std::result::Result<T, E>;
