//! Transcripts recorded elsewhere, stored as ended meetings of the caller's (uploaded meetings
//! without a recording), indexed for search at once: for what is made of transcripts
//! (summaries, the past-meetings index) to be measured and tested on realistic text
//! (bench/meet-search.sh seeds 1,000), and for bringing meetings over from another system later.
//! No route yet. The summary is not asked for (the caller decides: `summarize_now`, or a
//! regeneration through the API).

use crate::error::{MeetingError, Result};
use crate::protocol::{MAX_NAME_CHARS, Start};
use crate::segment::Segment;
use crate::service::MeetingService;
use crate::views::{MeetingSource, MeetingStatus, MeetingView};
use rampart_core::Principal;

impl MeetingService {
    /// Stores `segments` (their final ones; times from the meeting's start) as an ended meeting
    /// titled `title`, owned by the caller and started now; its readers are told as of any
    /// meeting that ends, and it is searchable before this returns.
    pub async fn import(&self, p: &Principal, title: &str, segments: &[Segment]) -> Result<MeetingView> {
        let title: String = title.trim().chars().take(MAX_NAME_CHARS).collect();
        if title.is_empty() {
            return Err(MeetingError::Invalid("a title is needed".into()));
        }
        let first = segments.first().map_or_else(|| "Speaker".to_owned(), |s| s.speaker.clone());
        let call_id = format!("import-{}", uuid::Uuid::now_v7());
        let start = Start {
            call_id: Some(call_id.clone()),
            agent_id: "Me".into(),
            from_number: first.clone(),
            to_number: title,
            sample_rate: 16_000,
            channels: 2,
            active_speaker: first,
            should_record: Some(false),
        };
        let (mut m, mut d) = self.create_live(p, &call_id, &start, MeetingSource::Upload).await?;
        let mut end = 0.0f64;
        for s in segments.iter().filter(|s| !s.is_partial) {
            self.db().upsert_segment(&self.seal_segment(m.id, s)?).await?;
            if !d.participants.speakers.contains(&s.speaker) && d.participants.speakers.len() < 200 {
                d.participants.speakers.push(s.speaker.clone());
            }
            end = end.max(s.end_time);
        }
        #[expect(clippy::cast_possible_truncation, reason = "milliseconds of a meeting fit an i64")]
        let duration_ms = (end * 1000.0).round() as i64;
        m.duration_ms = duration_ms;
        let view = self.end_meeting(&mut m, &mut d, MeetingStatus::Ended).await?;
        self.index_meeting(m.id).await?;
        Ok(view)
    }
}
