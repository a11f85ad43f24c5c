//! `rampart-speech`: the `[speech]` section (which speech-to-text engine transcribes meetings,
//! and how) and the engines without heavy dependencies: the pass-through engine (no
//! recognition: it measures the meeting pipeline alone, and gives tests a deterministic
//! recogniser). The embedded Whisper engine is `rampart-whisper` (its C++ build stays out of
//! this crate), Amazon Transcribe streaming is `rampart-transcribe` (the AWS SDK stays out of
//! it too); their keys are checked here.
//!
//! A shared service (second floor): depends on `core` only; `server` wires the chosen engine
//! into `meetings`.

pub mod config;
pub mod passthrough;
pub mod transcribe;
pub mod unavailable;

pub use config::{SpeechConfig, SpeechEngine};
