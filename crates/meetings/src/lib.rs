//! `rampart-meetings`: live meetings (LMA's and LCA's calls) — LMA's audio socket protocol
//! (`protocol`), audio decoding and resampling (`audio`), the live pipeline from `START` to
//! `END` through the `core::speech` port (`live`), transcript segments with LMA's fields and
//! their export formats (`segment`), sentiment (`sentiment`), sealed recordings in chunks
//! (`recording`), call events for whoever follows a meeting (`events`, a port the server
//! delivers), the service that reads, shares and deletes meetings with the caller's access
//! checked in the SQL (`service`), summaries written when a meeting ends (`summary`) from
//! templates that administrators edit, as they do the assistant's shortcut buttons
//! (`templates`), transcripts stored from elsewhere (`import`), past meetings as knowledge
//! (`search`: passages of finished meetings in `rampart-index`'s indexes, searched with the
//! meeting's own access; also the `core::meetings::PastMeetings` port), and the tools an agent
//! reads meetings with (`tools`).
//!
//! Depends on `core`, `crypto`, `index` and `storage`; knows nothing of HTTP nor of the other feature
//! crates (the meeting assistant will reach `chat` through a port; summaries reach a model
//! through `summary::SummaryModels` and send their webhook through `summary::EndHook`).

pub mod assist;
pub mod audio;
pub mod config;
pub mod error;
pub mod events;
pub mod import;
pub mod live;
pub mod protocol;
pub mod recording;
pub mod retention;
pub mod search;
pub mod segment;
pub mod sentiment;
pub mod service;
pub mod summary;
pub mod templates;
pub mod tools;
pub mod upload;
pub mod views;

pub use config::MeetingsConfig;
pub use error::MeetingError;
pub use service::MeetingService;
