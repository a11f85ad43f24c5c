//! What the API and the realtime channels show of a meeting.

use crate::sentiment::SentimentSummary;
use rampart_core::{MeetingKey, Timestamp, UserId};
use serde::{Deserialize, Serialize};

/// How a meeting's audio arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MeetingSource {
    /// Streamed over the audio socket.
    Live,
    /// An uploaded audio file.
    Upload,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MeetingStatus {
    /// Audio is arriving.
    Live,
    /// An upload is being transcribed.
    Processing,
    Ended,
    /// An upload could not be transcribed.
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecordingStatus {
    /// Not recorded (turned off in configuration or by the client).
    None,
    /// Being written.
    Recording,
    Available,
    /// Removed by the retention period.
    Deleted,
}

macro_rules! str_enum {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(<$t>::$v => $s),* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(<$t>::$v),)* _ => None }
            }
        }
    };
}
str_enum!(MeetingSource { Live => "live", Upload => "upload" });
str_enum!(MeetingStatus { Live => "live", Processing => "processing", Ended => "ended", Failed => "failed" });
str_enum!(RecordingStatus { None => "none", Recording => "recording", Available => "available", Deleted => "deleted" });

/// The names in a meeting (LMA's labels).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Participants {
    /// The meeting channel's label (`fromNumber`).
    pub caller: String,
    /// The microphone's speaker (`agentId`).
    pub agent: String,
    /// Every name the meeting channel's speaker had (`activeSpeaker`, speaker changes).
    pub speakers: Vec<String>,
}

/// What is sealed of a meeting's row: every name a user gave.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Details {
    pub title: String,
    pub participants: Participants,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<SentimentSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordingView {
    pub status: RecordingStatus,
    pub bytes: u64,
    pub duration_secs: f64,
    /// `GET` it (WAV, byte ranges) with the same credentials; absent without a recording.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A meeting.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeetingView {
    /// The client's `callId` (URL-encode it in paths).
    pub id: String,
    /// Rampart's own id of the meeting.
    pub key: MeetingKey,
    /// The realtime channel that streams its events (`/meetings/{key}`).
    pub channel: String,
    /// The meeting's name (`toNumber`).
    pub title: String,
    pub participants: Participants,
    pub owner_id: UserId,
    pub source: MeetingSource,
    pub status: MeetingStatus,
    pub started_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// Seconds of audio received.
    pub duration_secs: f64,
    pub sample_rate: u32,
    pub channels: u16,
    pub recording: RecordingView,
    /// False once the retention period removed the transcript.
    pub transcript_available: bool,
    /// Sentiment of the final segments, per channel and quarter (once the meeting ended).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<SentimentSummary>,
    /// Why an upload failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The realtime channel of a meeting.
pub fn channel_of(key: MeetingKey) -> String {
    format!("/meetings/{key}")
}

/// The realtime channel of a user's meetings list.
pub fn list_channel_of(user: UserId) -> String {
    format!("/user-meetings/{user}")
}
