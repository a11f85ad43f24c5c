//! A fast OpenAI-compatible model server for load tests. Every answer is built once at start-up
//! and only reference-counted per request; nothing is recorded, nothing is logged.
//!
//! - `POST /v1/chat/completions`: a `chat.completion` with usage, or with `"stream": true` an SSE
//!   stream: a role chunk, exactly 20 content chunks, a finish chunk, a usage chunk when
//!   `stream_options.include_usage` is true, then `data: [DONE]`. `--chunk-delay-ms` waits
//!   before each content chunk.
//! - `GET /v1/models`: one model, `fake-model`.
//! - `POST /v1/audio/transcriptions` (the OpenAI-compatible speech engine's request; the audio
//!   is read and ignored): `{"text": …}`, the `--stt-text` values in turn (the n-th request answered gets
//!   the n-th, cycling), or `""` without any.
//!
//! Prints `fake-upstream listening on http://<addr>/v1` once bound; accepted sockets get
//! `TCP_NODELAY`.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool writes its results and errors to the terminal"
)]

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use clap::Parser;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Content chunks per streamed reply.
const CHUNKS: usize = 20;
const MODEL: &str = "fake-model";
const PROMPT_TOKENS: usize = 12;
/// OpenAI's limit on uploaded audio.
const STT_BODY_LIMIT: usize = 25 * 1024 * 1024;

#[derive(Parser, Debug)]
#[command(about = "A fast fake OpenAI-compatible upstream for load tests")]
struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// Milliseconds to wait before each streamed content chunk (fractions allowed).
    #[arg(long, default_value_t = 0.0)]
    chunk_delay_ms: f64,
    /// Runtime worker threads (default: one per CPU).
    #[arg(long)]
    threads: Option<usize>,
    /// What transcriptions answer, in turn (repeat for several).
    #[arg(long = "stt-text")]
    stt_texts: Vec<String>,
}

/// The fields of a request that change the answer; everything else is skipped unparsed.
#[derive(Deserialize)]
struct Req {
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// Every answer, serialized once.
struct Canned {
    completion: Bytes,
    models: Bytes,
    /// Role chunk, CHUNKS content chunks, finish chunk (SSE events).
    events: Vec<Bytes>,
    usage: Bytes,
    done: Bytes,
    delay: Duration,
    /// Transcription answers (`{"text": …}`), in turn.
    transcripts: Vec<Bytes>,
    /// Transcriptions answered so far.
    transcribed: AtomicUsize,
}

fn sse(v: &serde_json::Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

impl Canned {
    fn new(delay: Duration, stt_texts: &[String]) -> Canned {
        let tokens: Vec<String> =
            (0..CHUNKS).map(|i| if i == 0 { "token0".to_owned() } else { format!(" token{i}") }).collect();
        let usage = json!({"prompt_tokens": PROMPT_TOKENS, "completion_tokens": CHUNKS, "total_tokens": PROMPT_TOKENS + CHUNKS});
        let (id, created) = ("chatcmpl-fake", 1_700_000_000);
        let chunk = |delta: serde_json::Value, finish: Option<&str>| {
            sse(&json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": MODEL,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}))
        };
        let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
        events.extend(tokens.iter().map(|t| chunk(json!({"content": t}), None)));
        events.push(chunk(json!({}), Some("stop")));
        let completion = json!({"id": id, "object": "chat.completion", "created": created, "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": tokens.concat()}, "finish_reason": "stop"}],
            "usage": usage});
        Canned {
            completion: Bytes::from(completion.to_string()),
            models: Bytes::from(
                json!({"object": "list", "data": [{"id": MODEL, "object": "model", "created": created, "owned_by": "bench"}]})
                    .to_string(),
            ),
            events,
            usage: sse(&json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": MODEL,
                               "choices": [], "usage": usage})),
            done: Bytes::from_static(b"data: [DONE]\n\n"),
            delay,
            transcripts: stt_texts.iter().map(|t| Bytes::from(json!({"text": t}).to_string())).collect(),
            transcribed: AtomicUsize::new(0),
        }
    }

    /// The next transcription answer.
    fn transcript(&self) -> Bytes {
        let n = self.transcribed.fetch_add(1, Ordering::Relaxed);
        match self.transcripts.len() {
            0 => Bytes::from_static(br#"{"text":""}"#),
            len => self.transcripts[n % len].clone(),
        }
    }

    /// The streamed events of one reply, in order (cheap clones of the canned bytes).
    fn stream_parts(&self, include_usage: bool) -> Vec<(bool, Bytes)> {
        let last = self.events.len() - 1;
        let mut parts: Vec<(bool, Bytes)> =
            self.events.iter().enumerate().map(|(i, b)| (i > 0 && i < last, b.clone())).collect();
        if include_usage {
            parts.push((false, self.usage.clone()));
        }
        parts.push((false, self.done.clone()));
        parts
    }
}

fn with_type(body: Body, content_type: &'static str) -> Response {
    let mut r = Response::new(body);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

async fn completions(State(c): State<Arc<Canned>>, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Req>(&body) else {
        return (StatusCode::BAD_REQUEST, "the body must be a JSON chat completion request").into_response();
    };
    if !req.stream {
        return with_type(Body::from(c.completion.clone()), "application/json");
    }
    let parts = c.stream_parts(req.stream_options.is_some_and(|o| o.include_usage));
    let delay = c.delay;
    let body = if delay.is_zero() {
        Body::from_stream(futures::stream::iter(parts.into_iter().map(|(_, b)| Ok::<_, Infallible>(b))))
    } else {
        Body::from_stream(futures::stream::iter(parts).then(move |(content, b)| async move {
            if content {
                tokio::time::sleep(delay).await;
            }
            Ok::<_, Infallible>(b)
        }))
    };
    let mut r = with_type(body, "text/event-stream");
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The audio is read whole (so the connection stays reusable), then ignored.
async fn transcriptions(State(c): State<Arc<Canned>>, _audio: Bytes) -> Response {
    with_type(Body::from(c.transcript()), "application/json")
}

async fn models(State(c): State<Arc<Canned>>) -> Response {
    with_type(Body::from(c.models.clone()), "application/json")
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    if !(args.chunk_delay_ms.is_finite() && args.chunk_delay_ms >= 0.0) {
        eprintln!("--chunk-delay-ms must be a number >= 0");
        std::process::exit(2);
    }
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    rt.enable_all().build()?.block_on(serve(args))
}

async fn serve(args: Args) -> std::io::Result<()> {
    let canned = Arc::new(Canned::new(Duration::from_secs_f64(args.chunk_delay_ms / 1e3), &args.stt_texts));
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .route("/v1/models", get(models))
        .route("/v1/audio/transcriptions", post(transcriptions).layer(DefaultBodyLimit::max(STT_BODY_LIMIT)))
        .with_state(canned);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    println!("fake-upstream listening on http://{addr}/v1");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_bench_tools::sse::SseReader;

    fn events(c: &Canned, include_usage: bool) -> Vec<serde_json::Value> {
        let mut r = SseReader::default();
        for (_, b) in c.stream_parts(include_usage) {
            r.push(&b);
        }
        std::iter::from_fn(|| r.next_data())
            .map(|d| serde_json::from_str(&d).unwrap_or(serde_json::Value::String(d)))
            .collect()
    }

    #[test]
    fn streams_twenty_content_chunks_then_finish_usage_and_done() {
        let c = Canned::new(Duration::ZERO, &[]);
        let ev = events(&c, true);
        let content: Vec<&str> = ev.iter().filter_map(|e| e["choices"][0]["delta"]["content"].as_str()).collect();
        assert_eq!(content.iter().filter(|t| !t.is_empty()).count(), CHUNKS);
        assert_eq!(ev[CHUNKS + 1]["choices"][0]["finish_reason"], "stop");
        assert_eq!(ev[CHUNKS + 2]["usage"]["completion_tokens"], CHUNKS);
        assert_eq!(ev[CHUNKS + 3], "[DONE]");
        assert_eq!(events(&c, false).len(), CHUNKS + 3, "no usage chunk unless asked");
        let whole: serde_json::Value = serde_json::from_slice(&c.completion).unwrap_or_default();
        assert_eq!(whole["choices"][0]["message"]["content"], content.concat());
        assert_eq!(whole["usage"]["total_tokens"], PROMPT_TOKENS + CHUNKS);
    }

    #[test]
    fn transcriptions_answer_the_texts_in_turn() {
        let text = |b: Bytes| serde_json::from_slice::<serde_json::Value>(&b).unwrap_or_default()["text"].clone();
        let c = Canned::new(Duration::ZERO, &["a".to_owned(), "b \"q\"".to_owned()]);
        let got: Vec<_> = (0..3).map(|_| text(c.transcript())).collect();
        assert_eq!(got, [json!("a"), json!("b \"q\""), json!("a")]);
        assert_eq!(text(Canned::new(Duration::ZERO, &[]).transcript()), json!(""));
    }
}
