//! Retention of meetings (`retention.meetings_days`, `transcripts_days`, `recordings_days`):
//! recordings' files, transcripts' segments and whole meetings older than their periods are
//! removed in bounded batches (with what meeting search made of them). Live meetings and uploads
//! being transcribed are never touched.

use crate::error::Result;
use crate::service::MeetingService;
use rampart_core::Timestamp;
use rampart_storage::repo::meetings::Aged;
use std::time::Duration;

/// How long each kind is kept (`None`: forever).
#[derive(Clone, Copy, Debug, Default)]
pub struct Keep {
    pub meetings: Option<Duration>,
    pub transcripts: Option<Duration>,
    pub recordings: Option<Duration>,
}

/// What one sweep removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub recordings: u64,
    pub transcripts: u64,
    pub meetings: u64,
}

impl MeetingService {
    /// One sweep as of `now`, `batch` meetings per step, `pause` between steps.
    pub async fn sweep(&self, now: Timestamp, keep: Keep, batch: u32, pause: Duration) -> Result<Swept> {
        let mut out = Swept::default();
        if let Some(k) = keep.recordings {
            out.recordings = self.sweep_kind(Aged::WithRecording, now.minus(k), batch, pause, now).await?;
        }
        if let Some(k) = keep.transcripts {
            out.transcripts = self.sweep_kind(Aged::WithTranscript, now.minus(k), batch, pause, now).await?;
        }
        if let Some(k) = keep.meetings {
            out.meetings = self.sweep_kind(Aged::Any, now.minus(k), batch, pause, now).await?;
        }
        Ok(out)
    }

    async fn sweep_kind(
        &self,
        which: Aged,
        cutoff: Timestamp,
        batch: u32,
        pause: Duration,
        now: Timestamp,
    ) -> Result<u64> {
        let mut n = 0;
        loop {
            let keys = self.db().meetings_before(which, cutoff, batch).await?;
            for key in &keys {
                match which {
                    Aged::WithRecording => {
                        self.store().delete(*key).await?;
                        self.db().mark_recording_deleted(*key, now).await?;
                    }
                    Aged::WithTranscript => {
                        // The summary goes with the transcript, and so do both's passages.
                        self.db().delete_transcript(*key, now).await?;
                        self.unindex(*key, None).await?;
                    }
                    Aged::Any => {
                        self.store().delete(*key).await?;
                        self.db().delete_meeting(None, *key).await?;
                        self.unindex(*key, None).await?;
                    }
                }
            }
            n += keys.len() as u64;
            if keys.len() < batch as usize {
                return Ok(n);
            }
            tokio::time::sleep(pause).await;
        }
    }
}
