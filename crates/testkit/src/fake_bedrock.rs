//! A fake Amazon Bedrock runtime for ConverseStream: `POST /model/{modelId}/converse-stream`
//! answered with `application/vnd.amazon.eventstream`, in AWS event-stream binary frames
//! encoded here by hand from the format's description (not with the SDK's encoder, so the
//! SDK's parser is checked against an independent implementation, CRC32 included):
//!
//! ```text
//! prelude:  total length u32 BE | headers length u32 BE | CRC32(prelude's 8 bytes) u32 BE
//! headers:  name length u8 | name | type u8 (7 = string) | value length u16 BE | value   (repeated)
//! payload:  JSON
//! trailer:  CRC32(everything before it) u32 BE
//! ```
//!
//! Events: `messageStart`, `contentBlockDelta` (one per token), `contentBlockStop`,
//! `messageStop`, `metadata` (usage, metrics); an `exception` frame
//! (`:exception-type throttlingException`) for mid-stream errors; HTTP errors with
//! `x-amzn-errortype` and `{"message"}` for `fail_first`. Requests must carry a SigV4
//! `Authorization` header of the right shape (the signature itself is not checked); it is
//! recorded with the JSON body.
//!
//! Tool use (`script`): a request with `toolConfig` can be answered with calls:
//! `contentBlockStart` (`start.toolUse {toolUseId, name}`), `contentBlockDelta`
//! (`delta.toolUse.input` fragments), `contentBlockStop`, stop reason `tool_use`. Requests are
//! checked as Bedrock checks them: `toolUse`/`toolResult` blocks need `toolConfig` (else 400
//! ValidationException).
//!
//! `POST /model/{modelId}/invoke` answers embedding models as Bedrock does: Amazon Titan
//! (`{"inputText", "dimensions"?}` → `{"embedding", "inputTextTokenCount"}`) and Cohere
//! (`{"texts", "input_type"}` → `{"embeddings", "texts", "response_type"}`), with the vectors of
//! `fake_openai::fake_embedding`.

use crate::script::{FakeCall, Script, Scripted};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `inputTokens` the fake reports.
pub const INPUT_TOKENS: u64 = 9;

#[derive(Clone, Debug, Default)]
pub struct Knobs {
    /// The reply, sent one token (whitespace-separated word) per `contentBlockDelta`.
    pub reply: String,
    pub token_delay: Duration,
    pub first_byte_delay: Duration,
    /// Fail this many requests first with `fail_status` (429 ThrottlingException, 503
    /// ServiceUnavailableException, 400 ValidationException, 403 AccessDeniedException, …).
    pub fail_first: usize,
    pub fail_status: u16,
    /// Send a `throttlingException` frame after this many tokens.
    pub error_after_tokens: Option<usize>,
    /// Stop sending (connection kept open) after this many tokens.
    pub stall_after_tokens: Option<usize>,
    /// End the body after this many tokens, without `messageStop`.
    pub cut_after_tokens: Option<usize>,
    /// The answers to the first ConverseStream requests, in order (then `reply`).
    pub script: Vec<Scripted>,
}

/// The parsed credential scope of a SigV4 `Authorization` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigV4 {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
}

/// What the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The model id as decoded from the path.
    pub model_id: String,
    pub auth: SigV4,
    pub body: Value,
}

struct Shared {
    knobs: Knobs,
    script: Script,
    requests: Vec<Recorded>,
}

/// A running fake Bedrock runtime; stops when dropped.
pub struct FakeBedrock {
    /// e.g. `http://127.0.0.1:PORT` (use as the SDK's endpoint URL).
    pub base_url: String,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeBedrock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(s: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeBedrock {
    pub async fn start(knobs: Knobs) -> FakeBedrock {
        let script = Script::new(&knobs.script);
        let shared = Arc::new(Mutex::new(Shared { knobs, script, requests: Vec::new() }));
        let app = axum::Router::new()
            .route("/model/{model_id}/converse-stream", axum::routing::post(converse_stream))
            .route("/model/{model_id}/invoke", axum::routing::post(invoke))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeBedrock { base_url: format!("http://{addr}"), shared, task }
    }

    /// Every well-signed request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared).requests.clone()
    }

    pub fn set_knobs(&self, k: Knobs) {
        let mut s = lock(&self.shared);
        s.script = Script::new(&k.script);
        s.knobs = k;
    }
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), bit by bit: slow and obvious.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// One event-stream message with string headers.
pub fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(u8::try_from(name.len()).expect("header name under 256 bytes"));
        h.extend_from_slice(name.as_bytes());
        h.push(7);
        h.extend_from_slice(&u16::try_from(value.len()).expect("header value under 64 KiB").to_be_bytes());
        h.extend_from_slice(value.as_bytes());
    }
    let total = 12 + h.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&u32::try_from(total).expect("frame under 4 GiB").to_be_bytes());
    out.extend_from_slice(&u32::try_from(h.len()).expect("headers under 4 GiB").to_be_bytes());
    let prelude_crc = crc32(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let message_crc = crc32(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    out
}

/// An `event` frame; Bedrock pads payloads with a `p` field, which clients must ignore.
fn event(kind: &str, mut payload: Value) -> Vec<u8> {
    payload["p"] = json!("abcdefghijklmnopqrstuvwxyzABCDEF");
    frame(
        &[(":event-type", kind), (":content-type", "application/json"), (":message-type", "event")],
        payload.to_string().as_bytes(),
    )
}

fn exception(kind: &str, message: &str) -> Vec<u8> {
    frame(
        &[(":exception-type", kind), (":content-type", "application/json"), (":message-type", "exception")],
        json!({"message": message}).to_string().as_bytes(),
    )
}

/// `AWS4-HMAC-SHA256 Credential=KEY/YYYYMMDD/REGION/SERVICE/aws4_request, SignedHeaders=a;b,
/// Signature=<64 hex>`, or None.
pub fn parse_sigv4(header: &str) -> Option<SigV4> {
    let rest = header.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let mut cred = None;
    let mut signed = None;
    let mut sig = None;
    for part in rest.split(',').map(str::trim) {
        if let Some(v) = part.strip_prefix("Credential=") {
            cred = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            sig = Some(v);
        }
    }
    let sig = sig?;
    if sig.len() != 64 || !sig.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let scope: Vec<&str> = cred?.split('/').collect();
    let [key, date, region, service, "aws4_request"] = scope[..] else { return None };
    if key.is_empty() || date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) || region.is_empty() {
        return None;
    }
    let signed_headers: Vec<String> = signed?.split(';').map(str::to_owned).collect();
    if !signed_headers.iter().any(|h| h == "host") || !signed_headers.iter().any(|h| h == "x-amz-date") {
        return None;
    }
    Some(SigV4 {
        access_key_id: key.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers,
    })
}

/// An HTTP error as Bedrock sends it (restJson1: `x-amzn-errortype` and a JSON message).
fn http_error(status: u16, message: &str) -> Response {
    let kind = match status {
        400 => "ValidationException",
        403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        424 => "ModelErrorException",
        429 => "ThrottlingException",
        503 => "ServiceUnavailableException",
        _ => "InternalServerException",
    };
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let errortype = format!("{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/");
    (
        code,
        [
            ("x-amzn-errortype", errortype.as_str()),
            ("x-amzn-requestid", "fake-request-id"),
            ("content-type", "application/json"),
        ],
        json!({"message": message}).to_string(),
    )
        .into_response()
}

/// Checks the signature's shape and records the request; the body, or the refusal.
fn admit(shared: &Mutex<Shared>, model_id: String, headers: &HeaderMap, body: &Bytes) -> Result<Value, Box<Response>> {
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(parse_sigv4) else {
        return Err(Box::new(
            (
                StatusCode::FORBIDDEN,
                [("x-amzn-errortype", "MissingAuthenticationTokenException")],
                json!({"message": "Missing Authentication Token"}).to_string(),
            )
                .into_response(),
        ));
    };
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return Err(Box::new(http_error(400, "Malformed input request, please reformat your input and try again.")));
    };
    let mut s = lock(shared);
    s.requests.push(Recorded { model_id, auth, body: body.clone() });
    if s.requests.len() <= s.knobs.fail_first {
        return Err(Box::new(http_error(s.knobs.fail_status, "Too many requests, please wait before trying again.")));
    }
    Ok(body)
}

async fn invoke(
    State(shared): State<Arc<Mutex<Shared>>>,
    Path(model_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let titan = model_id.starts_with("amazon.titan-embed");
    let body = match admit(&shared, model_id.clone(), &headers, &body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let embed = |t: &str, dims: usize| crate::fake_openai::fake_embedding(t, dims, &[]);
    if titan {
        let Some(text) = body["inputText"].as_str() else {
            return http_error(400, "Malformed input request: required key [inputText] not found");
        };
        let dims = body["dimensions"].as_u64().map_or(1024, |d| d as usize);
        let tokens = text.split_whitespace().count();
        return axum::Json(json!({"embedding": embed(text, dims), "inputTextTokenCount": tokens})).into_response();
    }
    if model_id.starts_with("cohere.embed") {
        let Some(texts) = body["texts"].as_array() else {
            return http_error(400, "Malformed input request: required key [texts] not found");
        };
        let vectors: Vec<Vec<f32>> = texts.iter().map(|t| embed(t.as_str().unwrap_or_default(), 1024)).collect();
        return axum::Json(
            json!({"embeddings": vectors, "id": "fake", "response_type": "embeddings_floats", "texts": texts}),
        )
        .into_response();
    }
    http_error(400, "The provided model identifier is invalid.")
}

async fn converse_stream(
    State(shared): State<Arc<Mutex<Shared>>>,
    Path(model_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match admit(&shared, model_id, &headers, &body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let last = match last_tool_result(&body) {
        Ok(l) => l,
        Err(message) => return http_error(400, message),
    };
    let offered = body["toolConfig"]["tools"].as_array().is_some_and(|t| !t.is_empty());
    let (n, knobs, answer) = {
        let mut s = lock(&shared);
        let k = s.knobs.clone();
        let answer = s.script.next(offered, &k.reply, last.as_deref());
        (s.requests.len(), k, answer)
    };
    tokio::time::sleep(knobs.first_byte_delay).await;
    let frames = match answer {
        Scripted::Calls(calls) => call_frames(n, &calls),
        Scripted::Text(reply) => {
            let max = body["inferenceConfig"]["maxTokens"].as_u64().unwrap_or(u64::MAX) as usize;
            let all: Vec<String> = reply.split_inclusive(' ').map(str::to_owned).collect();
            let stop = if all.len() > max { "max_tokens" } else { "end_turn" };
            let tokens: Vec<String> = all.into_iter().take(max).collect();
            frames(&tokens, &knobs, stop)
        }
    };
    let stream = futures::stream::iter(frames)
        .then(|(d, f)| async move {
            tokio::time::sleep(d).await;
            f
        })
        .flat_map(|f| match f {
            Some(bytes) => futures::stream::iter(vec![Ok::<_, std::convert::Infallible>(Bytes::from(bytes))]).boxed(),
            None => futures::stream::pending().boxed(),
        });
    (
        [("content-type", "application/vnd.amazon.eventstream"), ("x-amzn-requestid", "fake-request-id")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// The text of the last `toolResult` block; Bedrock's refusal when tool blocks come without
/// `toolConfig`.
fn last_tool_result(body: &Value) -> Result<Option<String>, &'static str> {
    let blocks: Vec<&Value> = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| m["content"].as_array().into_iter().flatten())
        .collect();
    let tools_used = blocks.iter().any(|b| b.get("toolUse").is_some() || b.get("toolResult").is_some());
    if tools_used && body["toolConfig"].is_null() {
        return Err("The toolConfig field must be defined when using toolUse and toolResult content blocks.");
    }
    Ok(blocks
        .iter()
        .rev()
        .find_map(|b| b["toolResult"]["content"].as_array())
        .map(|parts| parts.iter().filter_map(|p| p["text"].as_str()).collect()))
}

/// Tool calls: per call a `contentBlockStart` with `toolUse`, its input in fragments, a stop.
fn call_frames(n: usize, calls: &[FakeCall]) -> Vec<(Duration, Option<Vec<u8>>)> {
    let mut out = vec![(Duration::ZERO, Some(event("messageStart", json!({"role": "assistant"}))))];
    for (i, c) in calls.iter().enumerate() {
        let start = json!({"contentBlockIndex": i, "start": {"toolUse": {"toolUseId": format!("tooluse_fake_{n}_{i}"), "name": c.name}}});
        out.push((Duration::ZERO, Some(event("contentBlockStart", start))));
        for f in crate::script::fragments(&c.arguments) {
            let delta = json!({"contentBlockIndex": i, "delta": {"toolUse": {"input": f}}});
            out.push((Duration::ZERO, Some(event("contentBlockDelta", delta))));
        }
        out.push((Duration::ZERO, Some(event("contentBlockStop", json!({"contentBlockIndex": i})))));
    }
    out.push((Duration::ZERO, Some(event("messageStop", json!({"stopReason": "tool_use"})))));
    let usage = json!({"inputTokens": INPUT_TOKENS, "outputTokens": 5, "totalTokens": INPUT_TOKENS + 5});
    out.push((Duration::ZERO, Some(event("metadata", json!({"usage": usage, "metrics": {"latencyMs": 42}})))));
    out
}

/// (delay before, frame or None for "stall here").
fn frames(tokens: &[String], k: &Knobs, stop: &str) -> Vec<(Duration, Option<Vec<u8>>)> {
    let mut out = vec![(Duration::ZERO, Some(event("messageStart", json!({"role": "assistant"}))))];
    for (i, t) in tokens.iter().enumerate() {
        if k.error_after_tokens == Some(i) {
            let e = exception("throttlingException", "Too many tokens, please wait before trying again.");
            out.push((k.token_delay, Some(e)));
            return out;
        }
        if k.stall_after_tokens == Some(i) {
            out.push((Duration::ZERO, None));
            return out;
        }
        if k.cut_after_tokens == Some(i) {
            return out;
        }
        let delta = event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"text": t}}));
        out.push((k.token_delay, Some(delta)));
    }
    let n = tokens.len() as u64;
    out.push((Duration::ZERO, Some(event("contentBlockStop", json!({"contentBlockIndex": 0})))));
    out.push((Duration::ZERO, Some(event("messageStop", json!({"stopReason": stop})))));
    let usage = json!({"inputTokens": INPUT_TOKENS, "outputTokens": n, "totalTokens": INPUT_TOKENS + n});
    out.push((Duration::ZERO, Some(event("metadata", json!({"usage": usage, "metrics": {"latencyMs": 42}})))));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn frames_have_the_documented_layout() {
        let f = frame(&[(":message-type", "event")], b"{}");
        let total = u32::from_be_bytes([f[0], f[1], f[2], f[3]]) as usize;
        let headers = u32::from_be_bytes([f[4], f[5], f[6], f[7]]) as usize;
        assert_eq!((total, f.len()), (f.len(), 12 + headers + 2 + 4));
        assert_eq!(headers, 1 + 13 + 1 + 2 + 5);
        assert_eq!(u32::from_be_bytes([f[8], f[9], f[10], f[11]]), crc32(&f[..8]));
        assert_eq!(
            u32::from_be_bytes([f[total - 4], f[total - 3], f[total - 2], f[total - 1]]),
            crc32(&f[..total - 4])
        );
    }

    #[test]
    fn sigv4_shape_is_checked() {
        let sig = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let ok = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/eu-west-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature={sig}"
        );
        let p = parse_sigv4(&ok).expect("valid shape");
        assert_eq!(
            (p.access_key_id.as_str(), p.region.as_str(), p.service.as_str()),
            ("AKIDEXAMPLE", "eu-west-1", "bedrock")
        );
        assert!(parse_sigv4(&ok.replace("aws4_request", "aws4")).is_none());
        assert!(parse_sigv4(&ok.replace(&sig[..4], "zzzz")).is_none());
        assert!(parse_sigv4("Bearer abc").is_none());
    }
}
