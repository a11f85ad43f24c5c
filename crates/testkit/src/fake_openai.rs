//! A fake OpenAI-compatible upstream that speaks the real wire format: `POST
//! /v1/chat/completions`, JSON or SSE (`chat.completion.chunk` events, a usage chunk when
//! `stream_options.include_usage` is set, then `data: [DONE]`). Knobs: latency per token, a
//! slow start, failing the first N requests with a status and `Retry-After`, an error
//! mid-stream. It records what it received.
//!
//! It also answers `POST /v1/embeddings` (OpenAI's shape) with deterministic vectors: words
//! (lower-cased, letters and digits) hashed into signed buckets, words of one `synonyms` group
//! sharing a bucket, so that texts sharing words or synonyms are near each other; and `POST
//! /v1/rerank` (Cohere's shape) scoring documents by the query words they contain. The same
//! failure knobs apply.
//!
//! Tool calls (`script`): a request that offers `tools` can be answered with calls, whole
//! (`message.tool_calls`, `content: null`) or streamed (`delta.tool_calls` items by `index`: the
//! first with `id`, `type` and `function.name`, then `function.arguments` fragments), finish
//! reason `tool_calls`. Requests are checked as OpenAI checks them: every `tool` message answers
//! a `tool_calls` id of an earlier assistant message (else 400).

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

#[derive(Clone, Debug, Default)]
pub struct Knobs {
    /// The reply, sent one token (whitespace-separated word) per chunk.
    pub reply: String,
    pub token_delay: Duration,
    pub first_byte_delay: Duration,
    /// Fail this many requests first, with `fail_status` and `retry_after` (seconds).
    pub fail_first: usize,
    pub fail_status: u16,
    pub retry_after: Option<u64>,
    /// Break the stream with an error event after this many tokens.
    pub error_after_tokens: Option<usize>,
    /// Embeddings: groups of words that mean the same (one bucket per group).
    pub synonyms: Vec<Vec<String>>,
    /// Chat: the answers to the first requests, in order (then `reply`).
    pub script: Vec<Scripted>,
}

#[derive(Default)]
struct Shared {
    knobs: Knobs,
    script: Script,
    requests: Vec<(Option<String>, Value)>,
}

/// A running fake upstream; stops when dropped.
pub struct FakeOpenAi {
    /// e.g. `http://127.0.0.1:PORT/v1`
    pub base_url: String,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(s: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeOpenAi {
    pub async fn start(knobs: Knobs) -> FakeOpenAi {
        let script = Script::new(&knobs.script);
        let shared = Arc::new(Mutex::new(Shared { knobs, script, requests: Vec::new() }));
        let app = axum::Router::new()
            .route("/v1/chat/completions", axum::routing::post(handle))
            .route("/v1/embeddings", axum::routing::post(embeddings))
            .route("/v1/rerank", axum::routing::post(rerank))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeOpenAi { base_url: format!("http://{addr}/v1"), shared, task }
    }

    /// (Authorization header, JSON body) of every request received.
    pub fn requests(&self) -> Vec<(Option<String>, Value)> {
        lock(&self.shared).requests.clone()
    }

    pub fn set_knobs(&self, k: Knobs) {
        let mut s = lock(&self.shared);
        s.script = Script::new(&k.script);
        s.knobs = k;
    }
}

fn chunk(id: &str, model: &str, delta: Value, finish: Option<&str>) -> String {
    json!({"id": id, "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    .to_string()
}

/// Records a request; the knobs, or the failure response the knobs ask for.
fn admit(shared: &Mutex<Shared>, headers: &HeaderMap, body: &Value) -> Result<Knobs, Box<Response>> {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut s = lock(shared);
    s.requests.push((auth, body.clone()));
    let n = s.requests.len();
    if n <= s.knobs.fail_first {
        let k = s.knobs.clone();
        let mut r = (
            StatusCode::from_u16(k.fail_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            Json(json!({"error": {"message": "overloaded", "type": "server_error"}})),
        )
            .into_response();
        if let Some(ra) = k.retry_after {
            r.headers_mut().insert("retry-after", ra.into());
        }
        return Err(Box::new(r));
    }
    Ok(s.knobs.clone())
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

/// FNV-1a, so vectors are the same in every run.
fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The fake's embedding of a text: signed feature hashing of its words (synonyms folded).
pub fn fake_embedding(text: &str, dims: usize, synonyms: &[Vec<String>]) -> Vec<f32> {
    let mut v = vec![0f32; dims.max(1)];
    for w in words(text) {
        let canonical = synonyms.iter().find(|g| g.contains(&w)).map_or(w.clone(), |g| g[0].clone());
        let h = hash(&canonical);
        let i = (h % v.len() as u64) as usize;
        v[i] += if h & (1 << 63) == 0 { 1.0 } else { -1.0 };
    }
    if v.iter().all(|x| *x == 0.0) {
        v[0] = 1.0;
    }
    v
}

async fn embeddings(State(shared): State<Arc<Mutex<Shared>>>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let knobs = match admit(&shared, &headers, &body) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    tokio::time::sleep(knobs.first_byte_delay).await;
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    };
    if inputs.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"message": "input is required", "type": "invalid_request_error"}})),
        )
            .into_response();
    }
    let dims = body["dimensions"].as_u64().map_or(64, |d| d as usize);
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": fake_embedding(t, dims, &knobs.synonyms)}))
        .collect();
    let tokens: usize = inputs.iter().map(|t| words(t).count()).sum();
    Json(json!({"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}))
        .into_response()
}

async fn rerank(State(shared): State<Arc<Mutex<Shared>>>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Err(r) = admit(&shared, &headers, &body) {
        return *r;
    }
    let query: Vec<String> = words(body["query"].as_str().unwrap_or_default()).collect();
    let docs: Vec<&str> =
        body["documents"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let mut results: Vec<(usize, f64)> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let dw: Vec<String> = words(d).collect();
            let hits = query.iter().filter(|q| dw.contains(q)).count();
            (i, hits as f64 / (1.0 + dw.len() as f64).sqrt())
        })
        .collect();
    results.sort_by(|a, b| b.1.total_cmp(&a.1));
    let results: Vec<Value> = results.iter().map(|(i, s)| json!({"index": i, "relevance_score": s})).collect();
    Json(json!({"id": "rerank-fake", "results": results})).into_response()
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": {"message": message, "type": "invalid_request_error"}})))
        .into_response()
}

/// The content of the last `tool` message; an error when a `tool` message answers no earlier
/// assistant tool call (OpenAI's check).
fn last_tool_result(body: &Value) -> Result<Option<String>, &'static str> {
    let mut ids: Vec<&str> = Vec::new();
    let mut last = None;
    for m in body["messages"].as_array().into_iter().flatten() {
        if let Some(calls) = m["tool_calls"].as_array() {
            ids.extend(calls.iter().filter_map(|c| c["id"].as_str()));
        }
        if m["role"] == "tool" {
            if !m["tool_call_id"].as_str().is_some_and(|id| ids.contains(&id)) {
                return Err(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                );
            }
            last = m["content"].as_str().map(str::to_owned);
        }
    }
    Ok(last)
}

/// The answer the script (or `reply`) gives this request.
fn answer(shared: &Mutex<Shared>, body: &Value, reply: &str) -> Result<Scripted, &'static str> {
    let last = last_tool_result(body)?;
    let offered = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    Ok(lock(shared).script.next(offered, reply, last.as_deref()))
}

/// A whole reply with tool calls.
fn whole_calls(n: usize, model: &str, calls: &[FakeCall]) -> Response {
    let calls: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({"id": format!("call_{n}_{i}"), "type": "function",
            "function": {"name": c.name, "arguments": c.arguments}})
        })
        .collect();
    Json(json!({"id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": calls}, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}}))
    .into_response()
}

/// Streamed tool calls: per call a chunk with its id and name, then its argument fragments.
fn streamed_calls(n: usize, model: &str, calls: &[FakeCall], include_usage: bool) -> Response {
    let mut data = vec![chunk("chatcmpl-fake", model, json!({"role": "assistant", "content": null}), None)];
    for (i, c) in calls.iter().enumerate() {
        let first = json!({"tool_calls": [{"index": i, "id": format!("call_{n}_{i}"), "type": "function",
            "function": {"name": c.name, "arguments": ""}}]});
        data.push(chunk("chatcmpl-fake", model, first, None));
        for f in crate::script::fragments(&c.arguments) {
            let more = json!({"tool_calls": [{"index": i, "function": {"arguments": f}}]});
            data.push(chunk("chatcmpl-fake", model, more, None));
        }
    }
    data.push(chunk("chatcmpl-fake", model, json!({}), Some("tool_calls")));
    if include_usage {
        data.push(
            json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model, "choices": [],
            "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}})
            .to_string(),
        );
    }
    data.push("[DONE]".to_owned());
    let events = futures::stream::iter(data.into_iter().map(|d| Ok::<_, Infallible>(Event::default().data(d))));
    Sse::new(events).into_response()
}

async fn handle(State(shared): State<Arc<Mutex<Shared>>>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let knobs = match admit(&shared, &headers, &body) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let n = lock(&shared).requests.len();
    tokio::time::sleep(knobs.first_byte_delay).await;
    let model = body["model"].as_str().unwrap_or("fake").to_owned();
    let stream = body["stream"] == json!(true);
    let include_usage = body["stream_options"]["include_usage"] == json!(true);
    let reply = match answer(&shared, &body, &knobs.reply) {
        Err(message) => return bad_request(message),
        Ok(Scripted::Calls(calls)) if stream => return streamed_calls(n, &model, &calls, include_usage),
        Ok(Scripted::Calls(calls)) => return whole_calls(n, &model, &calls),
        Ok(Scripted::Text(t)) => t,
    };
    let tokens: Vec<String> = reply.split_inclusive(' ').map(str::to_owned).collect();
    let (prompt, completion) = (7u64, tokens.len() as u64);
    if !stream {
        // A whole reply takes as long as its tokens would have taken to stream.
        tokio::time::sleep(knobs.token_delay * u32::try_from(tokens.len()).unwrap_or(u32::MAX)).await;
        return Json(
            json!({"id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}}),
        )
        .into_response();
    }
    let stream = async_stream(tokens, knobs, model, include_usage, prompt, completion);
    Sse::new(stream).into_response()
}

fn async_stream(
    tokens: Vec<String>,
    k: Knobs,
    model: String,
    include_usage: bool,
    prompt: u64,
    completion: u64,
) -> impl futures::Stream<Item = Result<Event, Infallible>> {
    let mut events: Vec<(Duration, String)> =
        vec![(Duration::ZERO, chunk("chatcmpl-fake", &model, json!({"role": "assistant", "content": ""}), None))];
    for (i, t) in tokens.iter().enumerate() {
        if k.error_after_tokens == Some(i) {
            events.push((
                k.token_delay,
                json!({"error": {"message": "upstream exploded", "type": "server_error"}}).to_string(),
            ));
            return futures::stream::iter(events)
                .then(|(d, data)| async move {
                    tokio::time::sleep(d).await;
                    Ok(Event::default().data(data))
                })
                .boxed();
        }
        events.push((k.token_delay, chunk("chatcmpl-fake", &model, json!({"content": t}), None)));
    }
    events.push((Duration::ZERO, chunk("chatcmpl-fake", &model, json!({}), Some("stop"))));
    if include_usage {
        events.push((
            Duration::ZERO,
            json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model, "choices": [],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}})
            .to_string(),
        ));
    }
    events.push((Duration::ZERO, "[DONE]".to_owned()));
    futures::stream::iter(events)
        .then(|(d, data)| async move {
            tokio::time::sleep(d).await;
            Ok(Event::default().data(data))
        })
        .boxed()
}
