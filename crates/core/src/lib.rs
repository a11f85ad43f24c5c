//! `rampart-core`: the domain vocabulary every other crate shares.
//!
//! Owns typed IDs, the stable error-code table, the ports feature crates reach each other
//! through (`embed`, `llm`, `speech`, `meetings`), the `Principal` that every credential
//! resolves to and the one reader of the credentials it is proved by, `Secret<T>`, the `Clock`
//! port, pagination types, and what configuration sections are made of (`config`: durations,
//! sizes, the section error). It does no I/O and depends on no other Rampart crate; everything
//! else may depend on it.

pub mod assist;
pub mod audit;
pub mod clock;
pub mod config;
pub mod credential;
pub mod embed;
pub mod error;
pub mod ids;
pub mod llm;
pub mod mail;
pub mod meetings;
pub mod page;
pub mod principal;
pub mod secret;
pub mod speech;
pub mod tools;

pub use audit::AuditOutcome;
pub use clock::{Clock, SystemClock, Timestamp};
pub use credential::{AmbiguousCredentials, Credential, CredentialHeaders};
pub use error::ErrorCode;
pub use ids::*;
pub use page::{Page, PageRequest};
pub use principal::{AuthMethod, Principal, Scope};
pub use secret::Secret;
