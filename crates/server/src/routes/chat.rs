//! GAIA's Sessions and Feedback APIs (seed 002): `/v1/sessions…`, `/v1/feedback…`, and the
//! administrators' `/v1/admin/sessions`, `/v1/users/{user_id}/sessions…`, `/v1/admin/feedback`.

use crate::error::{ApiError, ApiResult};
use crate::extract::{AdminUser, ChatUser, Json, Path, Query};
use crate::routes::conversations::{__path_patch_session, patch_session};
use crate::routes::views::PageView;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use rampart_chat::service::{FeedbackRequest, FeedbackView, SessionDetail, SessionSummary};
use rampart_core::error::ErrorBody;
use rampart_core::{FeedbackId, MessageId, PageRequest, SessionId, UserId};
use rampart_storage::repo::chat::{Owner, Shelf};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sessions, delete_all_sessions))
        .routes(routes!(get_session, delete_session, patch_session))
        .routes(routes!(stop_session))
        .routes(routes!(switch_branch))
        .routes(routes!(admin_sessions))
        .routes(routes!(user_sessions))
        .routes(routes!(user_session))
        .routes(routes!(submit_feedback, list_feedback))
        .routes(routes!(get_feedback))
        .routes(routes!(admin_feedback))
        .routes(routes!(chat_config))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveInterruption {
    pub service_type: String,
    /// The message users see.
    pub message: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatConfigView {
    /// The reasons a thumbs-down may give.
    pub feedback_reasons: Vec<String>,
    /// Service interruptions in force (the banner).
    pub interruptions: Vec<ActiveInterruption>,
}

/// What a chat client shows besides the conversation: feedback reasons and active interruptions.
#[utoipa::path(get, path = "/v1/chat/config", tag = "chat",
    responses((status = 200, body = ChatConfigView)), security(("bearer" = []), ("apiKey" = [])))]
async fn chat_config(State(s): State<AppState>, ChatUser(_): ChatUser) -> ApiResult<axum::Json<ChatConfigView>> {
    let interruptions = s
        .chat
        .interruptions()
        .await?
        .into_iter()
        .filter(|i| i.active)
        .map(|i| ActiveInterruption { service_type: i.service_type, message: i.message.unwrap_or_default() })
        .collect();
    Ok(axum::Json(ChatConfigView { feedback_reasons: s.config.chat.feedback_reasons.clone(), interruptions }))
}

fn page_of<T: ToSchema>(p: rampart_core::Page<T>) -> PageView<T> {
    PageView { items: p.items, next_cursor: p.next_cursor }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SessionListQuery {
    /// Page size, 1..=100 (default 50).
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// `true`: the archived sessions instead of the others.
    #[serde(default)]
    pub archived: bool,
}

/// The caller's sessions, pinned ones first, then the most recently active; archived ones
/// only with `archived=true`.
#[utoipa::path(get, path = "/v1/sessions", tag = "chat", params(SessionListQuery),
    responses((status = 200, body = PageView<SessionSummary>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn list_sessions(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Query(q): Query<SessionListQuery>,
) -> ApiResult<axum::Json<PageView<SessionSummary>>> {
    let page = PageRequest { limit: q.limit, cursor: q.cursor };
    page.validate().map_err(ApiError::code)?;
    let shelf = if q.archived { Shelf::Archived } else { Shelf::Active };
    Ok(axum::Json(page_of(s.chat.list_sessions(Owner::User(p.user_id), shelf, &page).await?)))
}

/// One of the caller's sessions with its history: all of it, or with `limit` the newest
/// `limit` messages and an `earlierCursor` to read the page before (`cursor`).
#[utoipa::path(get, path = "/v1/sessions/{id}", tag = "chat", params(("id" = String, Path), PageRequest),
    responses((status = 200, body = SessionDetail), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn get_session(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Path(id): Path<SessionId>,
    Query(page): Query<PageRequest>,
) -> ApiResult<axum::Json<SessionDetail>> {
    Ok(axum::Json(s.chat.get_session_page(Owner::User(p.user_id), id, history_page(&page)?).await?))
}

/// `None` (the whole history) when neither `limit` nor `cursor` is given.
fn history_page(page: &PageRequest) -> ApiResult<Option<&PageRequest>> {
    page.validate().map_err(ApiError::code)?;
    Ok((page.limit.is_some() || page.cursor.is_some()).then_some(page))
}

/// Deletes one of the caller's sessions.
#[utoipa::path(delete, path = "/v1/sessions/{id}", tag = "chat", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn delete_session(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Path(id): Path<SessionId>,
) -> ApiResult<StatusCode> {
    s.knowledge.drop_session_files(&p, id).await?;
    s.chat.delete_session(p.user_id, id).await?;
    s.stop_generations(p.user_id, Some(id)).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct Stopped {
    /// Generations that were running and are now stopped.
    pub stopped: usize,
}

/// Stops the reply being generated in one of the caller's sessions (the upstream request is
/// dropped; what was produced so far is kept). With several replicas, the others are told too;
/// `stopped` counts the generations this replica was running.
#[utoipa::path(post, path = "/v1/sessions/{id}/stop", tag = "chat", params(("id" = String, Path)),
    responses((status = 200, body = Stopped), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn stop_session(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Path(id): Path<SessionId>,
) -> ApiResult<axum::Json<Stopped>> {
    let stopped = s.stop_generations(p.user_id, Some(id)).await;
    if stopped == 0 {
        // Not running: answer like GET would (a session that is not yours is "not found").
        s.chat.session_assistant(p.user_id, id).await?.ok_or_else(ApiError::not_found)?;
    }
    Ok(axum::Json(Stopped { stopped }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SwitchBranch {
    /// The message to show (one of a message's `siblings`).
    pub message_id: MessageId,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BranchSwitched {
    /// The session's active leaf now: the newest message below `messageId`.
    pub active_leaf: MessageId,
}

/// Shows another branch of one of the caller's sessions (after an edit or a regenerated
/// answer): the history becomes the path through `messageId` to the newest message below it.
#[utoipa::path(post, path = "/v1/sessions/{id}/branch", tag = "chat", params(("id" = String, Path)), request_body = SwitchBranch,
    responses((status = 200, body = BranchSwitched), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn switch_branch(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Path(id): Path<SessionId>,
    Json(r): Json<SwitchBranch>,
) -> ApiResult<axum::Json<BranchSwitched>> {
    Ok(axum::Json(BranchSwitched { active_leaf: s.chat.switch_branch(p.user_id, id, r.message_id).await? }))
}

#[derive(Serialize, ToSchema)]
pub struct Deleted {
    pub deleted: u64,
}

/// Deletes all of the caller's sessions.
#[utoipa::path(delete, path = "/v1/sessions", tag = "chat", responses((status = 200, body = Deleted)), security(("bearer" = []), ("apiKey" = [])))]
async fn delete_all_sessions(State(s): State<AppState>, ChatUser(p): ChatUser) -> ApiResult<axum::Json<Deleted>> {
    s.knowledge.drop_all_session_files(&p).await?;
    let deleted = s.chat.delete_all_sessions(p.user_id).await?;
    s.stop_generations(p.user_id, None).await;
    Ok(axum::Json(Deleted { deleted }))
}

/// Every user's sessions (administrators).
#[utoipa::path(get, path = "/v1/admin/sessions", tag = "chat", params(PageRequest),
    responses((status = 200, body = PageView<SessionSummary>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn admin_sessions(
    State(s): State<AppState>,
    AdminUser(_): AdminUser,
    Query(page): Query<PageRequest>,
) -> ApiResult<axum::Json<PageView<SessionSummary>>> {
    page.validate().map_err(ApiError::code)?;
    Ok(axum::Json(page_of(s.chat.list_sessions(Owner::Anyone, Shelf::All, &page).await?)))
}

/// One user's sessions (administrators).
#[utoipa::path(get, path = "/v1/users/{user_id}/sessions", tag = "chat", params(("user_id" = String, Path), PageRequest),
    responses((status = 200, body = PageView<SessionSummary>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn user_sessions(
    State(s): State<AppState>,
    AdminUser(_): AdminUser,
    Path(user_id): Path<UserId>,
    Query(page): Query<PageRequest>,
) -> ApiResult<axum::Json<PageView<SessionSummary>>> {
    page.validate().map_err(ApiError::code)?;
    Ok(axum::Json(page_of(s.chat.list_sessions(Owner::User(user_id), Shelf::All, &page).await?)))
}

/// One session of a given user, with its history (administrators; `limit` and `cursor` as
/// for `GET /v1/sessions/{id}`).
#[utoipa::path(get, path = "/v1/users/{user_id}/sessions/{session_id}", tag = "chat", params(("user_id" = String, Path), ("session_id" = String, Path), PageRequest),
    responses((status = 200, body = SessionDetail), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn user_session(
    State(s): State<AppState>,
    AdminUser(_): AdminUser,
    Path((user_id, session_id)): Path<(UserId, SessionId)>,
    Query(page): Query<PageRequest>,
) -> ApiResult<axum::Json<SessionDetail>> {
    Ok(axum::Json(s.chat.get_session_page(Owner::User(user_id), session_id, history_page(&page)?).await?))
}

/// Rates an assistant message of one of the caller's sessions.
#[utoipa::path(post, path = "/v1/feedback", tag = "chat", request_body = FeedbackRequest,
    responses((status = 201, body = FeedbackView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn submit_feedback(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Json(r): Json<FeedbackRequest>,
) -> ApiResult<(StatusCode, axum::Json<FeedbackView>)> {
    Ok((StatusCode::CREATED, axum::Json(s.chat.submit_feedback(p.user_id, &r).await?)))
}

/// The caller's feedback, newest first.
#[utoipa::path(get, path = "/v1/feedback", tag = "chat", params(PageRequest),
    responses((status = 200, body = PageView<FeedbackView>)), security(("bearer" = []), ("apiKey" = [])))]
async fn list_feedback(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Query(page): Query<PageRequest>,
) -> ApiResult<axum::Json<PageView<FeedbackView>>> {
    page.validate().map_err(ApiError::code)?;
    Ok(axum::Json(page_of(s.chat.list_feedback(p.user_id, &page).await?)))
}

/// One feedback entry (its author, or an administrator).
#[utoipa::path(get, path = "/v1/feedback/{id}", tag = "chat", params(("id" = String, Path)),
    responses((status = 200, body = FeedbackView), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn get_feedback(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Path(id): Path<FeedbackId>,
) -> ApiResult<axum::Json<FeedbackView>> {
    let owner = if p.is_admin() { Owner::Anyone } else { Owner::User(p.user_id) };
    Ok(axum::Json(s.chat.get_feedback(owner, id).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedbackRange {
    /// Start (inclusive): RFC 3339 time or `YYYY-MM-DD` (UTC). Default: 30 days before `to`.
    pub from: Option<String>,
    /// End (exclusive): RFC 3339 time or `YYYY-MM-DD` (UTC). Default: now.
    pub to: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// All feedback in a date range of at most 730 days (administrators).
#[utoipa::path(get, path = "/v1/admin/feedback", tag = "chat", params(FeedbackRange),
    responses((status = 200, body = PageView<FeedbackView>), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
async fn admin_feedback(
    State(s): State<AppState>,
    AdminUser(_): AdminUser,
    Query(q): Query<FeedbackRange>,
) -> ApiResult<axum::Json<PageView<FeedbackView>>> {
    let page = PageRequest { limit: q.limit, cursor: q.cursor };
    page.validate().map_err(ApiError::code)?;
    let to = match &q.to {
        Some(v) => super::parse_time("to", v)?,
        None => s.identity.now(),
    };
    let from = match &q.from {
        Some(v) => super::parse_time("from", v)?,
        None => to.minus(std::time::Duration::from_secs(30 * 86400)),
    };
    Ok(axum::Json(page_of(s.chat.feedback_between(from, to, &page).await?)))
}
