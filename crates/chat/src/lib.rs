//! `rampart-chat`: chat sessions and their history, feedback (GAIA's Sessions and Feedback
//! APIs, seed 002). Later: assistants, service interruptions, async jobs.
//!
//! Message content, session titles and feedback text are sealed with `crypto` before storage,
//! the record's id bound as associated data. `config`: the `[chat]` section and `[[assistants]]`
//! entries. Depends on `core`, `crypto` and `storage`.

pub mod assistants;
pub mod config;
pub mod error;
pub mod interruptions;
pub mod jobs;
pub mod rag;
pub mod service;

pub use config::{AssistantConfig, AssistantType};
pub use error::ChatError;
pub use service::{ChatConfig, ChatService};
