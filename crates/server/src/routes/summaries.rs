//! Meeting summaries and the templates they are written from, and the assistant panel's
//! shortcut buttons:
//!
//! - `GET /v1/meetings/{id}/summary`: the summary (readers of the meeting); `POST` writes it
//!   again in the background (owner or administrator). Another user's meeting is not found.
//! - `GET /v1/meetings/shortcuts`: the shortcut buttons in effect (any user of meetings).
//! - `/v1/admin/meeting-templates/{kind}` (`summary` or `shortcuts`): LMA's default/custom
//!   pattern — list, override one entry (`PUT …/{key}`, `If-Match` its version), put one back
//!   to its default (`DELETE …/{key}`), every one (`POST …/reset`).

use crate::error::{ApiError, ApiResult};
use crate::extract::{AdminUser, Json, MeetingsUser, Meta, Path};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use rampart_core::error::ErrorBody;
use rampart_meetings::summary::SummaryView;
use rampart_meetings::templates::{Shortcut, TemplateInput, TemplateKind, TemplateView};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_summary, regenerate_summary))
        .routes(routes!(shortcuts))
        .routes(routes!(list_templates))
        .routes(routes!(put_template, reset_template))
        .routes(routes!(reset_templates))
}

/// The meeting's summary: Markdown sections, whether it is extractive (no model), and where
/// its writing is (`status`; a page polls while it is `pending` or `running`).
#[utoipa::path(get, path = "/v1/meetings/{id}/summary", tag = "meetings", params(("id" = String, Path, description = "The call id")),
    responses((status = 200, body = SummaryView), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn get_summary(
    State(s): State<AppState>,
    MeetingsUser(p): MeetingsUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<SummaryView>> {
    Ok(axum::Json(s.meetings.summary(&p, &id).await?))
}

/// Writes the summary again, in the background (owner or administrator): 202 with the summary
/// as it is, `pending`. 409 while the meeting runs, while a summary is being written, or when
/// the transcript was removed.
#[utoipa::path(post, path = "/v1/meetings/{id}/summary", tag = "meetings", params(("id" = String, Path, description = "The call id")),
    responses((status = 202, body = SummaryView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
async fn regenerate_summary(
    State(s): State<AppState>,
    MeetingsUser(p): MeetingsUser,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, axum::Json<SummaryView>)> {
    Ok((StatusCode::ACCEPTED, axum::Json(s.meetings.regenerate_summary(&p, &id).await?)))
}

#[derive(Serialize, ToSchema)]
pub struct ShortcutList {
    /// In order.
    pub items: Vec<Shortcut>,
}

/// The shortcut buttons of the meeting assistant's panel, as administrators set them.
#[utoipa::path(get, path = "/v1/meetings/shortcuts", tag = "meetings",
    responses((status = 200, body = ShortcutList), (status = 403, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn shortcuts(State(s): State<AppState>, MeetingsUser(_): MeetingsUser) -> ApiResult<axum::Json<ShortcutList>> {
    Ok(axum::Json(ShortcutList { items: s.meetings.shortcuts().await? }))
}

#[derive(Serialize, ToSchema)]
pub struct TemplateList {
    pub kind: TemplateKind,
    /// Every entry, hidden ones included, in order.
    pub items: Vec<TemplateView>,
}

async fn template_list(s: &AppState, kind: TemplateKind) -> ApiResult<axum::Json<TemplateList>> {
    Ok(axum::Json(TemplateList { kind, items: s.meetings.templates(kind).await? }))
}

/// The templates of a kind: the shipped defaults and the administrators' entries, merged.
#[utoipa::path(get, path = "/v1/admin/meeting-templates/{kind}", tag = "admin", params(("kind" = TemplateKind, Path)),
    responses((status = 200, body = TemplateList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn list_templates(
    State(s): State<AppState>,
    AdminUser(_): AdminUser,
    Path(kind): Path<TemplateKind>,
) -> ApiResult<axum::Json<TemplateList>> {
    template_list(&s, kind).await
}

/// Sets an administrator's entry: the key of a default overrides it (`enabled: false` hides
/// it), another key adds one. Upgrades never change it. `If-Match: "<version>"` refuses (412)
/// if it changed since it was read.
#[utoipa::path(put, path = "/v1/admin/meeting-templates/{kind}/{key}", tag = "admin",
    params(("kind" = TemplateKind, Path), ("key" = String, Path), ("If-Match" = Option<String>, Header, description = "The entry's `version` as read")),
    request_body = TemplateInput,
    responses((status = 200, body = TemplateView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody)),
    security(("bearer" = [])))]
async fn put_template(
    State(s): State<AppState>,
    AdminUser(a): AdminUser,
    meta: Meta,
    Path((kind, key)): Path<(TemplateKind, String)>,
    headers: HeaderMap,
    Json(input): Json<TemplateInput>,
) -> ApiResult<axum::Json<TemplateView>> {
    let expected = super::catalog::if_match(&headers)?;
    let v = s.meetings.put_template(&a, kind, &key, &input, expected).await?;
    super::audit(&s, &meta.0, &a, "meeting_template.put", &format!("meeting_template:{}/{key}", kind.as_str())).await;
    Ok(axum::Json(v))
}

/// Removes the administrators' entry of a key: its default applies again (an added entry is
/// gone). 404 when there is none.
#[utoipa::path(delete, path = "/v1/admin/meeting-templates/{kind}/{key}", tag = "admin",
    params(("kind" = TemplateKind, Path), ("key" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn reset_template(
    State(s): State<AppState>,
    AdminUser(a): AdminUser,
    meta: Meta,
    Path((kind, key)): Path<(TemplateKind, String)>,
) -> ApiResult<StatusCode> {
    s.meetings.reset_template(kind, &key).await?;
    super::audit(&s, &meta.0, &a, "meeting_template.reset", &format!("meeting_template:{}/{key}", kind.as_str())).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes every administrators' entry of a kind: the shipped defaults alone apply.
#[utoipa::path(post, path = "/v1/admin/meeting-templates/{kind}/reset", tag = "admin", params(("kind" = TemplateKind, Path)),
    responses((status = 200, body = TemplateList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn reset_templates(
    State(s): State<AppState>,
    AdminUser(a): AdminUser,
    meta: Meta,
    Path(kind): Path<TemplateKind>,
) -> ApiResult<axum::Json<TemplateList>> {
    s.meetings.reset_templates(kind).await.map_err(ApiError::from)?;
    super::audit(&s, &meta.0, &a, "meeting_template.reset_all", &format!("meeting_template:{}", kind.as_str())).await;
    template_list(&s, kind).await
}
