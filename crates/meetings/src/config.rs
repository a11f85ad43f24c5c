//! The `[meetings]` section: limits of live meetings, recordings, uploads; where meeting search's
//! index lives.

use rampart_core::config::{ByteSize, ConfigError, Dur};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
        Ok(())
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
