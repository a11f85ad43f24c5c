//! `GET /metrics` and the middleware that counts and times every routed request; the
//! registry itself is `crate::metrics`.

use crate::metrics::Exposition;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, header};
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

/// What one media range of an `Accept` header offers: the format and its weight (`q`).
fn media_range(range: &str) -> Option<(Exposition, f32)> {
    let mut parts = range.split(';').map(str::trim);
    let kind = parts.next()?.to_ascii_lowercase();
    let (mut q, mut version) = (1.0_f32, None);
    for p in parts {
        let (k, v) = p.split_once('=')?;
        match k.trim().to_ascii_lowercase().as_str() {
            "q" => q = v.trim().parse().ok()?,
            "version" => version = Some(v.trim().trim_matches('"').to_owned()),
            _ => {}
        }
    }
    // Only the versions written here: a scraper asking for another one gets its next choice.
    let format = match (kind.as_str(), version.as_deref()) {
        ("application/openmetrics-text", None | Some("1.0.0")) => Exposition::OpenMetrics,
        ("text/plain", None | Some("0.0.4")) | ("text/*" | "*/*", None) => Exposition::Classic,
        _ => return None,
    };
    Some((format, q))
}

/// The format the scraper prefers (highest `q`; the first listed among equals). No `Accept`, or
/// nothing in it that we write: the classic format, which every Prometheus-compatible scraper
/// and `promtool check metrics` read.
pub fn negotiate(headers: &HeaderMap) -> Exposition {
    let mut best: Option<(Exposition, f32)> = None;
    let ranges = headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(','));
    for (format, q) in ranges.filter_map(media_range) {
        if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((format, q));
        }
    }
    best.map_or(Exposition::Classic, |(f, _)| f)
}

/// `GET /metrics` on the separate metrics listener (no authentication: bind it where only the
/// scraper can reach it) or on the main listener for administrators. OpenMetrics or the classic
/// text format, as the scraper's `Accept` asks.
pub async fn exposition(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let format = negotiate(&headers);
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
    let body = s.metrics.render(now, format);
    Response::builder()
        .header(header::CONTENT_TYPE, format.content_type())
        .header(header::VARY, "accept")
        .body(axum::body::Body::from(body))
        .unwrap_or_default()
}

/// `/metrics` on the main listener: administrators only (e.g. an admin-scoped API key).
pub async fn admin_exposition(s: State<AppState>, _a: crate::extract::AdminUser, headers: HeaderMap) -> Response {
    exposition(s, headers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(accept: &[&str]) -> Exposition {
        let mut h = HeaderMap::new();
        for a in accept {
            h.append(header::ACCEPT, a.parse().unwrap());
        }
        negotiate(&h)
    }

    #[test]
    fn the_scrapers_preference_picks_the_format() {
        use Exposition::{Classic, OpenMetrics};
        // Prometheus 2.x's own header, and with protobuf (not written here) first.
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(pick(&[prometheus]), OpenMetrics);
        assert_eq!(
            pick(&[
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,text/plain;version=0.0.4;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4"
            ]),
            Classic
        );
        assert_eq!(pick(&["application/openmetrics-text"]), OpenMetrics);
        assert_eq!(pick(&["Application/OpenMetrics-Text; Version=\"1.0.0\""]), OpenMetrics);
        assert_eq!(pick(&["text/plain;q=0.2", "application/openmetrics-text;q=0.9"]), OpenMetrics);
        assert_eq!(pick(&["application/openmetrics-text;q=0.5, text/plain;q=0.5"]), OpenMetrics, "first among equals");
        // A version we do not write, q=0, nothing we write, or no header: the classic format.
        assert_eq!(pick(&["application/openmetrics-text;version=2.0.0"]), Classic);
        assert_eq!(pick(&["application/openmetrics-text;q=0, */*;q=0.1"]), Classic);
        assert_eq!(pick(&["application/json"]), Classic);
        assert_eq!(pick(&["*/*"]), Classic);
        assert_eq!(pick(&[]), Classic);
        assert_eq!(pick(&["text/plain;version=0.0.4"]), Classic);
    }
}
