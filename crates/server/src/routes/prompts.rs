//! `/v1/me/prompts`: each user's prompt library (saved prompts the composer offers after `/`).

use crate::error::{ApiError, ApiResult};
use crate::extract::{ChatUser, Json, Path, Query};
use crate::routes::views::PageView;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use rampart_chat::prompts::{PromptInput, PromptView};
use rampart_core::error::ErrorBody;
use rampart_core::{PageRequest, PromptId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_prompts, create_prompt)).routes(routes!(
        get_prompt,
        replace_prompt,
        delete_prompt
    ))
}

/// The caller's saved prompts, oldest first (at most 200 are kept).
#[utoipa::path(get, path = "/v1/me/prompts", tag = "chat", params(PageRequest),
    responses((status = 200, body = PageView<PromptView>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn list_prompts(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Query(page): Query<PageRequest>,
) -> ApiResult<axum::Json<PageView<PromptView>>> {
    page.validate().map_err(ApiError::code)?;
    let pg = s.chat.list_prompts(p.user_id, &page).await?;
    Ok(axum::Json(PageView { items: pg.items, next_cursor: pg.next_cursor }))
}

/// Saves a prompt (409 `conflict` when the library already holds 200).
#[utoipa::path(post, path = "/v1/me/prompts", tag = "chat", request_body = PromptInput,
    responses((status = 201, body = PromptView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn create_prompt(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Json(i): Json<PromptInput>,
) -> ApiResult<(StatusCode, axum::Json<PromptView>)> {
    Ok((StatusCode::CREATED, axum::Json(s.chat.create_prompt(p.user_id, &i).await?)))
}

/// One of the caller's prompts.
#[utoipa::path(get, path = "/v1/me/prompts/{id}", tag = "chat", params(("id" = String, Path)),
    responses((status = 200, body = PromptView), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn get_prompt(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Path(id): Path<PromptId>,
) -> ApiResult<axum::Json<PromptView>> {
    Ok(axum::Json(s.chat.get_prompt(p.user_id, id).await?))
}

/// Replaces one of the caller's prompts.
#[utoipa::path(put, path = "/v1/me/prompts/{id}", tag = "chat", params(("id" = String, Path)), request_body = PromptInput,
    responses((status = 200, body = PromptView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn replace_prompt(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Path(id): Path<PromptId>,
    Json(i): Json<PromptInput>,
) -> ApiResult<axum::Json<PromptView>> {
    Ok(axum::Json(s.chat.update_prompt(p.user_id, id, &i).await?))
}

/// Deletes one of the caller's prompts.
#[utoipa::path(delete, path = "/v1/me/prompts/{id}", tag = "chat", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn delete_prompt(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Path(id): Path<PromptId>,
) -> ApiResult<StatusCode> {
    s.chat.delete_prompt(p.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
