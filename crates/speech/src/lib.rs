//! `rampart-speech`: speech-to-text engines behind the `core::speech` port — the pass-through
//! engine (no recognition: it measures the meeting pipeline alone, and gives tests a
//! deterministic recogniser). The `[speech]` section chooses one per deployment.
//!
//! A shared service (second floor): depends on `core` only; `server` wires the chosen engine
//! into `meetings`.

pub mod config;
pub mod passthrough;

pub use config::{SpeechConfig, SpeechEngine};
