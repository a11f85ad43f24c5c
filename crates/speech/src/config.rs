//! The `[speech]` section: which speech-to-text engine transcribes meetings.

use rampart_core::Secret;
use rampart_core::config::{ConfigError, Dur};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The engines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpeechEngine {
    /// Whisper `tiny.en` in process (the weights installed by `make whisper-model`).
    #[default]
    Whisper,
    /// No recognition: one fixed hypothesis per `passthrough_interval` of audio (benchmarks of
    /// the pipeline, tests).
    Passthrough,
    /// Amazon Transcribe streaming (`transcribe_*` keys; `server`'s cargo feature `transcribe`).
    Transcribe,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpeechConfig {
    pub engine: SpeechEngine,
    /// `whisper`: the model folder; default `{data_dir}/models/whisper-tiny.en`.
    pub model_dir: Option<PathBuf>,
    /// `whisper`: decodes at once for all meetings (each a copy of the weights, 45-190 MB).
    pub replicas: usize,
    /// `whisper`: threads per decode.
    pub threads: usize,
    /// `whisper`: a partial hypothesis of what is being said this often ("0s": finals only).
    pub partial_interval: Dur,
    /// `whisper`: the pause that ends an utterance (and so the delay to its final text).
    pub pause: Dur,
    /// `whisper`: the longest utterance; longer speech is cut.
    pub max_utterance: Dur,
    /// `passthrough`: audio per emitted utterance.
    pub passthrough_interval: Dur,
    /// `transcribe`: the AWS region (required), e.g. `us-east-1`.
    pub transcribe_region: Option<String>,
    /// `transcribe`: the language of the audio, a code Transcribe streams (`en-US`, `de-DE`, …).
    pub transcribe_language: String,
    /// `transcribe`: instead of the regional endpoint, e.g. a VPC endpoint (https; http only
    /// on loopback, for tests).
    pub transcribe_endpoint: Option<String>,
    /// `transcribe`: the name of a custom vocabulary in that account and region.
    pub transcribe_vocabulary: Option<String>,
    /// `transcribe`: static AWS credentials (required; the default chain is not built in).
    pub transcribe_access_key_id: Option<String>,
    pub transcribe_secret_access_key: Option<Secret<String>>,
    /// `transcribe`: for temporary credentials.
    pub transcribe_session_token: Option<Secret<String>>,
}

impl Default for SpeechConfig {
    fn default() -> Self {
        Self {
            engine: SpeechEngine::default(),
            model_dir: None,
            replicas: 1,
            threads: 1,
            partial_interval: Dur::secs(1),
            pause: Dur(Duration::from_millis(500)),
            max_utterance: Dur::secs(25),
            passthrough_interval: Dur::secs(2),
            transcribe_region: None,
            transcribe_language: "en-US".into(),
            transcribe_endpoint: None,
            transcribe_vocabulary: None,
            transcribe_access_key_id: None,
            transcribe_secret_access_key: None,
            transcribe_session_token: None,
        }
    }
}

impl SpeechConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.passthrough_interval.0 < Duration::from_millis(100) {
            return Err(ConfigError::new("passthrough_interval", "must be at least 100ms"));
        }
        if !(1..=16).contains(&self.replicas) || !(1..=16).contains(&self.threads) {
            return Err(ConfigError::new("replicas", "replicas and threads must be 1-16"));
        }
        if !self.partial_interval.0.is_zero() && self.partial_interval.0 < Duration::from_millis(250) {
            return Err(ConfigError::new("partial_interval", "must be 0s (off) or at least 250ms"));
        }
        if !(Duration::from_millis(100)..=Duration::from_secs(5)).contains(&self.pause.0) {
            return Err(ConfigError::new("pause", "must be between 100ms and 5s"));
        }
        if !(Duration::from_secs(2)..=Duration::from_secs(30)).contains(&self.max_utterance.0) {
            return Err(ConfigError::new("max_utterance", "must be between 2s and 30s (Whisper's window)"));
        }
        crate::transcribe::validate(self)
    }

    /// The model folder.
    pub fn model_dir(&self, data_dir: &Path) -> PathBuf {
        self.model_dir.clone().unwrap_or_else(|| data_dir.join("models").join("whisper-tiny.en"))
    }
}
