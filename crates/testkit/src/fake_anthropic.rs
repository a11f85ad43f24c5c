//! A fake Anthropic Messages upstream speaking the real wire format: `POST /v1/messages`,
//! named SSE events (`message_start`, `content_block_start`, `ping`, `content_block_delta`
//! with `text_delta`, `content_block_stop`, `message_delta`, `message_stop`, and `error`),
//! errors in Anthropic's shape (`{"type":"error","error":{"type":…,"message":…}}`), 401
//! without `x-api-key` and 400 without `anthropic-version`. Knobs as in `fake_openai`, plus a
//! stall and a cut-off. The reply stops at the request's `max_tokens` (stop reason
//! `max_tokens`, else `end_turn`). It records what it received.
//!
//! Tool use (`script`): a request that offers `tools` can be answered with `tool_use` blocks,
//! whole (`content`) or streamed (`content_block_start` with the block and `input: {}`,
//! `input_json_delta` fragments, `content_block_stop`), stop reason `tool_use`. Requests are
//! checked as Anthropic checks them: `tool_use`/`tool_result` blocks need `tools`, and the
//! message after one with `tool_use` blocks begins with a `tool_result` for each (else 400).

use crate::script::{FakeCall, Script, Scripted};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `input_tokens` the fake reports.
pub const INPUT_TOKENS: u64 = 12;

#[derive(Clone, Debug, Default)]
pub struct Knobs {
    /// The reply, sent one token (whitespace-separated word) per `content_block_delta`.
    pub reply: String,
    pub token_delay: Duration,
    pub first_byte_delay: Duration,
    /// Fail this many requests first, with `fail_status` and `retry_after` (seconds).
    pub fail_first: usize,
    pub fail_status: u16,
    pub retry_after: Option<u64>,
    /// Send an `error` event (`overloaded_error`) after this many tokens.
    pub error_after_tokens: Option<usize>,
    /// Stop sending (connection kept open) after this many tokens.
    pub stall_after_tokens: Option<usize>,
    /// Close the stream after this many tokens, without `message_stop`.
    pub cut_after_tokens: Option<usize>,
    /// Quote the received `x-api-key` in error messages, as some upstreams do with refused keys.
    pub echo_key_in_errors: bool,
    /// The answers to the first requests, in order (then `reply`).
    pub script: Vec<Scripted>,
}

/// What the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub api_key: Option<String>,
    pub version: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
}

struct Shared {
    knobs: Knobs,
    script: Script,
    requests: Vec<Recorded>,
}

/// A running fake upstream; stops when dropped.
pub struct FakeAnthropic {
    /// e.g. `http://127.0.0.1:PORT` (the client appends `/v1/messages`).
    pub base_url: String,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeAnthropic {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(s: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeAnthropic {
    pub async fn start(knobs: Knobs) -> FakeAnthropic {
        let script = Script::new(&knobs.script);
        let shared = Arc::new(Mutex::new(Shared { knobs, script, requests: Vec::new() }));
        let app = axum::Router::new().route("/v1/messages", axum::routing::post(handle)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeAnthropic { base_url: format!("http://{addr}"), shared, task }
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared).requests.clone()
    }

    pub fn set_knobs(&self, k: Knobs) {
        let mut s = lock(&self.shared);
        s.script = Script::new(&k.script);
        s.knobs = k;
    }
}

/// Anthropic's error type for an HTTP status.
fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

fn error(status: u16, message: String, retry_after: Option<u64>) -> Response {
    let body = json!({"type": "error", "error": {"type": error_type(status), "message": message}});
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (code, [("request-id", "req_fake")], Json(body)).into_response();
    if let Some(ra) = retry_after {
        r.headers_mut().insert("retry-after", ra.into());
    }
    r
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

async fn handle(State(shared): State<Arc<Mutex<Shared>>>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let rec = Recorded {
        api_key: header(&headers, "x-api-key"),
        version: header(&headers, "anthropic-version"),
        content_type: header(&headers, "content-type"),
        body: body.clone(),
    };
    let knobs = {
        let mut s = lock(&shared);
        s.requests.push(rec.clone());
        let n = s.requests.len();
        let k = s.knobs.clone();
        let quoted = if k.echo_key_in_errors {
            format!(" (key {})", rec.api_key.as_deref().unwrap_or(""))
        } else {
            String::new()
        };
        if rec.api_key.is_none() {
            return error(401, "x-api-key header is required".into(), None);
        }
        if rec.version.is_none() {
            return error(400, "anthropic-version: header is required".into(), None);
        }
        if n <= k.fail_first {
            return error(k.fail_status, format!("failing as asked{quoted}"), k.retry_after);
        }
        k
    };
    let last = match last_tool_result(&body) {
        Ok(l) => l,
        Err(message) => return error(400, message.to_owned(), None),
    };
    let offered = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let (n, answer) = {
        let mut s = lock(&shared);
        (s.requests.len(), s.script.next(offered, &knobs.reply, last.as_deref()))
    };
    tokio::time::sleep(knobs.first_byte_delay).await;
    let model = body["model"].as_str().unwrap_or("fake").to_owned();
    let reply = match answer {
        Scripted::Calls(calls) if body["stream"] == json!(true) => {
            return Sse::new(futures::stream::iter(
                call_events(n, &model, &calls).into_iter().map(Ok::<_, Infallible>),
            ))
            .into_response();
        }
        Scripted::Calls(calls) => return whole_calls(n, &model, &calls),
        Scripted::Text(t) => t,
    };
    let max = body["max_tokens"].as_u64().unwrap_or(u64::MAX) as usize;
    let all: Vec<String> = reply.split_inclusive(' ').map(str::to_owned).collect();
    let stop = if all.len() > max { "max_tokens" } else { "end_turn" };
    let tokens: Vec<String> = all.into_iter().take(max).collect();
    if body["stream"] != json!(true) {
        return Json(json!({"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": tokens.concat()}], "stop_reason": stop, "stop_sequence": null,
            "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": tokens.len()}}))
        .into_response();
    }
    Sse::new(events(tokens, &knobs, &model, stop)).into_response()
}

/// The blocks of a message's content (a string content has none).
fn blocks(m: &Value) -> &[Value] {
    m["content"].as_array().map_or(&[], Vec::as_slice)
}

/// The text of the last `tool_result` block; an error as Anthropic words it when the tool
/// blocks break its rules.
fn last_tool_result(body: &Value) -> Result<Option<String>, &'static str> {
    let messages = body["messages"].as_array().map_or(&[][..], Vec::as_slice);
    let has = |kind: &str| messages.iter().any(|m| blocks(m).iter().any(|b| b["type"] == kind));
    if (has("tool_use") || has("tool_result")) && body["tools"].as_array().is_none_or(Vec::is_empty) {
        return Err("Requests which include `tool_use` or `tool_result` blocks must define tools.");
    }
    let mut last = None;
    for (i, m) in messages.iter().enumerate() {
        let uses = blocks(m).iter().filter(|b| b["type"] == "tool_use").count();
        let answered = messages
            .get(i + 1)
            .map_or(uses, |next| blocks(next).iter().take_while(|b| b["type"] == "tool_result").count());
        if uses > 0 && answered < uses {
            return Err(
                "Did not find tool_result block(s) at the beginning of this message. Messages following `tool_use` blocks must begin with a matching number of `tool_result` blocks.",
            );
        }
        for b in blocks(m).iter().filter(|b| b["type"] == "tool_result") {
            last = match &b["content"] {
                Value::String(t) => Some(t.clone()),
                Value::Array(parts) => Some(parts.iter().filter_map(|p| p["text"].as_str()).collect()),
                _ => None,
            };
        }
    }
    Ok(last)
}

fn tool_use_id(n: usize, i: usize) -> String {
    format!("toolu_fake_{n}_{i}")
}

/// A whole message with `tool_use` blocks.
fn whole_calls(n: usize, model: &str, calls: &[FakeCall]) -> Response {
    let content: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let input: Value = serde_json::from_str(&c.arguments).unwrap_or_else(|_| json!({}));
            json!({"type": "tool_use", "id": tool_use_id(n, i), "name": c.name, "input": input})
        })
        .collect();
    Json(json!({"id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": content,
        "stop_reason": "tool_use", "stop_sequence": null, "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 5}}))
    .into_response()
}

/// A streamed message with `tool_use` blocks, their input in `input_json_delta` fragments.
fn call_events(n: usize, model: &str, calls: &[FakeCall]) -> Vec<Event> {
    let event = |name: &str, data: Value| Event::default().event(name).data(data.to_string());
    let mut out = vec![event(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_fake", "type": "message", "role": "assistant",
            "content": [], "model": model, "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1}}}),
    )];
    for (i, c) in calls.iter().enumerate() {
        out.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": i,
                "content_block": {"type": "tool_use", "id": tool_use_id(n, i), "name": c.name, "input": {}}}),
        ));
        for f in crate::script::fragments(&c.arguments) {
            out.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": f}}),
            ));
        }
        out.push(event("content_block_stop", json!({"type": "content_block_stop", "index": i})));
    }
    out.push(event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 5}}),
    ));
    out.push(event("message_stop", json!({"type": "message_stop"})));
    out
}

fn ev(name: &str, data: Value) -> Option<(String, String)> {
    Some((name.to_owned(), data.to_string()))
}

/// The event schedule: (delay before, event or None for "stall here").
fn events(
    tokens: Vec<String>,
    k: &Knobs,
    model: &str,
    stop: &str,
) -> futures::stream::BoxStream<'static, Result<Event, Infallible>> {
    let mut out: Vec<(Duration, Option<(String, String)>)> = vec![
        (
            Duration::ZERO,
            ev(
                "message_start",
                json!({"type": "message_start", "message": {"id": "msg_fake", "type": "message",
            "role": "assistant", "content": [], "model": model, "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1}}}),
            ),
        ),
        (
            Duration::ZERO,
            ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
            ),
        ),
        (Duration::ZERO, ev("ping", json!({"type": "ping"}))),
    ];
    let mut cut = false;
    for (i, t) in tokens.iter().enumerate() {
        if k.error_after_tokens == Some(i) {
            out.push((
                k.token_delay,
                ev("error", json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
            ));
            cut = true;
            break;
        }
        if k.stall_after_tokens == Some(i) {
            out.push((Duration::ZERO, None));
            cut = true;
            break;
        }
        if k.cut_after_tokens == Some(i) {
            cut = true;
            break;
        }
        out.push((
            k.token_delay,
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": t}}),
            ),
        ));
    }
    if !cut {
        out.push((Duration::ZERO, ev("content_block_stop", json!({"type": "content_block_stop", "index": 0}))));
        out.push((
            Duration::ZERO,
            ev(
                "message_delta",
                json!({"type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": tokens.len()}}),
            ),
        ));
        out.push((Duration::ZERO, ev("message_stop", json!({"type": "message_stop"}))));
    }
    futures::stream::iter(out)
        .then(|(d, e)| async move {
            tokio::time::sleep(d).await;
            e
        })
        // A stall: the stream stays open and sends nothing more.
        .flat_map(|e| match e {
            Some((name, data)) => futures::stream::iter(vec![Ok(Event::default().event(name).data(data))]).boxed(),
            None => futures::stream::pending().boxed(),
        })
        .boxed()
}
