//! The meetings service: reading, sharing and deleting meetings, with the caller's access
//! evaluated in the repository's SQL every time (owner, users it is shared with,
//! administrators). Live meetings are in `live`, uploads in `upload`, retention in `retention`.

use crate::config::MeetingsConfig;
use crate::error::{MeetingError, Result};
use crate::events::{ListEvent, MeetingEvents, NoEvents};
use crate::recording::{RecordingShape, RecordingStore};
use crate::segment::{ChannelRole, SealedBody, Segment};
use crate::views::{Details, MeetingSource, MeetingStatus, MeetingView, RecordingStatus, RecordingView, channel_of};
use rampart_core::clock::SharedClock;
use rampart_core::speech::SpeechRecognizer;
use rampart_core::{MeetingKey, Page, PageRequest, Principal, Timestamp, UserId};
use rampart_crypto::Keyring;
use rampart_storage::Db;
use rampart_storage::repo::meetings::{MeetingAccess, MeetingFilter, MeetingRecord, SegmentRecord};
use std::sync::{Arc, OnceLock};

/// A stored meeting with its call id opened.
#[derive(Clone, Debug)]
pub(crate) struct Meeting {
    pub rec: MeetingRecord,
    pub call_id: String,
}

impl std::ops::Deref for Meeting {
    type Target = MeetingRecord;
    fn deref(&self) -> &MeetingRecord {
        &self.rec
    }
}

impl std::ops::DerefMut for Meeting {
    fn deref_mut(&mut self) -> &mut MeetingRecord {
        &mut self.rec
    }
}

pub(crate) fn call_id_aad(key: MeetingKey) -> Vec<u8> {
    format!("meeting_call_id:{key}").into_bytes()
}

/// Where the call ids' lookup key is kept (sealed, base64).
const LOOKUP_KEY: &str = "meetings_lookup_key";

/// The key of the call ids' keyed hashes: made once, kept sealed in `meta` (so it survives a
/// master key rotation, which re-wraps it).
pub async fn lookup_key(db: &Db, keyring: &Keyring) -> Result<zeroize::Zeroizing<[u8; 32]>> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    if db.meta_get(LOOKUP_KEY).await?.is_none() {
        let fresh = rampart_crypto::random_bytes::<32>();
        let sealed = keyring.seal(LOOKUP_KEY.as_bytes(), &fresh);
        // Two replicas starting at once: the first one's key is the key.
        db.meta_insert_if_absent(LOOKUP_KEY, &b64.encode(sealed)).await?;
    }
    let stored = db.meta_get(LOOKUP_KEY).await?.ok_or(MeetingError::NotFound)?;
    let sealed =
        b64.decode(stored.trim()).map_err(|_| MeetingError::Invalid("the meetings lookup key is not base64".into()))?;
    let plain = zeroize::Zeroizing::new(keyring.open(LOOKUP_KEY.as_bytes(), &sealed)?);
    let mut k = zeroize::Zeroizing::new([0u8; 32]);
    if plain.len() != 32 {
        return Err(MeetingError::Invalid("the meetings lookup key has the wrong length".into()));
    }
    k.copy_from_slice(&plain);
    Ok(k)
}

/// The meta entries sealed under the master key (`rampart keys rotate-master` re-wraps them).
pub const SEALED_META: &[&str] = &[LOOKUP_KEY];

pub(crate) fn details_aad(key: MeetingKey) -> Vec<u8> {
    format!("meeting_details:{key}").into_bytes()
}

pub(crate) fn segment_aad(key: MeetingKey, segment_id: &str) -> Vec<u8> {
    format!("meeting_segment:{key}/{segment_id}").into_bytes()
}

/// What the caller may read: administrators every meeting, others their own and those shared
/// with them.
pub fn access(p: &Principal) -> MeetingAccess {
    if p.is_admin() { MeetingAccess::Anyone } else { MeetingAccess::User(p.user_id) }
}

pub(crate) struct Inner {
    pub db: Db,
    pub keyring: Keyring,
    pub clock: SharedClock,
    pub config: MeetingsConfig,
    pub store: RecordingStore,
    /// The public URL's origin, for the recording URLs in views.
    pub public_url: String,
    pub events: OnceLock<Arc<dyn MeetingEvents>>,
    pub recognizer: OnceLock<Arc<dyn SpeechRecognizer>>,
    pub live: crate::live::LiveRegistry,
    /// The key of call ids' keyed hashes.
    pub lookup: zeroize::Zeroizing<[u8; 32]>,
    /// Answers questions asked with the wake phrase (set once at start-up).
    pub assistant: OnceLock<Arc<dyn rampart_core::assist::MeetingAssistant>>,
    /// `meetings.wake_phrase`, compiled; `None`: off.
    pub wake_phrase: Option<regex::Regex>,
    /// Summaries' ports and jobs.
    pub summaries: crate::summary::Ports,
    /// Meeting search's indexes (set at start-up).
    pub search: OnceLock<Arc<crate::search::MeetingIndex>>,
}

/// The meetings service (cheap to clone).
#[derive(Clone)]
pub struct MeetingService(pub(crate) Arc<Inner>);

impl std::fmt::Debug for MeetingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MeetingService")
    }
}

impl MeetingService {
    pub fn new(
        db: Db,
        keyring: Keyring,
        clock: SharedClock,
        config: MeetingsConfig,
        recordings_dir: std::path::PathBuf,
        public_url: String,
        lookup: zeroize::Zeroizing<[u8; 32]>,
    ) -> Self {
        let store = RecordingStore::new(recordings_dir, keyring.clone());
        // Checked with the rest of the configuration at start-up.
        let wake_phrase = config.wake_phrase().ok().flatten();
        Self(Arc::new(Inner {
            db,
            keyring,
            clock,
            config,
            store,
            public_url: public_url.trim_end_matches('/').to_owned(),
            events: OnceLock::new(),
            recognizer: OnceLock::new(),
            live: crate::live::LiveRegistry::default(),
            lookup,
            assistant: OnceLock::new(),
            wake_phrase,
            summaries: crate::summary::Ports::default(),
            search: OnceLock::new(),
        }))
    }

    /// Where events go (set once at start-up; none until then).
    pub fn set_events(&self, e: Arc<dyn MeetingEvents>) {
        let _ = self.0.events.set(e);
    }

    /// The meeting assistant the wake phrase asks (set once at start-up).
    pub fn set_assistant(&self, a: Arc<dyn rampart_core::assist::MeetingAssistant>) {
        let _ = self.0.assistant.set(a);
    }

    /// The speech recogniser of live meetings and uploads (set once at start-up).
    pub fn set_recognizer(&self, r: Arc<dyn SpeechRecognizer>) {
        let _ = self.0.recognizer.set(r);
    }

    pub(crate) fn events(&self) -> &dyn MeetingEvents {
        match self.0.events.get() {
            Some(e) => e.as_ref(),
            None => &NoEvents,
        }
    }

    pub fn config(&self) -> &MeetingsConfig {
        &self.0.config
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.0.clock.now()
    }

    pub(crate) fn db(&self) -> &Db {
        &self.0.db
    }

    pub(crate) fn store(&self) -> &RecordingStore {
        &self.0.store
    }

    /// What look-ups of a call id use.
    pub(crate) fn call_key(&self, call_id: &str) -> String {
        rampart_crypto::keyed_hash_hex(&self.0.lookup, call_id.as_bytes())
    }

    pub(crate) fn seal_call_id(&self, key: MeetingKey, call_id: &str) -> Vec<u8> {
        self.0.keyring.seal(&call_id_aad(key), call_id.as_bytes())
    }

    /// A stored meeting with its call id opened.
    pub(crate) fn open(&self, rec: MeetingRecord) -> Result<Meeting> {
        let plain = self.0.keyring.open(&call_id_aad(rec.id), &rec.sealed_call_id)?;
        let call_id =
            String::from_utf8(plain).map_err(|_| MeetingError::Invalid("a stored call id is not UTF-8".into()))?;
        Ok(Meeting { rec, call_id })
    }

    pub(crate) fn seal_details(&self, key: MeetingKey, d: &Details) -> Result<Vec<u8>> {
        Ok(self.0.keyring.seal(&details_aad(key), &serde_json::to_vec(d)?))
    }

    pub(crate) fn open_details(&self, m: &MeetingRecord) -> Result<Details> {
        let plain = self.0.keyring.open(&details_aad(m.id), &m.sealed_details)?;
        Ok(serde_json::from_slice(&plain)?)
    }

    pub(crate) fn seal_segment(&self, key: MeetingKey, s: &Segment) -> Result<SegmentRecord> {
        let body = SealedBody {
            speaker: s.speaker.clone(),
            transcript: s.transcript.clone(),
            sentiment: s.sentiment,
            sentiment_score: s.sentiment_score,
        };
        let sealed = self.0.keyring.seal(&segment_aad(key, &s.segment_id), &serde_json::to_vec(&body)?);
        #[expect(clippy::cast_possible_truncation, reason = "milliseconds of a meeting fit an i64")]
        let ms = |secs: f64| (secs * 1000.0).round() as i64;
        Ok(SegmentRecord {
            meeting_id: key,
            segment_id: s.segment_id.clone(),
            channel: s.channel.as_str().to_owned(),
            start_ms: ms(s.start_time),
            end_ms: ms(s.end_time),
            is_partial: s.is_partial,
            sealed_body: sealed,
            updated_at: self.now(),
        })
    }

    pub(crate) fn open_segment(&self, r: &SegmentRecord) -> Result<Segment> {
        let plain = self.0.keyring.open(&segment_aad(r.meeting_id, &r.segment_id), &r.sealed_body)?;
        let b: SealedBody = serde_json::from_slice(&plain)?;
        Ok(Segment {
            segment_id: r.segment_id.clone(),
            channel: ChannelRole::parse(&r.channel).unwrap_or(ChannelRole::Caller),
            speaker: b.speaker,
            start_time: r.start_ms as f64 / 1000.0,
            end_time: r.end_ms as f64 / 1000.0,
            transcript: b.transcript,
            is_partial: r.is_partial,
            sentiment: b.sentiment,
            sentiment_score: b.sentiment_score,
        })
    }

    pub(crate) fn shape(m: &MeetingRecord) -> RecordingShape {
        RecordingShape {
            sample_rate: u32::try_from(m.sample_rate).unwrap_or(16_000),
            channels: u16::try_from(m.channels).unwrap_or(2),
            bytes: u64::try_from(m.recording_bytes).unwrap_or(0),
            chunk_bytes: u64::try_from(m.recording_chunk_bytes).unwrap_or(1),
        }
    }

    /// The view of a stored meeting.
    pub(crate) fn view(&self, m: &Meeting) -> Result<MeetingView> {
        let d = self.open_details(m)?;
        let rec_status = RecordingStatus::parse(&m.recording_status).unwrap_or(RecordingStatus::None);
        let shape = Self::shape(m);
        let url = (rec_status == RecordingStatus::Available)
            .then(|| format!("{}/v1/meetings/{}/recording", self.0.public_url, urlencoding(&m.call_id)));
        Ok(MeetingView {
            id: m.call_id.clone(),
            key: m.id,
            channel: channel_of(m.id),
            title: d.title,
            participants: d.participants,
            owner_id: m.owner_id,
            source: MeetingSource::parse(&m.source).unwrap_or(MeetingSource::Live),
            status: MeetingStatus::parse(&m.status).unwrap_or(MeetingStatus::Ended),
            started_at: m.started_at,
            ended_at: m.ended_at,
            duration_secs: m.duration_ms as f64 / 1000.0,
            sample_rate: shape.sample_rate,
            channels: shape.channels,
            recording: RecordingView {
                status: rec_status,
                bytes: shape.bytes,
                duration_secs: shape.duration_secs(),
                url,
            },
            transcript_available: m.transcript_deleted_at.is_none(),
            sentiment: d.sentiment,
            error: d.error,
        })
    }

    /// A meeting the caller may read, by call id.
    pub(crate) async fn readable(&self, p: &Principal, call_id: &str) -> Result<Meeting> {
        let rec =
            self.db().meeting_by_call_key(access(p), &self.call_key(call_id)).await?.ok_or(MeetingError::NotFound)?;
        self.open(rec)
    }

    /// A meeting the caller may change (owner or administrator); readers are refused with
    /// `Forbidden`, everyone else does not find it.
    pub(crate) async fn changeable(&self, p: &Principal, call_id: &str) -> Result<Meeting> {
        let m = self.readable(p, call_id).await?;
        if m.owner_id != p.user_id && !p.is_admin() {
            return Err(MeetingError::Forbidden);
        }
        Ok(m)
    }

    /// The caller's meetings (and those shared with them), newest first, with the total.
    pub async fn list(
        &self,
        p: &Principal,
        filter: &MeetingFilter,
        page: &PageRequest,
    ) -> Result<(Page<MeetingView>, i64)> {
        let (pg, total) = self.db().list_meetings(access(p), filter, page).await?;
        let items = pg.items.into_iter().map(|m| self.view(&self.open(m)?)).collect::<Result<Vec<_>>>()?;
        Ok((Page { items, next_cursor: pg.next_cursor }, total))
    }

    pub async fn get(&self, p: &Principal, call_id: &str) -> Result<MeetingView> {
        self.view(&self.readable(p, call_id).await?)
    }

    /// A meeting by its key, if the caller may read it (realtime subscriptions).
    pub async fn get_by_key(&self, p: &Principal, key: MeetingKey) -> Result<MeetingView> {
        let m = self.db().meeting(access(p), key).await?.ok_or(MeetingError::NotFound)?;
        self.view(&self.open(m)?)
    }

    /// The transcript: final segments, or (`with_partials`) the partial ones too.
    pub async fn segments(
        &self,
        p: &Principal,
        call_id: &str,
        with_partials: bool,
    ) -> Result<(MeetingView, Vec<Segment>)> {
        let m = self.readable(p, call_id).await?;
        let rows = self.db().meeting_segments(m.id, !with_partials).await?;
        let segs = rows.iter().map(|r| self.open_segment(r)).collect::<Result<Vec<_>>>()?;
        Ok((self.view(&m)?, segs))
    }

    /// The users a meeting is shared with (owner or administrator).
    pub async fn shares(&self, p: &Principal, call_id: &str) -> Result<Vec<UserId>> {
        let m = self.changeable(p, call_id).await?;
        Ok(self.db().meeting_shares(m.id).await?)
    }

    /// Shares a meeting with users (found by the caller: the server resolves emails).
    pub async fn share(&self, p: &Principal, call_id: &str, users: &[UserId]) -> Result<MeetingView> {
        let m = self.changeable(p, call_id).await?;
        let users: Vec<UserId> = users.iter().copied().filter(|u| *u != m.owner_id).collect();
        self.db().share_meeting(m.id, &users, self.now()).await?;
        let v = self.view(&m)?;
        self.events().list(&users, &ListEvent::Updated { meeting: Box::new(v.clone()) });
        Ok(v)
    }

    /// Stops sharing a meeting with users: they lose access at once.
    pub async fn unshare(&self, p: &Principal, call_id: &str, users: &[UserId]) -> Result<MeetingView> {
        let m = self.changeable(p, call_id).await?;
        self.db().unshare_meeting(m.id, users).await?;
        // The owner keeps access whatever the request says.
        let lost: Vec<UserId> = users.iter().copied().filter(|u| *u != m.owner_id).collect();
        self.events().revoke(m.id, &lost);
        self.events().list(&lost, &ListEvent::Removed { id: m.call_id.clone() });
        self.view(&m)
    }

    /// Deletes a meeting: its segments, shares and recording. A live one is ended first.
    pub async fn delete(&self, p: &Principal, call_id: &str) -> Result<()> {
        let m = self.changeable(p, call_id).await?;
        self.0.live.stop(m.id);
        let readers = self.readers(&m).await?;
        if !self.db().delete_meeting(None, m.id).await? {
            return Err(MeetingError::NotFound);
        }
        self.store().delete(m.id).await?;
        self.unindex(m.id, None).await?;
        self.events().revoke(m.id, &readers);
        self.events().list(&readers, &ListEvent::Removed { id: m.call_id.clone() });
        Ok(())
    }

    /// Everyone whose list shows the meeting: the owner and the users it is shared with.
    pub(crate) async fn readers(&self, m: &MeetingRecord) -> Result<Vec<UserId>> {
        let mut users = self.db().meeting_shares(m.id).await?;
        users.push(m.owner_id);
        Ok(users)
    }

    /// The recording's shape, if the caller may read the meeting and it has one.
    pub async fn recording(&self, p: &Principal, call_id: &str) -> Result<(MeetingKey, RecordingShape)> {
        let m = self.readable(p, call_id).await?;
        if m.recording_status != RecordingStatus::Available.as_str() {
            return Err(MeetingError::NotFound);
        }
        Ok((m.id, Self::shape(&m)))
    }

    /// A link to the recording that works without a header (an `<audio>` element's requests,
    /// with their ranges), for `ttl`: it names the caller, and their access is checked again at
    /// every request.
    pub async fn recording_link(&self, p: &Principal, call_id: &str, ttl: std::time::Duration) -> Result<String> {
        let m = self.readable(p, call_id).await?;
        let exp = self.now().plus(ttl).millis();
        let who = if p.is_admin() { 'a' } else { 'u' };
        let mac = self.link_mac(m.id, p.user_id, who, exp);
        Ok(format!("{}.{who}.{exp}.{mac}", p.user_id))
    }

    fn link_mac(&self, key: MeetingKey, user: UserId, who: char, exp: i64) -> String {
        let k = rampart_crypto::keyed_hash_hex(&self.0.lookup, b"recording-link");
        let mut key32 = [0u8; 32];
        key32.copy_from_slice(&k.as_bytes()[..32]);
        rampart_crypto::keyed_hash_hex(&key32, format!("{key}|{user}|{who}|{exp}").as_bytes())
    }

    /// The recording a link stands for, if it is still good and its user may still read it.
    pub async fn recording_by_link(&self, call_id: &str, token: &str) -> Result<(MeetingKey, RecordingShape)> {
        let parts: Vec<&str> = token.split('.').collect();
        let [user, who, exp, mac] = parts.as_slice() else { return Err(MeetingError::NotFound) };
        let (Some(user), Ok(exp)) = (UserId::parse(user), exp.parse::<i64>()) else {
            return Err(MeetingError::NotFound);
        };
        let who = match *who {
            "a" => 'a',
            "u" => 'u',
            _ => return Err(MeetingError::NotFound),
        };
        if exp <= self.now().millis() {
            return Err(MeetingError::NotFound);
        }
        let access = if who == 'a' { MeetingAccess::Anyone } else { MeetingAccess::User(user) };
        let rec =
            self.db().meeting_by_call_key(access, &self.call_key(call_id)).await?.ok_or(MeetingError::NotFound)?;
        if !rampart_crypto::ct_eq(self.link_mac(rec.id, user, who, exp).as_bytes(), mac.as_bytes()) {
            return Err(MeetingError::NotFound);
        }
        if rec.recording_status != RecordingStatus::Available.as_str() {
            return Err(MeetingError::NotFound);
        }
        Ok((rec.id, Self::shape(&rec)))
    }

    /// Bytes `[start, end)` of a recording's WAV file.
    pub async fn recording_range(
        &self,
        key: MeetingKey,
        shape: &RecordingShape,
        start: u64,
        end: u64,
    ) -> Result<Vec<u8>> {
        Ok(self.store().read_range(key, shape, start, end).await?)
    }
}

/// Percent-encodes a path segment (call ids may hold spaces and slashes).
pub fn urlencoding(s: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}
