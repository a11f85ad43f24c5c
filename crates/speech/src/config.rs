//! The `[speech]` section: which speech-to-text engine transcribes meetings.

use rampart_core::config::{ConfigError, Dur};
use serde::Deserialize;
use std::time::Duration;

/// The engines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpeechEngine {
    /// No recognition: one fixed hypothesis per `passthrough_interval` of audio (benchmarks of
    /// the pipeline, tests).
    #[default]
    Passthrough,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpeechConfig {
    pub engine: SpeechEngine,
    /// `passthrough`: audio per emitted utterance.
    pub passthrough_interval: Dur,
}

impl Default for SpeechConfig {
    fn default() -> Self {
        Self { engine: SpeechEngine::default(), passthrough_interval: Dur::secs(2) }
    }
}

impl SpeechConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.passthrough_interval.0 < Duration::from_millis(100) {
            return Err(ConfigError::new("passthrough_interval", "must be at least 100ms"));
        }
        Ok(())
    }
}
