//! Live meetings: from `START` to `END` (or the socket's close), audio in, segments out.
//!
//! Per channel, the audio is resampled to the recogniser's rate and sent to its own recognition
//! stream; a collector task turns the stream's hypotheses into segments (speaker, times from the
//! meeting's start, sentiment on finals), stores the finals and publishes every one on the
//! meeting's channel. A stream that fails is reopened at the next audio with its time offset
//! carried, so timestamps stay monotonic. The audio is also written to the sealed recording as it
//! arrives. Nothing grows with the meeting's length but the stored segments.

use crate::assist::{Ask, Wake};
use crate::audio::{ChannelResampler, PcmDecoder, to_i16};
use crate::error::{MeetingError, Result};
use crate::events::{CallEvent, ListEvent};
use crate::protocol::Start;
use crate::recording::RecordingWriter;
use crate::segment::{ChannelRole, Segment};
use crate::service::{Meeting, MeetingService};
use crate::views::{Details, MeetingSource, MeetingStatus, MeetingView, Participants, RecordingStatus};
use futures::StreamExt;
use rampart_core::speech::{AudioSink, Hypothesis, SpeechRecognizer, SpeechStream, StreamSpec};
use rampart_core::{MeetingKey, Principal, UserId};
use rampart_storage::repo::meetings::{MeetingUpdate, NewMeeting};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio_util::sync::CancellationToken;

/// Live meetings on this replica, so that limits hold and a deleted meeting stops.
#[derive(Debug, Default)]
pub(crate) struct LiveRegistry {
    map: Mutex<HashMap<MeetingKey, (UserId, CancellationToken)>>,
}

impl LiveRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<MeetingKey, (UserId, CancellationToken)>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn add(
        &self,
        key: MeetingKey,
        owner: UserId,
        per_user: usize,
        total: usize,
    ) -> Result<CancellationToken> {
        let mut m = self.lock();
        if m.contains_key(&key) {
            return Err(MeetingError::Busy);
        }
        if m.len() >= total {
            return Err(MeetingError::TooMany("this server"));
        }
        if m.values().filter(|(u, _)| *u == owner).count() >= per_user {
            return Err(MeetingError::TooMany("this user"));
        }
        let t = CancellationToken::new();
        m.insert(key, (owner, t.clone()));
        Ok(t)
    }

    pub(crate) fn remove(&self, key: MeetingKey) {
        self.lock().remove(&key);
    }

    /// Ends a live meeting (it was deleted).
    pub(crate) fn stop(&self, key: MeetingKey) {
        if let Some((_, t)) = self.lock().get(&key) {
            t.cancel();
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.lock().len()
    }
}

/// Why audio was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The meeting reached `meetings.max_duration`.
    #[error("the meeting reached its longest duration")]
    TooLong,
    /// The meeting was deleted (or the server is stopping).
    #[error("the meeting was stopped")]
    Stopped,
    #[error(transparent)]
    Failed(#[from] MeetingError),
}

/// Who spoke on the meeting channel from when (seconds of the meeting).
#[derive(Debug)]
struct Speakers {
    agent: String,
    timeline: Vec<(f64, String)>,
}

/// A bound on remembered speaker changes (a client cannot grow memory without limit).
const MAX_SPEAKER_CHANGES: usize = 10_000;
const MAX_SPEAKER_NAMES: usize = 200;

impl Speakers {
    fn at(&self, channel: ChannelRole, t: f64) -> String {
        match channel {
            ChannelRole::Agent => self.agent.clone(),
            ChannelRole::AgentAssistant => "Assistant".into(),
            ChannelRole::Caller => {
                let i = self.timeline.partition_point(|(start, _)| *start <= t);
                self.timeline[i.saturating_sub(1)].1.clone()
            }
        }
    }
}

/// What the collector of one channel needs.
struct Collect {
    svc: MeetingService,
    key: MeetingKey,
    call_id: String,
    ch: usize,
    role: ChannelRole,
    speakers: Arc<Mutex<Speakers>>,
    /// The meeting's owner, who asks with the wake phrase (`None`: an upload, not asked).
    asker: Option<Principal>,
    wake: Arc<Wake>,
}

/// One channel's way to the recogniser.
struct ChannelPipe {
    resampler: ChannelResampler,
    sink: Option<Box<dyn AudioSink>>,
    collector: Option<tokio::task::JoinHandle<()>>,
    /// Recogniser streams opened so far (part of every segment id).
    generation: u32,
    /// Samples sent at the recogniser's rate, over every stream of this channel.
    sent: u64,
}

/// A meeting being streamed.
pub struct LiveMeeting {
    svc: MeetingService,
    record: Meeting,
    details: Details,
    recognizer: Arc<dyn SpeechRecognizer>,
    decoder: PcmDecoder,
    channels: Vec<ChannelPipe>,
    speakers: Arc<Mutex<Speakers>>,
    recording: Option<RecordingWriter>,
    /// Frames (one sample per channel) received in this session, and before it (a reconnect).
    frames: u64,
    offset_secs: f64,
    max_frames: u64,
    stop: CancellationToken,
    asker: Option<Principal>,
    wake: Arc<Wake>,
}

impl std::fmt::Debug for LiveMeeting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LiveMeeting({})", self.record.id)
    }
}

impl MeetingService {
    /// `START`: creates the meeting (or reopens the caller's own, after a reconnect). A call id
    /// of another user's meeting is refused as if it did not exist, without saying whose it is.
    pub async fn start_live(&self, p: &Principal, start: Start) -> Result<LiveMeeting> {
        let recognizer = self.0.recognizer.get().cloned().ok_or_else(|| {
            MeetingError::Speech(rampart_core::speech::SpeechError::new(false, "no speech recogniser is configured"))
        })?;
        let call_id = start.call_id.clone().unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let existing = self.db().meeting_by_call_key_unchecked(&self.call_key(&call_id)).await?;
        let existing = existing.map(|m| self.open(m)).transpose()?;
        let (record, mut details) = match existing {
            Some(m) if m.owner_id != p.user_id => return Err(MeetingError::CallIdTaken),
            Some(m) if m.status == MeetingStatus::Live.as_str() && self.0.live.lock_contains(m.id) => {
                return Err(MeetingError::Busy);
            }
            Some(m) => {
                let d = self.open_details(&m)?;
                (m, d)
            }
            None => self.create_live(p, &call_id, &start, MeetingSource::Live).await?,
        };
        let stop = self.0.live.add(record.id, p.user_id, self.config().max_live_per_user, self.config().max_live)?;
        if !details.participants.speakers.contains(&start.active_speaker) {
            details.participants.speakers.push(start.active_speaker.clone());
        }
        let key = record.id;
        let live = self.open_live(record, details, recognizer, &start, stop, Some(crate::assist::asker(p))).await;
        if live.is_err() {
            self.0.live.remove(key);
        }
        live
    }

    pub(crate) async fn create_live(
        &self,
        p: &Principal,
        call_id: &str,
        s: &Start,
        source: MeetingSource,
    ) -> Result<(Meeting, Details)> {
        let key = MeetingKey::new();
        let details = Details {
            title: s.to_number.clone(),
            participants: Participants {
                caller: s.from_number.clone(),
                agent: s.agent_id.clone(),
                speakers: vec![s.active_speaker.clone()],
            },
            sentiment: None,
            error: None,
        };
        let record_on = s.should_record.unwrap_or(self.config().record);
        let chunk_bytes =
            i64::from(s.sample_rate) * i64::from(s.channels) * 2 * i64::from(self.config().recording_chunk_secs);
        let sealed = self.seal_details(key, &details)?;
        self.db()
            .create_meeting(&NewMeeting {
                id: key,
                call_key: &self.call_key(call_id),
                sealed_call_id: &self.seal_call_id(key, call_id),
                owner_id: p.user_id,
                source: source.as_str(),
                status: if source == MeetingSource::Live { MeetingStatus::Live } else { MeetingStatus::Processing }
                    .as_str(),
                sealed_details: &sealed,
                sample_rate: i64::from(s.sample_rate),
                channels: i64::from(s.channels),
                recording_status: if record_on { RecordingStatus::Recording } else { RecordingStatus::None }.as_str(),
                recording_chunk_bytes: chunk_bytes,
                started_at: self.now(),
            })
            .await
            .map_err(|e| match e {
                // Taken between the look-up and the insert: by someone, maybe not the caller.
                rampart_storage::StorageError::Conflict => MeetingError::CallIdTaken,
                e => e.into(),
            })?;
        let m =
            self.db().meeting_by_call_key_unchecked(&self.call_key(call_id)).await?.ok_or(MeetingError::NotFound)?;
        Ok((self.open(m)?, details))
    }

    pub(crate) async fn open_live(
        &self,
        record: Meeting,
        details: Details,
        recognizer: Arc<dyn SpeechRecognizer>,
        start: &Start,
        stop: CancellationToken,
        asker: Option<Principal>,
    ) -> Result<LiveMeeting> {
        let key = record.id;
        // A reconnect continues with the meeting's own format; a new meeting has the client's.
        let (rate, channels) = (
            u32::try_from(record.sample_rate).unwrap_or(start.sample_rate),
            u16::try_from(record.channels).unwrap_or(start.channels),
        );
        if (rate, channels) != (start.sample_rate, start.channels) {
            return Err(MeetingError::Invalid(
                "a reconnect must send audio in the meeting's sample rate and channels".into(),
            ));
        }
        let speakers = Arc::new(Mutex::new(Speakers {
            agent: details.participants.agent.clone(),
            timeline: vec![(record.duration_ms as f64 / 1000.0, start.active_speaker.clone())],
        }));
        let mut pipes = Vec::new();
        for _ in 0..channels {
            let resampler = ChannelResampler::new(rate, recognizer.sample_rate()).map_err(MeetingError::Audio)?;
            pipes.push(ChannelPipe { resampler, sink: None, collector: None, generation: 0, sent: 0 });
        }
        let recording = (record.recording_status != RecordingStatus::None.as_str()).then(|| {
            let shape = MeetingService::shape(&record);
            self.store().writer(key, shape.chunk_bytes.max(1), &shape)
        });
        let mut live = LiveMeeting {
            svc: self.clone(),
            offset_secs: record.duration_ms as f64 / 1000.0,
            max_frames: self.config().max_duration.0.as_secs() * u64::from(rate),
            decoder: PcmDecoder::new(channels),
            record,
            details,
            recognizer,
            channels: pipes,
            speakers,
            recording,
            frames: 0,
            stop,
            asker,
            wake: Arc::default(),
        };
        live.mark_live().await?;
        Ok(live)
    }
}

impl LiveRegistry {
    fn lock_contains(&self, key: MeetingKey) -> bool {
        self.lock().contains_key(&key)
    }
}

impl LiveMeeting {
    pub fn key(&self) -> MeetingKey {
        self.record.id
    }

    pub fn call_id(&self) -> &str {
        &self.record.call_id
    }

    /// Publishes how far an upload is, of `total_secs` when the file says its length: on the
    /// meeting's channel and the owner's list.
    pub fn publish_progress(&self, total_secs: Option<f64>) {
        let (processed_secs, total_secs) = (round_ms(self.now_secs()), total_secs.map(round_ms));
        let call_id = self.record.call_id.clone();
        let ev = CallEvent::UploadProgress { call_id: call_id.clone(), processed_secs, total_secs };
        self.svc.events().meeting(self.record.id, &ev);
        let ev = ListEvent::Progress { id: call_id, processed_secs, total_secs };
        self.svc.events().list(&[self.record.owner_id], &ev);
    }

    /// Seconds of the meeting so far.
    fn now_secs(&self) -> f64 {
        self.offset_secs + self.frames as f64 / f64::from(self.decoder_rate())
    }

    fn decoder_rate(&self) -> u32 {
        u32::try_from(self.record.sample_rate).unwrap_or(16_000)
    }

    /// Stores the meeting as live again and tells its readers.
    async fn mark_live(&mut self) -> Result<()> {
        let sealed = self.svc.seal_details(self.record.id, &self.details)?;
        let now = self.svc.now();
        self.svc.db().update_meeting_details(self.record.id, &sealed, now).await?;
        if self.record.source == MeetingSource::Live.as_str() {
            self.record.status = MeetingStatus::Live.as_str().to_owned();
        }
        self.record.ended_at = None;
        self.svc.db().update_meeting_state(self.record.id, &self.update(now)).await?;
        self.record.sealed_details = sealed;
        let view = self.svc.view(&self.record)?;
        self.svc.events().meeting(
            self.record.id,
            &CallEvent::Start { call_id: self.record.call_id.clone(), meeting: Box::new(view.clone()) },
        );
        let readers = self.svc.readers(&self.record).await?;
        self.svc.events().list(&readers, &ListEvent::Updated { meeting: Box::new(view) });
        Ok(())
    }

    fn update(&self, now: rampart_core::Timestamp) -> MeetingUpdate<'_> {
        MeetingUpdate {
            status: &self.record.status,
            ended_at: self.record.ended_at,
            duration_ms: self.record.duration_ms,
            recording_status: &self.record.recording_status,
            recording_bytes: self.record.recording_bytes,
            recording_chunks: self.record.recording_chunks,
            now,
        }
    }

    /// A binary frame of audio.
    pub async fn audio(&mut self, bytes: &[u8]) -> std::result::Result<(), LiveError> {
        if self.stop.is_cancelled() {
            return Err(LiveError::Stopped);
        }
        let (raw, per_channel) = self.decoder.push(bytes);
        if let Some(w) = self.recording.as_mut() {
            w.write(&raw).await.map_err(MeetingError::from)?;
        }
        let frames = per_channel.first().map_or(0, Vec::len) as u64;
        for (ch, samples) in per_channel.into_iter().enumerate() {
            let out = self.channels[ch].resampler.process(&samples);
            self.send(ch, out).await?;
        }
        self.frames += frames;
        if self.frames >= self.max_frames {
            return Err(LiveError::TooLong);
        }
        Ok(())
    }

    /// Sends resampled audio to a channel's recogniser, opening (or reopening) its stream.
    async fn send(&mut self, ch: usize, samples: Vec<f32>) -> Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        let pcm = to_i16(&samples);
        let n = pcm.len() as u64;
        for attempt in 0..2 {
            if self.channels[ch].sink.is_none() {
                self.open_stream(ch).await?;
            }
            let Some(sink) = self.channels[ch].sink.as_mut() else { continue };
            match sink.send(pcm.clone()).await {
                Ok(()) => {
                    self.channels[ch].sent += n;
                    return Ok(());
                }
                Err(e) if attempt == 0 => {
                    tracing::warn!(meeting = %self.record.id, channel = ch, error = %e, "recogniser stream failed; reopening it");
                    self.channels[ch].sink = None;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn open_stream(&mut self, ch: usize) -> Result<()> {
        let role = ChannelRole::of_channel(ch);
        let spec = StreamSpec { label: format!("meeting-channel-{ch}"), language: None };
        let SpeechStream { audio, hypotheses } = self.recognizer.open(spec).await?;
        let channels = self.channels.len();
        let pipe = &mut self.channels[ch];
        pipe.generation += 1;
        // The new stream's time 0 is where the channel's audio is now.
        let offset = self.offset_secs + pipe.sent as f64 / f64::from(self.recognizer.sample_rate());
        let c = Collect {
            svc: self.svc.clone(),
            key: self.record.id,
            call_id: self.record.call_id.clone(),
            ch,
            role,
            speakers: self.speakers.clone(),
            asker: self.asker.clone().filter(|_| crate::assist::owners_voice(ch, channels)),
            wake: self.wake.clone(),
        };
        let prefix = format!("{}-{}", if ch == 0 { "ch0" } else { "ch1" }, pipe.generation);
        pipe.collector = Some(tokio::spawn(collect(c, prefix, offset, hypotheses)));
        pipe.sink = Some(audio);
        Ok(())
    }

    /// `SPEAKER_CHANGE`: who speaks on the meeting channel from now on (the microphone's
    /// speaker is the agent: a change naming them is ignored, as LMA does).
    pub fn speaker_change(&mut self, name: String) {
        let t = self.now_secs();
        let mut s = self.speakers.lock().unwrap_or_else(PoisonError::into_inner);
        if name == s.agent {
            return;
        }
        if s.timeline.len() >= MAX_SPEAKER_CHANGES {
            s.timeline.remove(0);
        }
        s.timeline.push((t, name.clone()));
        drop(s);
        let names = &mut self.details.participants.speakers;
        if !names.contains(&name) && names.len() < MAX_SPEAKER_NAMES {
            names.push(name.clone());
        }
        self.svc.events().meeting(
            self.record.id,
            &CallEvent::UpdateAgent { call_id: self.record.call_id.clone(), active_speaker: name },
        );
    }

    /// `END`, or the socket closed: the recognisers say their last words, the recording is
    /// completed, the meeting is stored as ended and its readers are told.
    pub async fn end(self, should_record: Option<bool>) -> Result<MeetingView> {
        self.finish(should_record, None).await
    }

    /// Ends the meeting as failed (an upload that could not be read to its end), keeping what
    /// was transcribed.
    pub async fn fail(self, reason: String) -> Result<MeetingView> {
        self.finish(None, Some(reason)).await
    }

    async fn finish(mut self, should_record: Option<bool>, failure: Option<String>) -> Result<MeetingView> {
        let timeout = self.svc.config().final_timeout.0;
        for ch in 0..self.channels.len() {
            let rest = self.channels[ch].resampler.flush();
            if let Err(e) = self.send(ch, rest).await {
                tracing::warn!(meeting = %self.record.id, error = %e, "the last audio did not reach the recogniser");
            }
            let pipe = &mut self.channels[ch];
            if let Some(mut sink) = pipe.sink.take()
                && let Err(e) = sink.finish().await
            {
                tracing::warn!(meeting = %self.record.id, error = %e, "recogniser did not finish");
            }
            if let Some(c) = pipe.collector.take()
                && tokio::time::timeout(timeout, c).await.is_err()
            {
                tracing::warn!(meeting = %self.record.id, "recogniser's last words did not come in time");
            }
        }
        self.finish_recording(should_record).await?;
        self.record.duration_ms = (self.now_secs() * 1000.0).round() as i64;
        let status = if failure.is_some() { MeetingStatus::Failed } else { MeetingStatus::Ended };
        self.details.error = failure;
        let view = self.svc.end_meeting(&mut self.record, &mut self.details, status).await?;
        self.svc.index_later(self.record.id);
        if status == MeetingStatus::Ended {
            self.svc.summarize_on_end(self.record.id).await;
        }
        Ok(view)
    }

    async fn finish_recording(&mut self, should_record: Option<bool>) -> Result<()> {
        let Some(w) = self.recording.take() else { return Ok(()) };
        let (bytes, chunks) = w.finish().await?;
        if should_record == Some(false) {
            self.svc.store().delete(self.record.id).await?;
            self.record.recording_status = RecordingStatus::None.as_str().to_owned();
            self.record.recording_bytes = 0;
            self.record.recording_chunks = 0;
            return Ok(());
        }
        self.record.recording_status =
            if bytes > 0 { RecordingStatus::Available } else { RecordingStatus::None }.as_str().to_owned();
        self.record.recording_bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        self.record.recording_chunks = i64::try_from(chunks).unwrap_or(i64::MAX);
        Ok(())
    }
}

impl Drop for LiveMeeting {
    fn drop(&mut self) {
        self.svc.0.live.remove(self.record.id);
    }
}

impl MeetingService {
    /// Stores a meeting as ended (with its sentiment) and tells its channel and its readers.
    pub(crate) async fn end_meeting(
        &self,
        record: &mut Meeting,
        details: &mut Details,
        status: MeetingStatus,
    ) -> Result<MeetingView> {
        let rows = self.db().meeting_segments(record.id, true).await?;
        let finals = rows.iter().map(|r| self.open_segment(r)).collect::<Result<Vec<_>>>()?;
        details.sentiment = Some(crate::sentiment::summarize(&finals, record.duration_ms as f64 / 1000.0));
        let now = self.now();
        record.status = status.as_str().to_owned();
        record.ended_at = Some(now);
        let sealed = self.seal_details(record.id, details)?;
        self.db().update_meeting_details(record.id, &sealed, now).await?;
        record.sealed_details = sealed;
        let u = MeetingUpdate {
            status: &record.status,
            ended_at: record.ended_at,
            duration_ms: record.duration_ms,
            recording_status: &record.recording_status,
            recording_bytes: record.recording_bytes,
            recording_chunks: record.recording_chunks,
            now,
        };
        self.db().update_meeting_state(record.id, &u).await?;
        let view = self.view(record)?;
        if let Some(url) = &view.recording.url {
            let ev = CallEvent::AddRecording { call_id: record.call_id.clone(), recording_url: url.clone() };
            self.events().meeting(record.id, &ev);
        }
        self.events()
            .meeting(record.id, &CallEvent::End { call_id: record.call_id.clone(), meeting: Box::new(view.clone()) });
        let readers = self.readers(&record.rec).await?;
        self.events().list(&readers, &ListEvent::Updated { meeting: Box::new(view.clone()) });
        Ok(view)
    }

    /// At start-up: meetings a previous process left live (it stopped without ending them) are
    /// ended with what was stored: the segments and the recording's complete chunks.
    pub async fn finalize_unfinished(&self) -> Result<usize> {
        let mut n = 0;
        for m in self.db().unfinished_meetings().await? {
            let mut m = self.open(m)?;
            let mut d = self.open_details(&m)?;
            if m.recording_status == RecordingStatus::Recording.as_str() {
                let chunks = self.store().chunks_on_disk(m.id).await?;
                let bytes = i64::try_from(chunks).unwrap_or(0) * m.recording_chunk_bytes;
                m.recording_chunks = i64::try_from(chunks).unwrap_or(0);
                m.recording_bytes = bytes;
                m.recording_status =
                    if bytes > 0 { RecordingStatus::Available } else { RecordingStatus::None }.as_str().to_owned();
            }
            let last = self.db().meeting_segments(m.id, true).await?.iter().map(|s| s.end_ms).max().unwrap_or(0);
            let rec_ms = (MeetingService::shape(&m).duration_secs() * 1000.0) as i64;
            m.duration_ms = m.duration_ms.max(last).max(rec_ms);
            let status =
                if m.source == MeetingSource::Upload.as_str() { MeetingStatus::Failed } else { MeetingStatus::Ended };
            if status == MeetingStatus::Failed {
                d.error = Some("Interrupted by a server restart; upload the file again.".into());
            }
            self.end_meeting(&mut m, &mut d, status).await?;
            // As every end does: indexed for search, and summarized.
            self.index_later(m.id);
            if status == MeetingStatus::Ended {
                self.summarize_on_end(m.id).await;
            }
            n += 1;
        }
        Ok(n)
    }

    /// Live meetings on this replica.
    pub fn live_count(&self) -> usize {
        self.0.live.count()
    }
}

/// Turns a channel's hypotheses into segments until its stream ends.
async fn collect(c: Collect, prefix: String, offset: f64, mut hyps: rampart_core::speech::HypothesisStream) {
    while let Some(h) = hyps.next().await {
        match h {
            Ok(h) => {
                if let Err(e) = c.segment(&prefix, offset, h).await {
                    tracing::error!(meeting = %c.key, error = %e, "a transcript segment could not be stored");
                }
            }
            Err(e) => {
                tracing::warn!(meeting = %c.key, error = %e, "recogniser stream ended with an error");
                break;
            }
        }
    }
}

impl Collect {
    async fn segment(&self, prefix: &str, offset: f64, h: Hypothesis) -> Result<()> {
        let text = h.text.trim();
        if text.is_empty() {
            return Ok(());
        }
        let (start, end) = (offset + h.start, offset + h.end.max(h.start));
        let speaker = self.speakers.lock().unwrap_or_else(PoisonError::into_inner).at(self.role, start);
        let (sentiment, score) = if h.is_final {
            let (l, s) = crate::sentiment::score(text);
            (Some(l), Some(s))
        } else {
            (None, None)
        };
        let seg = Segment {
            segment_id: format!("{prefix}-{}", h.utterance),
            channel: self.role,
            speaker,
            start_time: round_ms(start),
            end_time: round_ms(end),
            transcript: text.to_owned(),
            is_partial: !h.is_final,
            sentiment,
            sentiment_score: score,
        };
        if h.is_final {
            let rec = self.svc.seal_segment(self.key, &seg)?;
            self.svc.db().upsert_segment(&rec).await?;
        }
        let asked = match (&self.svc.0.wake_phrase, &self.asker) {
            (Some(re), Some(_)) if h.is_final => self.wake.question(re, self.ch, text),
            _ => None,
        };
        self.svc
            .events()
            .meeting(self.key, &CallEvent::AddTranscriptSegment { call_id: self.call_id.clone(), segment: seg });
        if let (Some(question), Some(asker)) = (asked, &self.asker) {
            let ask =
                Ask { key: self.key, call_id: self.call_id.clone(), asker: asker.clone(), question, at: round_ms(end) };
            self.svc.spawn_answer(self.wake.clone(), ask);
        }
        Ok(())
    }
}

fn round_ms(secs: f64) -> f64 {
    (secs * 1000.0).round() / 1000.0
}
