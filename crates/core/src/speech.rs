//! The speech-to-text port: `meetings` sends one channel's audio to a recogniser and reads back
//! hypotheses — partial ones while someone speaks, then the final one of each utterance — timed
//! from the start of that channel's audio. Engines implement it in `speech` (the embedded
//! Whisper, an OpenAI-compatible transcription server, Amazon Transcribe streaming, and a
//! pass-through engine for measuring the pipeline alone).
//!
//! Audio is mono 16-bit PCM at the rate the engine asks for ([`SpeechRecognizer::sample_rate`]);
//! the caller resamples. One stream is one channel of one meeting; a recogniser serves many
//! streams at once.

use crate::embed::BoxFuture;
use std::pin::Pin;

/// What a stream is for (engines use it for logs and limits; never for content).
#[derive(Clone, Debug, Default)]
pub struct StreamSpec {
    /// A label for logs, e.g. `meeting-channel-0` (no user data).
    pub label: String,
    /// BCP-47 language code, when the deployment sets one (`en-US`).
    pub language: Option<String>,
}

/// One hypothesis about an utterance.
#[derive(Clone, Debug, PartialEq)]
pub struct Hypothesis {
    /// The utterance within the stream, counted from 0: a partial and the final that replaces
    /// it carry the same number; the next utterance has the next one.
    pub utterance: u64,
    pub text: String,
    /// Seconds from the start of the stream's audio.
    pub start: f64,
    pub end: f64,
    /// The utterance's last word: no later hypothesis replaces it.
    pub is_final: bool,
}

/// A failure of a recogniser. `detail` is for the log only (never content).
#[derive(Clone, Debug, thiserror::Error)]
#[error("speech recognition failed: {detail}")]
pub struct SpeechError {
    /// A new stream may succeed (a remote engine restarted, a timeout).
    pub retryable: bool,
    pub detail: String,
}

impl SpeechError {
    pub fn new(retryable: bool, detail: impl Into<String>) -> Self {
        Self { retryable, detail: detail.into() }
    }
}

/// Hypotheses as the recogniser produces them; the stream ends after the last final once the
/// audio was finished, or with an error.
pub type HypothesisStream = Pin<Box<dyn futures_core::Stream<Item = Result<Hypothesis, SpeechError>> + Send>>;

/// The audio side of an open stream.
pub trait AudioSink: Send {
    /// Hands audio to the recogniser. Returns when it has room (backpressure); an error means
    /// the stream is broken and its hypotheses stream ends with the reason.
    fn send(&mut self, pcm: Vec<i16>) -> BoxFuture<'_, Result<(), SpeechError>>;
    /// No more audio: the recogniser finishes what it holds and ends the hypotheses stream.
    fn finish(&mut self) -> BoxFuture<'_, Result<(), SpeechError>>;
}

/// An open recognition stream: audio in, hypotheses out.
pub struct SpeechStream {
    pub audio: Box<dyn AudioSink>,
    pub hypotheses: HypothesisStream,
}

impl std::fmt::Debug for SpeechStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpeechStream")
    }
}

/// A configured speech-to-text engine.
pub trait SpeechRecognizer: Send + Sync + 'static {
    /// The engine's name for logs and metrics (`whisper`, `openai`, `transcribe`, `passthrough`).
    fn engine(&self) -> &str;
    /// The sample rate of the audio it takes (mono, 16-bit).
    fn sample_rate(&self) -> u32;
    /// Opens a stream for one channel.
    fn open(&self, spec: StreamSpec) -> BoxFuture<'_, Result<SpeechStream, SpeechError>>;
}
