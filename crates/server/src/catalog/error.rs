//! What the catalog's operations fail with.

use super::*;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the body must be a JSON object")]
    NotAnObject,
    #[error("api_key_file is for the config file; send api_key")]
    KeyFile,
    #[error("the id cannot be changed")]
    IdChanged,
    /// The body does not read as an entry: a key unknown or missing, a value of the wrong type
    /// (serde's message names the key).
    #[error("{0}")]
    Unreadable(#[source] serde_json::Error),
    /// The entry breaks a rule of the config file (the message starts with the key).
    #[error("{0}")]
    Refused(#[from] ConfigError),
    #[error("not found")]
    NotFound,
    #[error("The id is already used.")]
    IdTaken,
    #[error("The id is used by the config file.")]
    IdInConfigFile,
    #[error("This entry comes from the config file; change it there.")]
    ReadOnly,
    #[error("Assistants use this model: {}.", .0.join(", "))]
    ModelInUse(Vec<String>),
    #[error("Knowledge bases embed with this model; give them another one first.")]
    EmbeddingModelInUse,
    /// `If-Match` named another version than the stored one.
    #[error("changed since it was read")]
    Changed,
    #[error("storage: {0}")]
    Storage(#[source] StorageError),
    #[error("stored {kind} {id} cannot be read: {source}")]
    Corrupt { kind: &'static str, id: String, source: serde_json::Error },
    #[error("the secrets of stored {kind} {id} cannot be opened: {source}")]
    Sealed { kind: &'static str, id: String, source: EnvelopeError },
}

impl From<StorageError> for CatalogError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict => CatalogError::IdTaken,
            StorageError::UnsupportedUrl
            | StorageError::LastAdmin
            | StorageError::Corrupt(_)
            | StorageError::InvalidCursor
            | StorageError::MigrationChanged { .. }
            | StorageError::SchemaTooNew(_)
            | StorageError::Database(_) => CatalogError::Storage(e),
        }
    }
}
