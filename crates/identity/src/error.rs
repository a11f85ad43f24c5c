//! Identity errors and their public codes.

use rampart_core::ErrorCode;
use rampart_core::error::PublicError;
use rampart_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("password rejected by policy: {0}")]
    WeakPassword(String),
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("invalid or expired token: {0}")]
    InvalidToken(&'static str),
    #[error("invalid code")]
    InvalidCode,
    #[error("invalid challenge session")]
    InvalidSession,
    #[error("wrong current password")]
    WrongPassword,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("self sign-up disabled")]
    SignupDisabled,
    #[error("email domain not allowed")]
    EmailDomainNotAllowed,
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    Conflict,
    #[error("last administrator")]
    LastAdmin,
    #[error("action on own account")]
    SelfAction,
    #[error("MFA already enabled")]
    MfaAlreadyEnabled,
    #[error("MFA not enrolled")]
    MfaNotEnrolled,
    #[error("bootstrap unavailable")]
    BootstrapUnavailable,
    #[error("too many attempts; retry after {retry_after_secs}s")]
    Locked { retry_after_secs: u64 },
    #[error("external issuer unavailable: {0}")]
    Upstream(String),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// A signing key could not be made or loaded.
    #[error("signing key: {0}")]
    Signing(#[from] rampart_crypto::signing::SigningError),
    /// A stored signing key did not open under the master keys loaded.
    #[error("signing key {kid}: {source}")]
    SealedKey { kid: String, source: rampart_crypto::EnvelopeError },
    /// A token could not be signed.
    #[error("signing a token: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
    #[error("internal: {0}")]
    Internal(String),
}

impl PublicError for IdentityError {
    /// Exhaustive on purpose: a new variant must choose its code.
    fn code(&self) -> ErrorCode {
        match self {
            IdentityError::Invalid(_) => ErrorCode::InvalidRequest,
            IdentityError::WeakPassword(_) => ErrorCode::WeakPassword,
            IdentityError::InvalidCredentials => ErrorCode::InvalidCredentials,
            IdentityError::InvalidToken(_) => ErrorCode::InvalidToken,
            IdentityError::InvalidCode => ErrorCode::InvalidCode,
            IdentityError::InvalidSession => ErrorCode::InvalidSession,
            IdentityError::WrongPassword => ErrorCode::WrongPassword,
            IdentityError::Forbidden(_) => ErrorCode::Forbidden,
            IdentityError::SignupDisabled => ErrorCode::SignupDisabled,
            IdentityError::EmailDomainNotAllowed => ErrorCode::EmailDomainNotAllowed,
            IdentityError::NotFound => ErrorCode::NotFound,
            IdentityError::Conflict => ErrorCode::Conflict,
            IdentityError::LastAdmin => ErrorCode::LastAdmin,
            IdentityError::SelfAction => ErrorCode::SelfAction,
            IdentityError::MfaAlreadyEnabled => ErrorCode::MfaAlreadyEnabled,
            IdentityError::MfaNotEnrolled => ErrorCode::MfaNotEnrolled,
            IdentityError::BootstrapUnavailable => ErrorCode::BootstrapUnavailable,
            IdentityError::Locked { .. } => ErrorCode::TooManyAttempts,
            IdentityError::Upstream(_) => ErrorCode::InvalidToken,
            IdentityError::Storage(StorageError::Conflict) => ErrorCode::Conflict,
            IdentityError::Storage(StorageError::LastAdmin) => ErrorCode::LastAdmin,
            IdentityError::Storage(StorageError::InvalidCursor) => ErrorCode::InvalidRequest,
            IdentityError::Storage(_)
            | IdentityError::Signing(_)
            | IdentityError::SealedKey { .. }
            | IdentityError::Jwt(_)
            | IdentityError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// A message safe to show the client: specific for 4xx input errors, generic otherwise.
    fn public_message(&self) -> String {
        match self {
            IdentityError::Invalid(m) | IdentityError::WeakPassword(m) => m.clone(),
            IdentityError::Storage(StorageError::InvalidCursor) => "invalid cursor".into(),
            _ => self.code().default_message().to_owned(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            IdentityError::Locked { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }
}

pub type Result<T, E = IdentityError> = std::result::Result<T, E>;
