//! The meeting assistant panel's chats, one per user and meeting, and one per user over all
//! their past meetings. These routes only find (or make) the chat's session; its turns run over
//! the realtime channels as every chat's do (`/in/{user}/{session}` → `/out/{user}/{session}`),
//! through the same turn, grounded on the meeting (see `realtime::grounding_of`), and its
//! history is read as every session's (`GET /v1/sessions/{id}`).
//!
//! - `POST /v1/meetings/{id}/chat`: the caller's chat about a meeting they may read (made on
//!   first use); `GET`: the same if they have one (`sessionId` null otherwise), so that opening
//!   a meeting stores nothing.
//! - `POST /v1/meetings/search/chat`, `GET` likewise: the caller's chat over their past meetings.
//!
//! Both need the `meetings` and `chat` scopes. Another user's meeting is not found.

use crate::error::{ApiError, ApiResult};
use crate::extract::{MeetingsUser, Path};
use crate::state::AppState;
use axum::extract::State;
use rampart_core::error::ErrorBody;
use rampart_core::{ErrorCode, Principal, Scope, SessionId};
use rampart_storage::repo::chat::PAST_MEETINGS;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(find_meeting_chat, meeting_chat))
        .routes(routes!(find_past_meetings_chat, past_meetings_chat))
}

/// A meeting chat's session.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeetingChat {
    /// Publish questions to `/in/{user}/{sessionId}`; answers stream on `/out/{user}/{sessionId}`.
    pub session_id: SessionId,
}

/// A meeting chat's session, if the caller has one.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FoundMeetingChat {
    pub session_id: Option<SessionId>,
}

/// The caller's chat about the meeting, if they have one.
#[utoipa::path(get, path = "/v1/meetings/{id}/chat", tag = "meetings", params(("id" = String, Path, description = "The call id")),
    responses((status = 200, body = FoundMeetingChat), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
async fn find_meeting_chat(
    State(s): State<AppState>,
    MeetingsUser(p): MeetingsUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<FoundMeetingChat>> {
    chat_scope(&p)?;
    let m = s.meetings.get(&p, &id).await?;
    Ok(axum::Json(FoundMeetingChat { session_id: s.chat.find_meeting_chat(p.user_id, &m.key.to_string()).await? }))
}

/// The caller's chat over their past meetings, if they have one.
#[utoipa::path(get, path = "/v1/meetings/search/chat", tag = "meetings",
    responses((status = 200, body = FoundMeetingChat), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
async fn find_past_meetings_chat(
    State(s): State<AppState>,
    MeetingsUser(p): MeetingsUser,
) -> ApiResult<axum::Json<FoundMeetingChat>> {
    chat_scope(&p)?;
    Ok(axum::Json(FoundMeetingChat { session_id: s.chat.find_meeting_chat(p.user_id, PAST_MEETINGS).await? }))
}

/// The caller's chat about the meeting (made on first use): its session id.
#[utoipa::path(post, path = "/v1/meetings/{id}/chat", tag = "meetings", params(("id" = String, Path, description = "The call id")),
    responses((status = 200, body = MeetingChat), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
async fn meeting_chat(
    State(s): State<AppState>,
    MeetingsUser(p): MeetingsUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<MeetingChat>> {
    chat_scope(&p)?;
    let m = s.meetings.get(&p, &id).await?;
    let title = format!("About the meeting {}", m.title);
    Ok(axum::Json(MeetingChat { session_id: session(&s, &p, &m.key.to_string(), &title).await? }))
}

/// The caller's chat over their past meetings (made on first use): its session id. Answers
/// cite the meetings at the moments they draw on.
#[utoipa::path(post, path = "/v1/meetings/search/chat", tag = "meetings",
    responses((status = 200, body = MeetingChat), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
async fn past_meetings_chat(
    State(s): State<AppState>,
    MeetingsUser(p): MeetingsUser,
) -> ApiResult<axum::Json<MeetingChat>> {
    chat_scope(&p)?;
    Ok(axum::Json(MeetingChat { session_id: session(&s, &p, PAST_MEETINGS, "About past meetings").await? }))
}

fn chat_scope(p: &Principal) -> ApiResult<()> {
    match p.has_scope(Scope::Chat) {
        true => Ok(()),
        false => Err(ApiError::new(ErrorCode::Forbidden, "This credential lacks the chat scope.")),
    }
}

async fn session(s: &AppState, p: &Principal, about: &str, title: &str) -> ApiResult<SessionId> {
    let assistant = s.chat.pick_assistant(&s.assistants.snapshot(), p, None, None).await?;
    let assistant_id = assistant.map_or_else(|| "default".to_owned(), |a| a.id.clone());
    Ok(s.chat.meeting_chat(p.user_id, about, &assistant_id, title).await?)
}
