//! `/v1/admin/models` and `/v1/admin/assistants`: models and assistants added at runtime by
//! administrators, with the config file's keys (`rampart config example`): request bodies are
//! [`ModelConfig`] and [`AssistantConfig`], answers their views ([`ModelView`],
//! [`AssistantView`]). Write-only fields (API keys, webhook secrets) are stored sealed and never
//! returned: a view lists their names under `secrets`. The config file's entries are listed
//! with `source: "config"` and are read-only here. Every change is audited.

use crate::catalog::{AssistantView, CatalogError, Entry, EntryBody, ModelView};
use crate::config::{AssistantConfig, ModelConfig};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AdminUser, Json, Meta, Path};
use crate::state::AppState;
use axum::extract::{FromRequest, Request, State};
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
        match &e {
            CatalogError::NotAnObject
            | CatalogError::KeyFile
            | CatalogError::IdChanged
            | CatalogError::Unreadable(_)
            | CatalogError::Refused(_) => ApiError::new(ErrorCode::InvalidRequest, e.to_string()),
            CatalogError::NotFound => ApiError::not_found(),
            CatalogError::IdTaken
            | CatalogError::IdInConfigFile
            | CatalogError::ReadOnly
            | CatalogError::ModelInUse(_)
            | CatalogError::EmbeddingModelInUse => ApiError::new(ErrorCode::Conflict, e.to_string()),
            CatalogError::Changed => ApiError::code(ErrorCode::PreconditionFailed),
            CatalogError::Storage(_) | CatalogError::Corrupt { .. } | CatalogError::Sealed { .. } => {
                tracing::error!(error = %e, "catalog");
                ApiError::code(ErrorCode::Internal)
            }
        }
    }
}

/// The body of a `POST` or `PUT`: JSON (malformed JSON is refused as every body is), read as
/// the entry by the catalog once the checks that come first have passed.
impl<S: Send + Sync, E: Entry> FromRequest<S> for EntryBody<E> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Json(v) = Json::<Value>::from_request(req, state).await?;
        Ok(EntryBody::new(v))
    }
}

/// The audit record's action and target of a change to an entry of type `E`.
fn audited<E: Entry>(verb: &str, id: &str) -> (String, String) {
    let kind = E::KIND.as_str();
    (format!("{kind}.{verb}"), format!("{kind}:{id}"))
}

async fn create<E: Entry>(
    s: &AppState,
    m: &RequestMeta,
    a: &Principal,
    body: EntryBody<E>,
) -> ApiResult<(StatusCode, axum::Json<E::View>)> {
    let id = body.id().unwrap_or_default().to_owned();
    let v = s.assistants.create(body, &a.email, s.identity.now()).await?;
    s.catalog_changed().await;
    let (action, target) = audited::<E>("create", &id);
    super::audit(s, m, a, &action, &target).await;
    Ok((StatusCode::CREATED, axum::Json(v)))
}

/// The `version` an `If-Match` header names (`"123"`, `123` or `W/"123"`), if one is sent.
pub(crate) fn if_match(headers: &axum::http::HeaderMap) -> ApiResult<Option<i64>> {
    let Some(v) = headers.get(axum::http::header::IF_MATCH) else { return Ok(None) };
    let bad = || ApiError::new(ErrorCode::InvalidRequest, "If-Match must be an entry's version");
    let s = v.to_str().map_err(|_| bad())?.trim();
    let s = s.strip_prefix("W/").unwrap_or(s).trim_matches('"');
    s.parse::<i64>().map(Some).map_err(|_| bad())
}

async fn replace<E: Entry>(
    s: &AppState,
    m: &RequestMeta,
    a: &Principal,
    id: &str,
    headers: &axum::http::HeaderMap,
    body: EntryBody<E>,
) -> ApiResult<axum::Json<E::View>> {
    let expected = if_match(headers)?;
    let v = s.assistants.replace(id, body, &a.email, s.identity.now(), expected).await?;
    s.catalog_changed().await;
    let (action, target) = audited::<E>("update", id);
    super::audit(s, m, a, &action, &target).await;
    Ok(axum::Json(v))
}

async fn delete<E: Entry>(s: &AppState, m: &RequestMeta, a: &Principal, id: &str) -> ApiResult<StatusCode> {
    s.assistants.delete::<E>(id).await?;
    s.catalog_changed().await;
    let (action, target) = audited::<E>("delete", id);
    super::audit(s, m, a, &action, &target).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Every model: the config file's (`source: "config"`) and the administrators' (`"admin"`).
#[utoipa::path(get, path = "/v1/admin/models", tag = "admin",
    responses((status = 200, body = Vec<ModelView>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_models(State(s): State<AppState>, AdminUser(_): AdminUser) -> ApiResult<axum::Json<Vec<ModelView>>> {
    Ok(axum::Json(s.assistants.list::<ModelConfig>().await?))
}

/// Adds a model (the config file's `[[models]]` keys; `api_key_file` is refused: send
/// `api_key`). The upstream is not called.
#[utoipa::path(post, path = "/v1/admin/models", tag = "admin", request_body = ModelConfig,
    responses((status = 201, body = ModelView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn create_model(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    body: EntryBody<ModelConfig>,
) -> ApiResult<(StatusCode, axum::Json<ModelView>)> {
    create(&s, &m, &a, body).await
}

/// One model.
#[utoipa::path(get, path = "/v1/admin/models/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = ModelView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_model(
    State(s): State<AppState>,
    AdminUser(_): AdminUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ModelView>> {
    Ok(axum::Json(s.assistants.get::<ModelConfig>(&id).await?))
}

/// Replaces a model added at runtime (`id` may be left out). Write-only fields left out keep
/// their values; `""` (`{}` for `headers`) removes one.
#[utoipa::path(put, path = "/v1/admin/models/{id}", tag = "admin", params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "The entry's `version` as read: refused with 412 if it changed since")), request_body = ModelConfig,
    responses((status = 200, body = ModelView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 412, body = ErrorBody)), security(("bearer" = [])))]
async fn replace_model(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: EntryBody<ModelConfig>,
) -> ApiResult<axum::Json<ModelView>> {
    replace(&s, &m, &a, &id, &headers, body).await
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
    delete::<ModelConfig>(&s, &m, &a, &id).await
}

/// Every assistant: the config file's and the administrators'.
#[utoipa::path(get, path = "/v1/admin/assistants", tag = "admin",
    responses((status = 200, body = Vec<AssistantView>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_assistants(
    State(s): State<AppState>,
    AdminUser(_): AdminUser,
) -> ApiResult<axum::Json<Vec<AssistantView>>> {
    Ok(axum::Json(s.assistants.list::<AssistantConfig>().await?))
}

/// Adds an assistant (the config file's `[[assistants]]` keys). `groups` restricts who may use
/// it.
#[utoipa::path(post, path = "/v1/admin/assistants", tag = "admin", request_body = AssistantConfig,
    responses((status = 201, body = AssistantView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn create_assistant(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    body: EntryBody<AssistantConfig>,
) -> ApiResult<(StatusCode, axum::Json<AssistantView>)> {
    create(&s, &m, &a, body).await
}

/// One assistant.
#[utoipa::path(get, path = "/v1/admin/assistants/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = AssistantView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_assistant(
    State(s): State<AppState>,
    AdminUser(_): AdminUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<AssistantView>> {
    Ok(axum::Json(s.assistants.get::<AssistantConfig>(&id).await?))
}

/// Replaces an assistant added at runtime (`id` may be left out; `If-Match: "<version>"`
/// makes it conditional). A `webhook_secret` left out keeps its value; `""` removes it.
#[utoipa::path(put, path = "/v1/admin/assistants/{id}", tag = "admin", params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "The entry's `version` as read: refused with 412 if it changed since")), request_body = AssistantConfig,
    responses((status = 200, body = AssistantView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 412, body = ErrorBody)), security(("bearer" = [])))]
async fn replace_assistant(
    State(s): State<AppState>,
    Meta(m): Meta,
    AdminUser(a): AdminUser,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: EntryBody<AssistantConfig>,
) -> ApiResult<axum::Json<AssistantView>> {
    replace(&s, &m, &a, &id, &headers, body).await
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
    delete::<AssistantConfig>(&s, &m, &a, &id).await
}
