//! `rampart-speech`: the `[speech]` section (which speech-to-text engine transcribes meetings,
//! and how), what engines that transcribe whole utterances share — the voice-activity detector
//! and utterance segmenter (`vad`) and the stream driver over them (`segmented`: partials, finals
//! in order, backpressure) — and the engines without heavy dependencies: the remote
//! OpenAI-compatible engine (`openai`), and the pass-through engine (no recognition: it measures
//! the meeting pipeline alone, and gives tests a deterministic recogniser). The embedded Whisper
//! engine is `rampart-whisper` (its C++ build stays out of this crate; it uses `segmented` too),
//! Amazon Transcribe streaming is `rampart-transcribe` (the AWS SDK stays out of it too); their
//! keys are checked here.
//!
//! A shared service (second floor): depends on `core`, and on `providers` for the
//! transcription server's HTTP client; `server` wires the chosen engine into `meetings`.

pub mod config;
pub mod openai;
pub mod passthrough;
pub mod segmented;
pub mod transcribe;
pub mod unavailable;
pub mod vad;

pub use config::{SpeechConfig, SpeechEngine};
