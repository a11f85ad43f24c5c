//! JSON-RPC 2.0 envelopes, the era a request speaks, the per-request era's checks of `_meta`
//! and headers, and the HTTP status each answer goes out with.

use super::methods;
use super::{HANDSHAKE_VERSIONS, MODERN_VERSIONS};
use base64::Engine as _;
use rampart_core::Principal;
use rampart_core::tools::ToolRegistry;
use serde_json::{Map, Value, json};

pub(super) const PARSE_ERROR: i64 = -32700;
pub(super) const INVALID_REQUEST: i64 = -32600;
pub(super) const METHOD_NOT_FOUND: i64 = -32601;
pub(super) const INVALID_PARAMS: i64 = -32602;
/// `HeaderMismatch` (2026-07-28).
pub(super) const HEADER_MISMATCH: i64 = -32020;
/// `UnsupportedProtocolVersion` (2026-07-28).
pub(super) const UNSUPPORTED_VERSION: i64 = -32022;

const VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
const CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";
/// What a handshake-era request without `MCP-Protocol-Version` speaks (the specification's rule
/// for clients older than `2025-06-18`).
const VERSION_WITHOUT_HEADER: &str = "2025-03-26";

/// The `MCP-*` request headers (values as sent).
#[derive(Clone, Copy, Debug, Default)]
pub struct Headers<'a> {
    pub protocol_version: Option<&'a str>,
    pub method: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// What the route sends back.
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// `202 Accepted`, no body: a notification or a client's response.
    Accepted,
    /// A JSON-RPC response with its HTTP status.
    Message { status: u16, body: Value },
}

/// A JSON-RPC error.
#[derive(Debug)]
pub(super) struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), data: None }
    }
}

/// A request: its id (a string or an integer), method and params (an object, or null).
pub(super) struct Request {
    pub id: Value,
    pub method: String,
    pub params: Value,
}

/// Which era a request speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Era {
    /// A handshake-era version (the one the request's header names).
    Handshake(&'static str),
    /// The per-request era: the version is in `params._meta` (and checked there).
    Modern,
}

/// Answers one POST body from `caller`.
pub async fn handle(tools: &ToolRegistry, caller: &Principal, headers: &Headers<'_>, body: &[u8]) -> Reply {
    let Ok(msg) = serde_json::from_slice::<Value>(body) else {
        return reply(Era::Handshake(VERSION_WITHOUT_HEADER), Value::Null, Err(parse_error()));
    };
    let req = match envelope(msg) {
        Ok(Some(r)) => r,
        Ok(None) => return Reply::Accepted,
        Err(e) => return reply(Era::Handshake(VERSION_WITHOUT_HEADER), Value::Null, Err(e)),
    };
    let era = era_of(&req, headers);
    let out = match era {
        Era::Handshake(_) => methods::handshake_era(tools, caller, &req).await,
        Era::Modern => match checked_version(&req, headers) {
            Ok(_) => methods::modern_era(tools, caller, &req).await,
            Err(e) => Err(e),
        },
    };
    reply(era, req.id, out)
}

fn parse_error() -> RpcError {
    RpcError::new(PARSE_ERROR, "Parse error: the body is not JSON.")
}

/// The request in a message, `None` for what is only acknowledged (a notification, or a
/// response to a request of ours), or why it is not a JSON-RPC message we take.
fn envelope(msg: Value) -> Result<Option<Request>, RpcError> {
    let invalid = |m: &str| RpcError::new(INVALID_REQUEST, m);
    let mut m = match msg {
        Value::Object(m) => m,
        Value::Array(_) => return Err(invalid("Batches are not supported: send one message per request.")),
        _ => return Err(invalid("The body must be a JSON-RPC message (an object).")),
    };
    if m.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid("jsonrpc must be \"2.0\"."));
    }
    let (method, id) = match (m.remove("method"), m.remove("id")) {
        (Some(Value::String(_)), None) => return Ok(None),
        (None, Some(_)) if m.contains_key("result") || m.contains_key("error") => return Ok(None),
        (Some(Value::String(method)), Some(id)) if id.is_string() || id.is_i64() || id.is_u64() => (method, id),
        (Some(Value::String(_)), Some(_)) => return Err(invalid("id must be a string or an integer.")),
        _ => return Err(invalid("Not a JSON-RPC request, notification or response.")),
    };
    let params = match m.remove("params") {
        None | Some(Value::Null) => Value::Null,
        Some(p @ Value::Object(_)) => p,
        Some(_) => return Err(RpcError::new(INVALID_PARAMS, "params must be an object.")),
    };
    Ok(Some(Request { id, method, params }))
}

fn meta(params: &Value) -> Option<&Map<String, Value>> {
    params.get("_meta").and_then(Value::as_object)
}

/// `initialize` opens the handshake era whatever the headers say; otherwise the header's
/// version decides (a handshake-era one, or anything else for the per-request checks), and a
/// request without it is of the handshake era unless its `_meta` says otherwise.
fn era_of(req: &Request, h: &Headers<'_>) -> Era {
    if req.method == "initialize" {
        return Era::Handshake(VERSION_WITHOUT_HEADER);
    }
    match h.protocol_version {
        Some(v) => HANDSHAKE_VERSIONS.iter().find(|x| **x == v).map_or(Era::Modern, |x| Era::Handshake(x)),
        None if meta(&req.params).is_some_and(|m| m.contains_key(VERSION_KEY)) => Era::Modern,
        None => Era::Handshake(VERSION_WITHOUT_HEADER),
    }
}

/// `=?base64?…?=` (how clients send a value that is not a plain header value), decoded.
fn header_value(v: &str) -> Option<String> {
    match v.strip_prefix("=?base64?").and_then(|r| r.strip_suffix("?=")) {
        Some(b) => String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).ok()?).ok(),
        None => Some(v.to_owned()),
    }
}

/// The per-request era's checks, in the specification's order: the `_meta` envelope, the
/// headers against the body, then the version. The version served, or the error.
fn checked_version(req: &Request, h: &Headers<'_>) -> Result<&'static str, RpcError> {
    let Some(m) = meta(&req.params).filter(|m| m.contains_key(VERSION_KEY) && m.contains_key(CAPABILITIES_KEY)) else {
        // A version this server does not know, from a client of another era: say which are served.
        return Err(match h.protocol_version {
            Some(v) if !MODERN_VERSIONS.contains(&v) => unsupported(v),
            _ => {
                RpcError::new(INVALID_PARAMS, format!("params._meta must carry {VERSION_KEY} and {CAPABILITIES_KEY}."))
            }
        });
    };
    let version = &m[VERSION_KEY];
    let mismatch = |what: &str| RpcError::new(HEADER_MISMATCH, format!("Header mismatch: {what}."));
    if h.protocol_version.is_none_or(|v| version.as_str() != Some(v)) {
        return Err(mismatch("MCP-Protocol-Version does not match the request's protocol version"));
    }
    if h.method != Some(req.method.as_str()) {
        return Err(mismatch("Mcp-Method does not match the request's method"));
    }
    if req.method == "tools/call"
        && let Some(name) = req.params.get("name").and_then(Value::as_str)
        && h.name.and_then(header_value).as_deref() != Some(name)
    {
        return Err(mismatch("Mcp-Name does not match the tool's name"));
    }
    let requested = version.as_str().unwrap_or_default();
    MODERN_VERSIONS.iter().copied().find(|v| *v == requested).ok_or_else(|| unsupported(requested))
}

fn unsupported(requested: &str) -> RpcError {
    let requested: String = requested.chars().take(64).collect();
    RpcError {
        code: UNSUPPORTED_VERSION,
        message: "Unsupported protocol version".into(),
        data: Some(json!({"supported": supported_versions(), "requested": requested})),
    }
}

/// Every version served, newest first.
pub(super) fn supported_versions() -> Vec<&'static str> {
    MODERN_VERSIONS.iter().chain(HANDSHAKE_VERSIONS).copied().collect()
}

/// The HTTP status of an error: the per-request era maps codes to statuses (`404` for an
/// unknown method, `400` for a malformed or mismatched request); the handshake era answers
/// errors of a well-formed request with `200`, as its transport did.
fn status(era: Era, code: i64) -> u16 {
    match (code, era) {
        (PARSE_ERROR | INVALID_REQUEST, _) => 400,
        (METHOD_NOT_FOUND, Era::Modern) => 404,
        (INVALID_PARAMS | HEADER_MISMATCH | UNSUPPORTED_VERSION, Era::Modern) => 400,
        _ => 200,
    }
}

fn reply(era: Era, id: Value, out: Result<Value, RpcError>) -> Reply {
    match out {
        Ok(result) => Reply::Message { status: 200, body: json!({"jsonrpc": "2.0", "id": id, "result": result}) },
        Err(e) => {
            let mut error = json!({"code": e.code, "message": e.message});
            if let Some(d) = e.data {
                error["data"] = d;
            }
            Reply::Message { status: status(era, e.code), body: json!({"jsonrpc": "2.0", "id": id, "error": error}) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, params: Value) -> Request {
        Request { id: json!(1), method: method.into(), params }
    }

    #[test]
    fn envelopes() {
        assert!(envelope(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).unwrap().is_none());
        assert!(envelope(json!({"jsonrpc": "2.0", "id": 3, "result": {}})).unwrap().is_none());
        let r = envelope(json!({"jsonrpc": "2.0", "id": "a", "method": "ping"})).unwrap().unwrap();
        assert_eq!((r.id, r.method.as_str(), r.params), (json!("a"), "ping", Value::Null));
        for bad in [
            json!([{"jsonrpc": "2.0", "id": 1, "method": "ping"}]),
            json!({"id": 1, "method": "ping"}),
            json!({"jsonrpc": "2.0", "id": null, "method": "ping"}),
            json!({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}),
            json!({"jsonrpc": "2.0", "id": 1}),
            json!("ping"),
        ] {
            assert_eq!(envelope(bad.clone()).err().map(|e| e.code), Some(INVALID_REQUEST), "{bad}");
        }
        let e = envelope(json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]})).err();
        assert_eq!(e.map(|e| e.code), Some(INVALID_PARAMS));
    }

    #[test]
    fn eras() {
        let h = |v| Headers { protocol_version: v, ..Default::default() };
        assert_eq!(era_of(&req("initialize", Value::Null), &h(Some("2026-07-28"))), Era::Handshake("2025-03-26"));
        assert_eq!(era_of(&req("tools/list", Value::Null), &h(Some("2025-06-18"))), Era::Handshake("2025-06-18"));
        assert_eq!(era_of(&req("tools/list", Value::Null), &h(None)), Era::Handshake("2025-03-26"));
        assert_eq!(era_of(&req("tools/list", Value::Null), &h(Some("1999-01-01"))), Era::Modern);
        let modern = json!({"_meta": {VERSION_KEY: "2026-07-28"}});
        assert_eq!(era_of(&req("tools/list", modern), &h(None)), Era::Modern);
    }

    #[test]
    fn per_request_checks() {
        let p = json!({"name": "list_meetings", "_meta": {VERSION_KEY: "2026-07-28", CAPABILITIES_KEY: {}}});
        let r = req("tools/call", p);
        let ok =
            Headers { protocol_version: Some("2026-07-28"), method: Some("tools/call"), name: Some("list_meetings") };
        assert_eq!(checked_version(&r, &ok).ok(), Some("2026-07-28"));
        let b64 = Headers { name: Some("=?base64?bGlzdF9tZWV0aW5ncw==?="), ..ok };
        assert!(checked_version(&r, &b64).is_ok());
        let code = |h: Headers<'_>| checked_version(&r, &h).err().map(|e| e.code);
        assert_eq!(code(Headers { name: Some("other"), ..ok }), Some(HEADER_MISMATCH));
        assert_eq!(code(Headers { name: None, ..ok }), Some(HEADER_MISMATCH));
        assert_eq!(code(Headers { method: Some("tools/list"), ..ok }), Some(HEADER_MISMATCH));
        assert_eq!(code(Headers { protocol_version: None, ..ok }), Some(HEADER_MISMATCH));
        let old = req("tools/list", json!({"_meta": {VERSION_KEY: "2027-01-01", CAPABILITIES_KEY: {}}}));
        let h = Headers { protocol_version: Some("2027-01-01"), method: Some("tools/list"), name: None };
        let e = checked_version(&old, &h).unwrap_err();
        assert_eq!((e.code, &e.data.unwrap()["supported"][0]), (UNSUPPORTED_VERSION, &json!("2026-07-28")));
        let bare = req("tools/list", json!({"_meta": {VERSION_KEY: "2026-07-28"}}));
        let modern = Headers { protocol_version: Some("2026-07-28"), ..h };
        assert_eq!(checked_version(&bare, &modern).err().map(|e| e.code), Some(INVALID_PARAMS));
        // An unknown version without the envelope (a client of another era) is told what is served.
        assert_eq!(
            checked_version(&req("tools/list", Value::Null), &h).err().map(|e| e.code),
            Some(UNSUPPORTED_VERSION)
        );
    }

    #[test]
    fn statuses_by_era() {
        let legacy = Era::Handshake("2025-06-18");
        assert_eq!((status(legacy, METHOD_NOT_FOUND), status(Era::Modern, METHOD_NOT_FOUND)), (200, 404));
        assert_eq!((status(legacy, PARSE_ERROR), status(Era::Modern, UNSUPPORTED_VERSION)), (400, 400));
        assert_eq!(status(Era::Modern, -32603), 200);
    }
}
