//! The `[retention]` section (the sweeper is `crate::retention`).

use rampart_core::config::{ConfigError, Dur};
use serde::Deserialize;
use std::time::Duration;

/// How long data is kept (DESIGN.md §3.3). `0` keeps forever. The sweeper deletes expired
/// rows in batches, one replica at a time.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Chat sessions not active for this many days, with their messages and feedback.
    pub sessions_days: u32,
    /// Feedback older than this (the conversation stays).
    pub feedback_days: u32,
    /// Meetings, transcripts and recordings (the seeds' `MeetingRecordExpirationInDays`);
    /// applied by the meeting assistant, which stores none yet.
    pub meetings_days: u32,
    pub transcripts_days: u32,
    pub recordings_days: u32,
    /// Short-lived results: finished background jobs.
    pub event_cache_hours: u32,
    /// Audit records (trimmed from the front of the hash chain).
    pub audit_days: u32,
    /// How often the sweeper runs.
    pub interval: Dur,
    /// Rows deleted per statement; the sweeper pauses between batches.
    pub batch: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            sessions_days: 0,
            feedback_days: 0,
            meetings_days: 90,
            transcripts_days: 90,
            recordings_days: 90,
            event_cache_hours: 24,
            audit_days: 365,
            interval: Dur::secs(3600),
            batch: 500,
        }
    }
}

impl RetentionConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.batch == 0 || self.batch > 100_000 {
            return Err(ConfigError::new("batch", "must be between 1 and 100000"));
        }
        if self.interval.0 < Duration::from_secs(1) {
            return Err(ConfigError::new("interval", "must be at least 1s"));
        }
        Ok(())
    }
}
