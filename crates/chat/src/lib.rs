//! `rampart-chat`: chat sessions and their history, feedback (GAIA's Sessions and Feedback
//! APIs, seed 002), assistants (`model`, `custom`, `rag`, `extractive`) behind the
//! `core::llm::ChatModel` port, the chat turn every caller runs (`turn`: realtime channels, the
//! OpenAI facade, jobs, the meeting assistant) with its agent loop for models with tools
//! (`agent`), what a caller grounds a turn on (`grounding`: a meeting's transcript, past
//! meetings) and the registry of running generations (`runs`), service interruptions and async
//! jobs.
//!
//! Message content, session titles, feedback text and job results are sealed with `crypto`
//! before storage, the record's id bound as associated data. `config`: the `[chat]` section and
//! `[[assistants]]` entries. `shelf`: rename, pin, archive and search conversations; `export`:
//! a conversation as Markdown or JSON; `prompts`: each user's sealed prompt library. Depends on `core`, `crypto` and `storage`; knows no transport.

pub mod agent;
pub mod assistants;
pub mod branches;
pub mod config;
pub mod error;
pub mod export;
pub mod grounding;
pub mod interruptions;
pub mod jobs;
pub mod prompts;
pub mod rag;
pub mod runs;
pub mod service;
pub mod shelf;
pub mod turn;

pub use config::{AssistantConfig, AssistantType};
pub use error::ChatError;
pub use service::{ChatConfig, ChatService};
