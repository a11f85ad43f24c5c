//! Call events: what happens to a meeting, with LMA's event types, for whoever follows it live
//! (the meeting's realtime channel) and for its readers' meetings lists. `meetings` says what
//! happened through the [`MeetingEvents`] port; `server` delivers it (the realtime hub, and
//! between replicas the NATS bus, so a browser on one replica follows a meeting streamed into
//! another). No credential ever travels in an event (LMA writes users' tokens into its stream).

use crate::segment::Segment;
use crate::views::MeetingView;
use rampart_core::{MeetingKey, UserId};
use serde::Serialize;

/// An event on a meeting's channel (`/meetings/{key}`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "EventType", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallEvent {
    /// The meeting started (or a client reconnected to it).
    Start {
        #[serde(rename = "CallId")]
        call_id: String,
        #[serde(rename = "Meeting")]
        meeting: Box<MeetingView>,
    },
    /// A segment was added, or a partial one replaced (by segment id).
    AddTranscriptSegment {
        #[serde(rename = "CallId")]
        call_id: String,
        #[serde(flatten)]
        segment: Segment,
    },
    /// The speaker on the meeting channel changed (LMA's `UPDATE_AGENT` also names the
    /// microphone's speaker).
    UpdateAgent {
        #[serde(rename = "CallId")]
        call_id: String,
        #[serde(rename = "ActiveSpeaker")]
        active_speaker: String,
    },
    /// A recording is available (LMA's `ADD_S3_RECORDING_URL`): its URL on this server.
    AddRecording {
        #[serde(rename = "CallId")]
        call_id: String,
        #[serde(rename = "RecordingUrl")]
        recording_url: String,
    },
    /// How far an upload is (Rampart's addition to LMA's events; about twice a second while
    /// the file is transcribed).
    UploadProgress {
        #[serde(rename = "CallId")]
        call_id: String,
        /// Seconds of the file handed to the recogniser.
        #[serde(rename = "ProcessedSecs")]
        processed_secs: f64,
        /// The file's length, when its container says it.
        #[serde(rename = "TotalSecs", skip_serializing_if = "Option::is_none")]
        total_secs: Option<f64>,
    },
    /// The meeting ended.
    End {
        #[serde(rename = "CallId")]
        call_id: String,
        #[serde(rename = "Meeting")]
        meeting: Box<MeetingView>,
    },
}

/// A change of someone's meetings list (`/user-meetings/{userId}`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ListEvent {
    /// A meeting appeared in the list or changed (started, ended, renamed, shared with them).
    Updated { meeting: Box<MeetingView> },
    /// A meeting left the list (deleted, or no longer shared with them): its call id.
    Removed { id: String },
    /// How far the owner's upload is (as the meeting channel's `UPLOAD_PROGRESS`).
    #[serde(rename_all = "camelCase")]
    Progress {
        id: String,
        processed_secs: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        total_secs: Option<f64>,
    },
}

/// Where meetings' events go.
pub trait MeetingEvents: Send + Sync + 'static {
    /// An event for the meeting's channel.
    fn meeting(&self, key: MeetingKey, event: &CallEvent);
    /// An event for each of these users' meetings lists.
    fn list(&self, users: &[UserId], event: &ListEvent);
    /// These users lost access to the meeting: their live subscriptions to its channel end now,
    /// on every replica.
    fn revoke(&self, key: MeetingKey, users: &[UserId]);
}

/// Events nobody follows (commands, tests of the service alone).
#[derive(Debug, Default)]
pub struct NoEvents;

impl MeetingEvents for NoEvents {
    fn meeting(&self, _: MeetingKey, _: &CallEvent) {}
    fn list(&self, _: &[UserId], _: &ListEvent) {}
    fn revoke(&self, _: MeetingKey, _: &[UserId]) {}
}
