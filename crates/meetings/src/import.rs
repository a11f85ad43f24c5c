//! A finished meeting from a transcript made elsewhere: stored as an uploaded meeting without a
//! recording, ended and indexed for search at once. For benchmarks and tests that need many
//! meetings with real words (bench/meet-search.sh seeds 1,000), and for bringing transcripts
//! over from another system; not on the HTTP surface.

use crate::error::Result;
use crate::protocol::Start;
use crate::segment::Segment;
use crate::service::MeetingService;
use crate::views::{MeetingSource, MeetingStatus, MeetingView};
use rampart_core::Principal;

impl MeetingService {
    /// Stores `segments` (final ones; times from the meeting's start) as the caller's ended
    /// meeting named `title`, started now, and makes it searchable before returning.
    pub async fn import_transcript(&self, p: &Principal, title: &str, segments: &[Segment]) -> Result<MeetingView> {
        let start = Start {
            call_id: Some(format!("import-{}", uuid::Uuid::now_v7())),
            agent_id: "Me".into(),
            from_number: "Imported".into(),
            to_number: title.chars().take(crate::protocol::MAX_NAME_CHARS).collect(),
            sample_rate: 16_000,
            channels: 2,
            active_speaker: segments.first().map(|s| s.speaker.clone()).unwrap_or_default(),
            should_record: Some(false),
        };
        let call_id = start.call_id.clone().unwrap_or_default();
        let (mut record, mut details) = self.create_live(p, &call_id, &start, MeetingSource::Upload).await?;
        for s in segments {
            self.db().upsert_segment(&self.seal_segment(record.id, s)?).await?;
        }
        let end = segments.iter().map(|s| s.end_time).fold(0.0, f64::max);
        #[expect(clippy::cast_possible_truncation, reason = "milliseconds of a meeting fit an i64")]
        let duration_ms = (end * 1000.0).round() as i64;
        record.duration_ms = duration_ms;
        let view = self.end_meeting(&mut record, &mut details, MeetingStatus::Ended).await?;
        self.index_meeting(record.id).await?;
        Ok(view)
    }
}
