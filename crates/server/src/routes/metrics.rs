//! `GET /metrics` and the middleware that counts and times every routed request; the
//! registry itself is `crate::metrics`.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Counts and times every request that reached the router (refusals before routing are
/// counted by rule instead). The route label is the matched template, or `unmatched`.
pub async fn track(State(s): State<AppState>, req: Request, next: Next) -> Response {
    // One allocation for the route, shared by the labels and the access log's notes.
    let route = req.extensions().get::<MatchedPath>().map(|m| Arc::new(m.as_str().to_owned()));
    if let (Some(n), Some(r)) = (req.extensions().get::<rampart_edge::RequestNotes>(), &route) {
        n.update(|n| n.route = Some(r.clone()));
    }
    let method = req.method().clone();
    let t = Instant::now();
    let resp = next.run(req).await;
    s.metrics.observe_http(route, &method, resp.status().as_u16(), t.elapsed().as_secs_f64());
    resp
}

/// `GET /metrics` on the separate metrics listener (no authentication: bind it where only the
/// scraper can reach it) or on the main listener for administrators.
pub async fn exposition(State(s): State<AppState>) -> Response {
    let queue_depths = match s.db.queue_depths().await {
        Ok(rows) => Some(rows),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read queue depths");
            None
        }
    };
    let now = crate::metrics::Scrape {
        ws_connections: s.realtime_limits.open_connections(),
        http_in_flight: s.in_flight.load(Ordering::Relaxed),
        queue_depths,
    };
    let body = s.metrics.render(now);
    Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
        .body(axum::body::Body::from(body))
        .unwrap_or_default()
}

/// `/metrics` on the main listener: administrators only (e.g. an admin-scoped API key).
pub async fn admin_exposition(s: State<AppState>, _a: crate::extract::AdminUser) -> Response {
    exposition(s).await
}
