//! Everyday chat beyond GAIA's Sessions API (issue 16): the assistants a user may pick, with
//! their names; renaming, pinning and archiving a conversation; searching one's conversations;
//! exporting one as a file.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ChatUser, Json, Path, Query};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rampart_chat::export::ExportFormat;
use rampart_chat::service::SessionSummary;
use rampart_chat::shelf::{SearchPage, SessionPatch};
use rampart_core::error::ErrorBody;
use rampart_core::{PageRequest, SessionId};
use rampart_storage::repo::chat::Owner;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(assistants)).routes(routes!(search_sessions)).routes(routes!(export_session))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssistantCard {
    /// What `assistantId` (realtime) and `model` (OpenAI facade) name.
    pub id: String,
    /// What people see: the configured name, or the id.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AssistantList {
    /// In configuration order.
    pub items: Vec<AssistantCard>,
}

/// The assistants the caller may use, with the names and descriptions a picker shows.
#[utoipa::path(get, path = "/v1/chat/assistants", tag = "chat",
    responses((status = 200, body = AssistantList)), security(("bearer" = []), ("apiKey" = [])))]
async fn assistants(State(s): State<AppState>, ChatUser(p): ChatUser) -> ApiResult<axum::Json<AssistantList>> {
    let items = s
        .assistants
        .visible_to(&p)
        .iter()
        .map(|a| AssistantCard {
            id: a.id.clone(),
            name: a.name.clone().unwrap_or_else(|| a.id.clone()),
            description: a.description.clone(),
        })
        .collect();
    Ok(axum::Json(AssistantList { items }))
}

/// Renames, pins or archives (`archived: false` unarchives) one of the caller's sessions, or
/// keeps the knowledge bases chosen in it (each must be readable by the caller).
#[utoipa::path(patch, path = "/v1/sessions/{id}", tag = "chat", params(("id" = String, Path)), request_body = SessionPatch,
    responses((status = 200, body = SessionSummary), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub(crate) async fn patch_session(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Path(id): Path<SessionId>,
    Json(patch): Json<SessionPatch>,
) -> ApiResult<axum::Json<SessionSummary>> {
    Ok(axum::Json(s.chat.change_session(&p, id, &patch).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// 1-200 characters, matched case-insensitively in titles and messages.
    pub q: String,
    /// Most conversations to return, 1-100 (default 50).
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous step.
    pub cursor: Option<String>,
}

/// Searches the caller's conversations (archived ones too) by title and content, newest first.
/// Content is sealed at rest, so each step opens at most 100 conversations and answers with a
/// `nextCursor` to go on from where it stopped (possibly with no items found in this step).
#[utoipa::path(get, path = "/v1/sessions/search", tag = "chat", params(SearchQuery),
    responses((status = 200, body = SearchPage), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn search_sessions(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Query(q): Query<SearchQuery>,
) -> ApiResult<axum::Json<SearchPage>> {
    let page = PageRequest { limit: q.limit, cursor: q.cursor };
    page.validate().map_err(ApiError::code)?;
    Ok(axum::Json(s.chat.search_sessions(p.user_id, &q.q, &page).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `markdown` (the default) or `json`.
    #[param(inline)]
    pub format: Option<ExportFormat>,
}

/// One of the caller's sessions, whole, as a file to download: Markdown, or JSON in the shape
/// of `GET /v1/sessions/{id}`.
#[utoipa::path(get, path = "/v1/sessions/{id}/export", tag = "chat", params(("id" = String, Path), ExportQuery),
    responses((status = 200, description = "The file (text/markdown or application/json), as an attachment"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
async fn export_session(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Path(id): Path<SessionId>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let format = q.format.unwrap_or(ExportFormat::Markdown);
    let e = s.chat.export_session(Owner::User(p.user_id), id, format).await?;
    let mut r = e.body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(e.content_type));
    // The stem is letters, digits and dashes; a header it cannot be is left out, not guessed.
    let disposition = format!(
        "attachment; filename=\"{}\"",
        e.filename.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '.', "_")
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}
