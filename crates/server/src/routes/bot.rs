//! GAIA's bot management API (seed 002): service interruptions, administrators only.

use crate::error::{ApiError, ApiResult};
use crate::extract::{AdminUser, Json, Path};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use rampart_chat::interruptions::{ActivateRequest, InterruptionStatus, SERVICE_TYPES};
use rampart_core::ErrorCode;
use rampart_core::error::ErrorBody;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(activate, list))
        .routes(routes!(get_one, deactivate))
        .routes(routes!(service_types))
        .routes(routes!(health))
}

fn duration(v: &serde_json::Value) -> ApiResult<std::time::Duration> {
    let bad = || {
        ApiError::new(
            ErrorCode::InvalidRequest,
            "duration must be seconds or a duration such as \"2h\" (at most 7 days)",
        )
    };
    match v {
        serde_json::Value::Number(n) => n.as_u64().map(std::time::Duration::from_secs).ok_or_else(bad),
        serde_json::Value::String(s) => humantime::parse_duration(s).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// Activates a service interruption: until it expires (or is deactivated), replies on that
/// service (`global`: all) are its message and no model is called.
#[utoipa::path(post, path = "/v1/bot-management/interruptions", tag = "bot-management", request_body = ActivateRequest,
    responses((status = 201, body = InterruptionStatus), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn activate(
    State(s): State<AppState>,
    AdminUser(a): AdminUser,
    Json(r): Json<ActivateRequest>,
) -> ApiResult<(StatusCode, axum::Json<InterruptionStatus>)> {
    let d = duration(&r.duration)?;
    let st = s.chat.activate_interruption(a.user_id, &r, d).await?;
    tracing::info!(service_type = %st.service_type, "service interruption activated");
    Ok((StatusCode::CREATED, axum::Json(st)))
}

/// The status of every service type.
#[utoipa::path(get, path = "/v1/bot-management/interruptions", tag = "bot-management",
    responses((status = 200, body = Vec<InterruptionStatus>)), security(("bearer" = [])))]
async fn list(State(s): State<AppState>, AdminUser(_): AdminUser) -> ApiResult<axum::Json<Vec<InterruptionStatus>>> {
    Ok(axum::Json(s.chat.interruptions().await?))
}

/// The status of one service type.
#[utoipa::path(get, path = "/v1/bot-management/interruptions/{service_type}", tag = "bot-management", params(("service_type" = String, Path)),
    responses((status = 200, body = InterruptionStatus), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_one(
    State(s): State<AppState>,
    AdminUser(_): AdminUser,
    Path(t): Path<String>,
) -> ApiResult<axum::Json<InterruptionStatus>> {
    Ok(axum::Json(s.chat.interruption(&t).await?))
}

/// Ends a service interruption.
#[utoipa::path(delete, path = "/v1/bot-management/interruptions/{service_type}", tag = "bot-management", params(("service_type" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn deactivate(
    State(s): State<AppState>,
    AdminUser(_): AdminUser,
    Path(t): Path<String>,
) -> ApiResult<StatusCode> {
    s.chat.deactivate_interruption(&t).await?;
    tracing::info!(service_type = %t, "service interruption deactivated");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceTypes {
    pub service_types: Vec<&'static str>,
}

/// The service types that can be interrupted.
#[utoipa::path(get, path = "/v1/bot-management/service-types", tag = "bot-management",
    responses((status = 200, body = ServiceTypes)), security(("bearer" = [])))]
async fn service_types(AdminUser(_): AdminUser) -> axum::Json<ServiceTypes> {
    axum::Json(ServiceTypes { service_types: SERVICE_TYPES.to_vec() })
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotHealth {
    pub status: &'static str,
    pub active_interruptions: usize,
}

/// Bot management health: the store answers; how many interruptions are active.
#[utoipa::path(get, path = "/v1/bot-management/health", tag = "bot-management",
    responses((status = 200, body = BotHealth)), security(("bearer" = [])))]
async fn health(State(s): State<AppState>, AdminUser(_): AdminUser) -> ApiResult<axum::Json<BotHealth>> {
    let n = s.chat.interruptions().await?.iter().filter(|i| i.active).count();
    Ok(axum::Json(BotHealth { status: "ok", active_interruptions: n }))
}
