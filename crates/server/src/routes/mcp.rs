//! `/mcp`: the MCP server over streamable HTTP (the protocol is in `crate::mcp`), and the
//! OAuth 2.0 Protected Resource Metadata (RFC 9728) MCP clients discover Rampart's
//! authorization server from.
//!
//! A POST carries one JSON-RPC message; the answer is one JSON object (never an event stream:
//! no tool streams) or `202` for a notification. `GET` and `DELETE` are `405`: there is no
//! server-initiated stream and no session to end. Refusals before the message is read (origin,
//! credential, scope, rate, `Accept`, `Content-Type`, size) are Rampart's `{code, message}`;
//! everything after is JSON-RPC.

use crate::error::ApiError;
use crate::extract::McpUser;
use crate::mcp::{Headers, Reply};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rampart_core::ErrorCode;
use rampart_core::error::ErrorBody;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Where the endpoint's protected resource metadata is (RFC 9728 §3.1: the well-known path
/// with the resource's path appended).
pub const RESOURCE_METADATA_PATH: &str = "/.well-known/oauth-protected-resource/mcp";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_mcp)).routes(routes!(protected_resource))
}

/// The URL of the endpoint's protected resource metadata.
pub fn resource_metadata_url(s: &AppState) -> String {
    format!("{}{RESOURCE_METADATA_PATH}", s.config.public_url())
}

fn value<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Whether `Accept` allows a JSON answer (clients send `application/json, text/event-stream`).
fn accepts_json(h: &HeaderMap) -> bool {
    value(h, "accept").is_some_and(|a| {
        a.split(',').any(|t| {
            let t = t.split(';').next().unwrap_or("").trim();
            ["application/json", "application/*", "*/*"].iter().any(|x| t.eq_ignore_ascii_case(x))
        })
    })
}

fn is_json(h: &HeaderMap) -> bool {
    value(h, "content-type")
        .and_then(|c| c.split(';').next())
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("application/json"))
}

/// The MCP endpoint (streamable HTTP): one JSON-RPC 2.0 message per POST — `initialize`,
/// `ping`, `server/discover`, `tools/list`, `tools/call`; notifications are `202`. API keys need
/// the `mcp` scope; OAuth clients need a token granted `mcp` for this resource (the `401`'s
/// `WWW-Authenticate` names the metadata to start from).
#[utoipa::path(post, path = "/mcp", tag = "mcp",
    request_body(content = Object, description = "One JSON-RPC 2.0 request or notification"),
    responses(
        (status = 200, body = Object, description = "The JSON-RPC response (errors included)"),
        (status = 202, description = "A notification, accepted"),
        (status = 400, body = Object, description = "A malformed message or, for 2026-07-28, mismatched headers or an unsupported version (JSON-RPC error); or an API key with a bearer token (`ambiguous_credentials`, an ErrorBody)"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = Object, description = "2026-07-28: an unknown method (JSON-RPC error -32601)"),
        (status = 406, body = ErrorBody), (status = 415, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
async fn post_mcp(
    State(s): State<AppState>,
    McpUser(p): McpUser,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if !accepts_json(&headers) {
        return ApiError::code(ErrorCode::NotAcceptable).into_response();
    }
    if !is_json(&headers) {
        return ApiError::code(ErrorCode::UnsupportedMediaType).into_response();
    }
    let body = match body {
        Ok(b) => b,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return ApiError::code(ErrorCode::PayloadTooLarge).into_response();
        }
        Err(_) => return ApiError::code(ErrorCode::InvalidRequest).into_response(),
    };
    let h = Headers {
        protocol_version: value(&headers, "mcp-protocol-version"),
        method: value(&headers, "mcp-method"),
        name: value(&headers, "mcp-name"),
    };
    match crate::mcp::handle(&s.mcp_tools, &p, &h, &body).await {
        Reply::Accepted => StatusCode::ACCEPTED.into_response(),
        Reply::Message { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            (status, [(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
        }
    }
}

/// OAuth 2.0 Protected Resource Metadata (RFC 9728) of `/mcp`: the resource, Rampart as its
/// authorization server, the `mcp` scope.
#[utoipa::path(get, path = "/.well-known/oauth-protected-resource/mcp", tag = "mcp", responses((status = 200, body = Object)))]
async fn protected_resource(State(s): State<AppState>) -> impl IntoResponse {
    let body = serde_json::json!({
        "resource": s.identity.mcp_resource(),
        "authorization_servers": [s.config.public_url()],
        "scopes_supported": ["mcp"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Rampart",
    });
    ([(header::CACHE_CONTROL, "public, max-age=300")], axum::Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, v.parse().unwrap_or_else(|_| unreachable!()));
        }
        m
    }

    #[test]
    fn accept_and_content_type() {
        assert!(accepts_json(&h(&[("accept", "application/json, text/event-stream")])));
        assert!(accepts_json(&h(&[("accept", "text/event-stream;q=0.5, */*;q=0.1")])));
        assert!(!accepts_json(&h(&[("accept", "text/event-stream")])));
        assert!(!accepts_json(&h(&[])));
        assert!(is_json(&h(&[("content-type", "Application/JSON; charset=utf-8")])));
        assert!(!is_json(&h(&[("content-type", "text/plain")])));
    }
}
