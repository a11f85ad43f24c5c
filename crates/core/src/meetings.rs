//! The past-meetings port: meeting search and the recent-meetings list, as a principal, for
//! whoever answers questions outside the meetings crate (the assistant's tools in `chat`, the
//! MCP server's `search_meetings` and `list_meetings`). `meetings` implements it
//! (`MeetingService`); the server hands it out as `Arc<dyn PastMeetings>`. The caller's access
//! (owner, shared-with, administrators) is evaluated at every call, never copied.

use crate::embed::BoxFuture;
use crate::error::{ErrorCode, PublicError};
use crate::{MeetingKey, PassageId, Principal, Timestamp, UserId};
use serde::{Deserialize, Serialize};

/// A search over the caller's past meetings (LMA's `search_meetings` arguments: `query`,
/// `startDate`, `endDate`, `maxResults`).
#[derive(Clone, Debug, PartialEq)]
pub struct MeetingSearchQuery {
    /// 1-1,000 characters.
    pub query: String,
    /// Meetings started at or after this instant.
    pub start: Option<Timestamp>,
    /// Meetings started before this instant.
    pub end: Option<Timestamp>,
    /// Meetings returned, 1-50.
    pub max_results: usize,
}

/// A meeting, as search results and lists name it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeetingRef {
    /// The client's `callId` (URL-encode it in paths).
    pub id: String,
    /// Rampart's own id of the meeting.
    pub key: MeetingKey,
    pub title: String,
    pub started_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    pub duration_secs: f64,
    pub owner_id: UserId,
    /// `live`, `processing`, `ended` or `failed`.
    pub status: String,
}

/// What a passage is part of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PassageKind {
    /// Consecutive final segments of one speaker.
    Transcript,
    /// A part of the meeting's summary (no times).
    Summary,
}

impl PassageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PassageKind::Transcript => "transcript",
            PassageKind::Summary => "summary",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "transcript" => Some(PassageKind::Transcript),
            "summary" => Some(PassageKind::Summary),
            _ => None,
        }
    }
}

/// A passage that matched.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PassageHit {
    pub id: PassageId,
    pub kind: PassageKind,
    /// Milliseconds from the meeting's start (transcript passages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<i64>,
    /// `CALLER` (the meeting) or `AGENT` (the user's microphone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
    pub text: String,
    /// BM25, or the fused score when dense retrieval takes part; higher is better.
    pub score: f32,
}

/// A meeting that matched, with its best passages (best first).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeetingHit {
    pub meeting: MeetingRef,
    /// Its best passage's score.
    pub score: f32,
    pub passages: Vec<PassageHit>,
}

/// Why a call failed, as the caller may be told (an invalid argument: `InvalidRequest` with what
/// is wrong; anything else generic, the detail logged by the implementation).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PastMeetingsError {
    pub code: ErrorCode,
    pub message: String,
}

impl PublicError for PastMeetingsError {
    fn code(&self) -> ErrorCode {
        self.code
    }
    fn public_message(&self) -> String {
        self.message.clone()
    }
}

/// The caller's past meetings.
pub trait PastMeetings: Send + Sync + 'static {
    /// Meetings the caller may read whose transcript or summary matches, best first.
    fn search<'a>(
        &'a self,
        p: &'a Principal,
        q: &'a MeetingSearchQuery,
    ) -> BoxFuture<'a, Result<Vec<MeetingHit>, PastMeetingsError>>;

    /// The caller's most recent meetings (theirs and those shared with them; administrators:
    /// everyone's) started in `[start, end)`, newest first, at most `limit` (1-100).
    fn recent<'a>(
        &'a self,
        p: &'a Principal,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<MeetingRef>, PastMeetingsError>>;
}
