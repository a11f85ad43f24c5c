//! The access log: one JSON line per request — method, path (never the query string), route
//! template, status, latency, client address, principal id, request id, TLS version and the
//! rule that refused it, if one did — to stdout or to daily files with a retention count
//! (`tracing-appender`'s rolling writer, written off the request path by its worker thread).

use crate::config::{AccessLogConfig, AccessLogTarget};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use rampart_edge::{RequestId, RequestNotes};
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use tracing_appender::non_blocking::{NonBlocking, WorkerGuard};

/// The writer; lines are dropped (and counted by the writer) rather than block a request when
/// the disk falls behind.
pub struct AccessLog {
    writer: Option<NonBlocking>,
    _guard: Option<WorkerGuard>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessLog")
    }
}

impl AccessLog {
    pub fn open(c: &AccessLogConfig, data_dir: &Path) -> anyhow::Result<AccessLog> {
        let (w, g) = match c.target {
            AccessLogTarget::Off => return Ok(AccessLog { writer: None, _guard: None }),
            AccessLogTarget::File => {
                let dir = c.dir.clone().unwrap_or_else(|| data_dir.join("logs"));
                crate::keys::ensure_data_dir(&dir)?;
                let appender = tracing_appender::rolling::Builder::new()
                    .rotation(tracing_appender::rolling::Rotation::DAILY)
                    .filename_prefix("access")
                    .filename_suffix("jsonl")
                    .max_log_files(c.max_files)
                    .build(&dir)
                    .map_err(|e| anyhow::anyhow!("access_log.dir {}: {e}", dir.display()))?;
                tracing_appender::non_blocking(appender)
            }
            AccessLogTarget::Stdout => tracing_appender::non_blocking(std::io::stdout()),
        };
        Ok(AccessLog { writer: Some(w), _guard: Some(g) })
    }

    pub fn enabled(&self) -> bool {
        self.writer.is_some()
    }
}

#[derive(Serialize)]
struct Line<'a> {
    ts: String,
    method: &'a str,
    path: &'a str,
    route: Option<&'a str>,
    status: u16,
    latency_ms: f64,
    client_ip: Option<String>,
    principal: Option<&'a str>,
    request_id: Option<&'a str>,
    tls: Option<&'static str>,
    rule: Option<&'static str>,
}

/// The outermost middleware (inside request ids): leaves a notes slot for the inner layers and
/// writes the line once the response head is ready.
pub async fn log(State(log): State<Arc<AccessLog>>, mut req: Request, next: Next) -> Response {
    let Some(writer) = log.writer.clone() else { return next.run(req).await };
    let notes = RequestNotes::default();
    req.extensions_mut().insert(notes.clone());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let rid = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let conn = req.extensions().get::<ConnectInfo<crate::tls::Peer>>().map(|c| c.0);
    let tls = conn.and_then(|p| p.tls);
    let peer = conn
        .map(|p| p.addr.ip())
        .or_else(|| req.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip()));
    let t = Instant::now();
    let resp = next.run(req).await;
    let n = notes.take();
    let line = Line {
        ts: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        method: method.as_str(),
        path: &path,
        route: n.route.as_deref().map(String::as_str),
        status: resp.status().as_u16(),
        latency_ms: (t.elapsed().as_secs_f64() * 1e6).round() / 1e3,
        client_ip: n.client_ip.or(peer).map(|ip| ip.to_string()),
        principal: n.principal.as_deref(),
        request_id: rid.as_deref(),
        tls,
        rule: n.rule,
    };
    let mut buf = Vec::with_capacity(256);
    if serde_json::to_writer(&mut buf, &line).is_ok() {
        buf.push(b'\n');
        let mut w = writer;
        let _ = w.write_all(&buf);
    }
    resp
}
