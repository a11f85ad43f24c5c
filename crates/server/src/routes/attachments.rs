//! `/v1/sessions/{id}/files…`: files attached to one of the caller's chat sessions (multipart,
//! field `file`; same limits and parsers as knowledge-base uploads). Every turn of the session
//! searches them; they are never listed with knowledge bases and go with the session. Another
//! user's session or file is "not found".

use crate::error::ApiResult;
use crate::extract::{ChatUser, Path, Query};
use crate::routes::knowledge::read_files;
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use rampart_core::error::ErrorBody;
use rampart_core::{DocumentId, SessionId};
use rampart_knowledge::service::DocView;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes(max_upload: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(attach, list_files))
        .routes(routes!(detach))
        .layer(DefaultBodyLimit::max(max_upload))
}

#[derive(Deserialize, IntoParams)]
pub struct AttachQuery {
    /// The assistant of a session that the attachment starts (one the caller may use; else
    /// the one a turn would pick).
    pub assistant: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionFiles {
    pub files: Vec<DocView>,
}

/// Attaches files to one of the caller's sessions for ingestion (status `pending`, then
/// `ready` or `failed`). Content already attached comes back as `duplicate`. A session id not
/// used yet starts a session (titled by the first file's name, with the `assistant` of the
/// query or the default one), so files can be attached before the first question; another
/// user's session is "not found".
#[utoipa::path(post, path = "/v1/sessions/{id}/files", tag = "chat", params(("id" = String, Path), AttachQuery),
    request_body(content_type = "multipart/form-data", description = "one or more parts named `file`"),
    responses((status = 202, body = SessionFiles), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
async fn attach(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Path(id): Path<SessionId>,
    Query(q): Query<AttachQuery>,
    mut form: Multipart,
) -> ApiResult<(StatusCode, axum::Json<SessionFiles>)> {
    let files = read_files(&mut form).await?;
    s.knowledge.check_files(&files)?;
    let title = files.first().map_or("", |f| f.0.as_str());
    // Only an assistant the caller may use is recorded (as a turn would pick it).
    let assistant = s.chat.pick_assistant(&s.assistants.snapshot(), &p, None, q.assistant.as_deref()).await?;
    let assistant = assistant.as_ref().map_or("default", |a| a.id.as_str());
    s.chat.create_session_if_new(p.user_id, id, assistant, title).await?;
    let files = s.knowledge.attach(&p, id, files).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(SessionFiles { files })))
}

/// The files attached to one of the caller's sessions, with their ingestion status.
#[utoipa::path(get, path = "/v1/sessions/{id}/files", tag = "chat", params(("id" = String, Path)),
    responses((status = 200, body = SessionFiles), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn list_files(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Path(id): Path<SessionId>,
) -> ApiResult<axum::Json<SessionFiles>> {
    Ok(axum::Json(SessionFiles { files: s.knowledge.attachments(&p, id).await? }))
}

/// Removes a file from one of the caller's sessions (and from retrieval).
#[utoipa::path(delete, path = "/v1/sessions/{id}/files/{doc_id}", tag = "chat",
    params(("id" = String, Path), ("doc_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn detach(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Path((id, doc)): Path<(SessionId, DocumentId)>,
) -> ApiResult<StatusCode> {
    s.knowledge.detach(&p, id, doc).await?;
    Ok(StatusCode::NO_CONTENT)
}
