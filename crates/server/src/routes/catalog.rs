//! `/v1/admin/models` and `/v1/admin/assistants`: models and assistants added at runtime by
//! administrators, with the config file's keys (`rampart config example`). Write-only fields
//! (API keys, webhook secrets) are stored sealed and never returned: a view lists their names
//! under `secrets`. The config file's entries are listed with `source: "config"` and are
//! read-only here. Every change is audited.

use crate::catalog::{CatalogError, Kind};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AdminUser, Json, Meta, Path};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use rampart_core::error::ErrorBody;
use rampart_core::{ErrorCode, Principal};
use rampart_identity::RequestMeta;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_models, create_model))
        .routes(routes!(get_model, replace_model, delete_model))
        .routes(routes!(list_assistants, create_assistant))
        .routes(routes!(get_assistant, replace_assistant, delete_assistant))
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Invalid(m) => ApiError::new(ErrorCode::InvalidRequest, m),
            CatalogError::NotFound => ApiError::not_found(),
            CatalogError::Conflict(m) => ApiError::new(ErrorCode::Conflict, m),
            CatalogError::Changed => ApiError::code(ErrorCode::PreconditionFailed),
            CatalogError::Internal(m) => {
                tracing::error!(error = %m, "catalog");
                ApiError::code(ErrorCode::Internal)
            }
        }
    }
}

fn target(kind: Kind, id: &str) -> String {
    match kind {
        Kind::Model => format!("model:{id}"),
        Kind::Assistant => format!("assistant:{id}"),
    }
}

async fn create(
    s: &AppState,
    m: &RequestMeta,
    a: &Principal,
    kind: Kind,
    body: Value,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let v = s.assistants.create(kind, body, &a.email, s.identity.now()).await?;
    s.catalog_changed().await;
    let id = v["id"].as_str().unwrap_or_default().to_owned();
    super::audit(s, m, a, if kind == Kind::Model { "model.create" } else { "assistant.create" }, &target(kind, &id))
        .await;
    Ok((StatusCode::CREATED, axum::Json(v)))
}

/// The `version` an `If-Match` header names (`"123"`, `123` or `W/"123"`), if one is sent.
fn if_match(headers: &axum::http::HeaderMap) -> ApiResult<Option<i64>> {
    let Some(v) = headers.get(axum::http::header::IF_MATCH) else { return Ok(None) };
    let bad = || ApiError::new(ErrorCode::InvalidRequest, "If-Match must be an entry's version");
    let s = v.to_str().map_err(|_| bad())?.trim();
    let s = s.strip_prefix("W/").unwrap_or(s).trim_matches('"');
    s.parse::<i64>().map(Some).map_err(|_| bad())
}

async fn replace(
    s: &AppState,
    m: &RequestMeta,
    a: &Principal,
    kind: Kind,
    id: &str,
    headers: &axum::http::HeaderMap,
    body: Value,
) -> ApiResult<axum::Json<Value>> {
    let expected = if_match(headers)?;
    let v = s.assistants.replace(kind, id, body, &a.email, s.identity.now(), expected).await?;
    s.catalog_changed().await;
    super::audit(s, m, a, if kind == Kind::Model { "model.update" } else { "assistant.update" }, &target(kind, id))
        .await;
    Ok(axum::Json(v))
}

async fn delete(s: &AppState, m: &RequestMeta, a: &Principal, kind: Kind, id: &str) -> ApiResult<StatusCode> {
    s.assistants.delete(kind, id).await?;
    s.catalog_changed().await;
    super::audit(s, m, a, if kind == Kind::Model { "model.delete" } else { "assistant.delete" }, &target(kind, id))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Every model: the config file's (`source: "config"`) and the administrators' (`"admin"`).
#[utoipa::path(get, path = "/v1/admin/models", tag = "admin",
    responses((status = 200, body = Vec<Object>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_models(State(s): State<AppState>, AdminUser(_): AdminUser) -> ApiResult<axum::Json<Vec<Value>>> {
    Ok(axum::Json(s.assistants.list(Kind::Model).await?))
}

/// Adds a model: `{id, provider, base_url, model, api_key?, timeout?, max_retries?, …}` (the
/// config file's `[[models]]` keys). The upstream is not called.
#[utoipa::path(post, path = "/v1/admin/models", tag = "admin", request_body = Object,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn create_model(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Json(body): Json<Value>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    create(&s, &m, &a, Kind::Model, body).await
}

/// One model.
#[utoipa::path(get, path = "/v1/admin/models/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_model(
    State(s): State<AppState>,
    AdminUser(_): AdminUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(s.assistants.get(Kind::Model, &id).await?))
}

/// Replaces a model added at runtime. Write-only fields left out keep their values; `""`
/// removes one.
#[utoipa::path(put, path = "/v1/admin/models/{id}", tag = "admin", params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "The entry's `version` as read: refused with 412 if it changed since")), request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 412, body = ErrorBody)), security(("bearer" = [])))]
async fn replace_model(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    Json(body): Json<Value>,
) -> ApiResult<axum::Json<Value>> {
    replace(&s, &m, &a, Kind::Model, &id, &headers, body).await
}

/// Removes a model added at runtime (refused while an assistant uses it).
#[utoipa::path(delete, path = "/v1/admin/models/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn delete_model(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    delete(&s, &m, &a, Kind::Model, &id).await
}

/// Every assistant: the config file's and the administrators'.
#[utoipa::path(get, path = "/v1/admin/assistants", tag = "admin",
    responses((status = 200, body = Vec<Object>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_assistants(State(s): State<AppState>, AdminUser(_): AdminUser) -> ApiResult<axum::Json<Vec<Value>>> {
    Ok(axum::Json(s.assistants.list(Kind::Assistant).await?))
}

/// Adds an assistant: `{id, kind: model|custom|extractive, model?, system_prompt?,
/// inference_max_tokens?, inference_temperature?, inference_top_p?, groups?, webhook_url?,
/// webhook_secret?, webhook_timeout?}`. `groups` restricts who may use it.
#[utoipa::path(post, path = "/v1/admin/assistants", tag = "admin", request_body = Object,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn create_assistant(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Json(body): Json<Value>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    create(&s, &m, &a, Kind::Assistant, body).await
}

/// One assistant.
#[utoipa::path(get, path = "/v1/admin/assistants/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_assistant(
    State(s): State<AppState>,
    AdminUser(_): AdminUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(s.assistants.get(Kind::Assistant, &id).await?))
}

/// Replaces an assistant added at runtime (`If-Match: "<version>"` makes it conditional).
#[utoipa::path(put, path = "/v1/admin/assistants/{id}", tag = "admin", params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "The entry's `version` as read: refused with 412 if it changed since")), request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 412, body = ErrorBody)), security(("bearer" = [])))]
async fn replace_assistant(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    Json(body): Json<Value>,
) -> ApiResult<axum::Json<Value>> {
    replace(&s, &m, &a, Kind::Assistant, &id, &headers, body).await
}

/// Removes an assistant added at runtime.
#[utoipa::path(delete, path = "/v1/admin/assistants/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn delete_assistant(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    delete(&s, &m, &a, Kind::Assistant, &id).await
}
