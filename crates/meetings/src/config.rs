//! The `[meetings]` section: limits of live meetings, recordings, uploads; summaries; the
//! meeting-end webhook; where meeting search's index lives.

use rampart_core::Secret;
use rampart_core::config::{ByteSize, ConfigError, Dur};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// LMA's wake phrase: "OK Assistant", "Okay, assistant!" …
pub const DEFAULT_WAKE_PHRASE: &str = "(OK|Okay)[.,! ]*[Aa]ssistant";

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeetingsConfig {
    /// Keep a recording of meetings unless the client says otherwise (`shouldRecordCall`).
    pub record: bool,
    /// Largest binary frame accepted on the audio socket (bytes); larger closes it (1009).
    pub max_frame_bytes: ByteSize,
    /// Longest live meeting; at this length the socket is closed (1008) and the meeting ends.
    pub max_duration: Dur,
    /// Live meetings one user may have at once (per replica).
    pub max_live_per_user: usize,
    /// Live meetings on this replica at once.
    pub max_live: usize,
    /// How long a web app's socket ticket is good for (single use).
    pub ticket_ttl: Dur,
    /// Where recordings are kept; default `{data_dir}/recordings`.
    pub recordings_dir: Option<PathBuf>,
    /// Seconds of audio per sealed recording chunk (a crash loses at most the last one).
    pub recording_chunk_secs: u32,
    /// Largest audio file accepted by `POST /v1/meetings/upload`.
    pub max_upload_bytes: ByteSize,
    /// Longest time to wait for the recogniser's last words after `END`.
    pub final_timeout: Dur,
    /// A regular expression: a final segment that matches it asks the meeting assistant the
    /// rest of the segment (or, when nothing follows, the next final segment of that channel);
    /// the answer is written into the transcript (channel `AGENT_ASSISTANT`). Empty: off.
    pub wake_phrase: String,
    /// The model summaries are written with: a `[[models]]` id of kind `chat`. Unset: the
    /// default assistant's model (none, or a kind without a model: extractive summaries).
    pub summary_model: Option<String>,
    /// The part of the model's context window a summary call may use (tokens, prompt and
    /// answer together); longer transcripts are summarized part by part first (map-reduce).
    pub summary_context_tokens: u32,
    /// The longest answer of one summary call (tokens).
    pub summary_max_tokens: u32,
    /// Model calls of one summary made at once.
    pub summary_concurrency: usize,
    /// Where the meeting-end webhook is posted (http or https; reached through the SSRF-safe
    /// client, so internal addresses need `edge.outbound_allowed_ranges`). Unset: none is sent.
    pub webhook_url: Option<String>,
    /// The HMAC-SHA256 key the webhook is signed with (at least 32 characters); prefer
    /// `webhook_secret_file`.
    pub webhook_secret: Option<Secret<String>>,
    pub webhook_secret_file: Option<PathBuf>,
    /// Time allowed for one delivery attempt (three attempts are made).
    pub webhook_timeout: Dur,
    /// Where meeting search's lexical index lives; default `{data_dir}/index/meetings`.
    pub index_dir: Option<PathBuf>,
}

impl Default for MeetingsConfig {
    fn default() -> Self {
        Self {
            record: true,
            max_frame_bytes: ByteSize(256 * 1024),
            max_duration: Dur::secs(4 * 3600),
            max_live_per_user: 4,
            max_live: 500,
            ticket_ttl: Dur::secs(60),
            recordings_dir: None,
            recording_chunk_secs: 5,
            max_upload_bytes: ByteSize(500 * 1024 * 1024),
            final_timeout: Dur::secs(30),
            wake_phrase: DEFAULT_WAKE_PHRASE.to_owned(),
            summary_model: None,
            summary_context_tokens: 8192,
            summary_max_tokens: 1024,
            summary_concurrency: 4,
            webhook_url: None,
            webhook_secret: None,
            webhook_secret_file: None,
            webhook_timeout: Dur::secs(10),
            index_dir: None,
        }
    }
}

impl MeetingsConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1024..=16 * 1024 * 1024).contains(&self.max_frame_bytes.0) {
            return Err(ConfigError::new("max_frame_bytes", "must be between 1KiB and 16MiB"));
        }
        if self.max_duration.0 < Duration::from_secs(60) {
            return Err(ConfigError::new("max_duration", "must be at least 1m"));
        }
        if self.max_live_per_user == 0 || self.max_live == 0 {
            return Err(ConfigError::new("max_live", "max_live and max_live_per_user must be at least 1"));
        }
        if !(Duration::from_secs(5)..=Duration::from_secs(600)).contains(&self.ticket_ttl.0) {
            return Err(ConfigError::new("ticket_ttl", "must be between 5s and 10m"));
        }
        if !(1..=60).contains(&self.recording_chunk_secs) {
            return Err(ConfigError::new("recording_chunk_secs", "must be between 1 and 60"));
        }
        if self.max_upload_bytes.0 < 1024 * 1024 {
            return Err(ConfigError::new("max_upload_bytes", "must be at least 1MiB"));
        }
        if self.final_timeout.0 < Duration::from_secs(1) {
            return Err(ConfigError::new("final_timeout", "must be at least 1s"));
        }
        self.wake_phrase()?;
        self.validate_summaries()?;
        self.validate_webhook()
    }

    /// The wake phrase, compiled (`None`: off). Case as written; size-limited.
    pub fn wake_phrase(&self) -> Result<Option<regex::Regex>, ConfigError> {
        if self.wake_phrase.trim().is_empty() {
            return Ok(None);
        }
        if self.wake_phrase.len() > 200 {
            return Err(ConfigError::new("wake_phrase", "must be at most 200 characters"));
        }
        regex::RegexBuilder::new(&self.wake_phrase)
            .size_limit(1 << 16)
            .build()
            .map(Some)
            .map_err(|_| ConfigError::new("wake_phrase", "is not a valid regular expression"))
    }

    fn validate_summaries(&self) -> Result<(), ConfigError> {
        if !(64..=32_768).contains(&self.summary_max_tokens) {
            return Err(ConfigError::new("summary_max_tokens", "must be between 64 and 32768"));
        }
        if !(1024..=2_000_000).contains(&self.summary_context_tokens)
            || self.summary_context_tokens < self.summary_max_tokens + 1024
        {
            return Err(ConfigError::new(
                "summary_context_tokens",
                "must be at most 2000000 and leave at least 1024 tokens besides summary_max_tokens",
            ));
        }
        if !(1..=16).contains(&self.summary_concurrency) {
            return Err(ConfigError::new("summary_concurrency", "must be between 1 and 16"));
        }
        Ok(())
    }

    fn validate_webhook(&self) -> Result<(), ConfigError> {
        let secret = self.webhook_secret.is_some() || self.webhook_secret_file.is_some();
        let Some(u) = &self.webhook_url else {
            return match secret {
                true => Err(ConfigError::new("webhook_secret", "is set without webhook_url")),
                false => Ok(()),
            };
        };
        let parsed = url::Url::parse(u).map_err(|_| ConfigError::new("webhook_url", "is not a URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") || !parsed.username().is_empty() || parsed.password().is_some()
        {
            return Err(ConfigError::new("webhook_url", "must be an http(s) URL without credentials"));
        }
        if self.webhook_secret.is_some() == self.webhook_secret_file.is_some() {
            return Err(ConfigError::new(
                "webhook_secret",
                "webhook_url needs one of webhook_secret and webhook_secret_file",
            ));
        }
        if self.webhook_secret.as_ref().is_some_and(|s| s.expose().len() < 32) {
            return Err(ConfigError::new("webhook_secret", "must be at least 32 characters"));
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(120)).contains(&self.webhook_timeout.0) {
            return Err(ConfigError::new("webhook_timeout", "must be between 1s and 2m"));
        }
        Ok(())
    }

    /// The webhook's key, read from `webhook_secret_file` when that is how it is given.
    pub fn webhook_key(&self) -> Result<Option<Secret<String>>, ConfigError> {
        if let Some(s) = &self.webhook_secret {
            return Ok(Some(s.clone()));
        }
        let Some(f) = &self.webhook_secret_file else { return Ok(None) };
        let text = std::fs::read_to_string(f)
            .map_err(|e| ConfigError::new("webhook_secret_file", format!("cannot read {}: {e}", f.display())))?;
        let key = text.trim().to_owned();
        if key.len() < 32 {
            return Err(ConfigError::new("webhook_secret_file", "must hold at least 32 characters"));
        }
        Ok(Some(Secret::new(key)))
    }

    /// Where recordings are kept.
    pub fn recordings_dir(&self, data_dir: &Path) -> PathBuf {
        self.recordings_dir.clone().unwrap_or_else(|| data_dir.join("recordings"))
    }

    /// Where meeting search's lexical index lives.
    pub fn index_dir(&self, data_dir: &Path) -> PathBuf {
        self.index_dir.clone().unwrap_or_else(|| data_dir.join("index").join("meetings"))
    }
}
