//! Liveness and readiness.

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or what is not ready.
    status: &'static str,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz))
}

/// Liveness: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
async fn healthz() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

/// Readiness: the database answers and takes writes (a full disk is not ready), the server is not shutting down, and it is not saturated
/// (more than `server.max_in_flight` requests in flight, or every database connection busy).
#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    if !s.is_ready() {
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(Health { status: "shutting_down" }));
    }
    if s.saturated() {
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(Health { status: "saturated" }));
    }
    match tokio::time::timeout(std::time::Duration::from_secs(2), s.db.ping()).await {
        Ok(Ok(())) => writable(&s).await,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(Health { status: "database_unavailable" }))
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(Health { status: "database_timeout" })),
    }
}

/// The rest of readiness once the database answered: whether it takes a write.
async fn writable(s: &AppState) -> (StatusCode, axum::Json<Health>) {
    match tokio::time::timeout(std::time::Duration::from_secs(2), s.db.write_probe(s.identity.now())).await {
        Ok(Ok(())) => (StatusCode::OK, axum::Json(Health { status: "ok" })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the database takes no writes");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(Health { status: "database_read_only" }))
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(Health { status: "database_timeout" })),
    }
}
