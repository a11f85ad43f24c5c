//! OpenAI-compatible chat completions (`POST {base_url}/chat/completions`), with SSE streaming
//! (`data: {chunk}` lines, ended by `data: [DONE]`).

use crate::error::{ProviderError, ProviderErrorKind};
use crate::types::{ChatEvent, ChatRequest, Completion, Usage};
use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use rampart_core::Secret;
use serde::Deserialize;
use serde_json::{Value, json};
use std::pin::Pin;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct OpenAiConfig {
    /// e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1` (from admin configuration).
    pub base_url: url::Url,
    pub model: String,
    pub api_key: Option<Secret<String>>,
    /// Time to the response headers (and, streaming, between chunks).
    pub timeout: Duration,
    /// Retries of retryable failures before any output (backoff 250 ms × 2ⁿ, or `Retry-After`).
    pub max_retries: u32,
}

/// A client for one configured model.
#[derive(Clone, Debug)]
pub struct OpenAiCompatible {
    http: reqwest::Client,
    cfg: OpenAiConfig,
}

#[derive(Deserialize)]
struct ApiUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

impl From<ApiUsage> for Usage {
    fn from(u: ApiUsage) -> Self {
        Usage { input_tokens: u.prompt_tokens.unwrap_or(0), output_tokens: u.completion_tokens.unwrap_or(0) }
    }
}

/// The longest `Retry-After` we honour before giving up instead.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(20);

pub type EventStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, ProviderError>> + Send>>;

impl OpenAiCompatible {
    pub fn new(cfg: OpenAiConfig) -> Result<Self, ProviderError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(cfg.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .build()
            .map_err(|e| ProviderError::new(ProviderErrorKind::Network, false, format!("http client: {e}")))?;
        Ok(Self { http, cfg })
    }

    fn body(&self, req: &ChatRequest, stream: bool) -> Value {
        let mut b = json!({"model": self.cfg.model, "messages": req.messages, "stream": stream});
        if stream {
            b["stream_options"] = json!({"include_usage": true});
        }
        if let Some(v) = req.max_tokens {
            b["max_tokens"] = json!(v);
        }
        if let Some(v) = req.temperature {
            b["temperature"] = json!(v);
        }
        if let Some(v) = req.top_p {
            b["top_p"] = json!(v);
        }
        b
    }

    fn url(&self) -> String {
        format!("{}/chat/completions", self.cfg.base_url.as_str().trim_end_matches('/'))
    }

    /// Sends the request, retrying retryable failures; returns the successful response.
    async fn send(&self, body: &Value) -> Result<reqwest::Response, ProviderError> {
        let mut attempt = 0;
        loop {
            let mut r = self.http.post(self.url()).json(body);
            if let Some(k) = &self.cfg.api_key {
                r = r.bearer_auth(k.expose());
            }
            let err = match tokio::time::timeout(self.cfg.timeout, r.send()).await {
                Err(_) => ProviderError::new(ProviderErrorKind::Timeout, true, "no response headers in time"),
                Ok(Err(e)) => ProviderError::from_reqwest(&e),
                Ok(Ok(resp)) if resp.status().is_success() => return Ok(resp),
                Ok(Ok(resp)) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let text = resp.text().await.unwrap_or_default();
                    ProviderError::from_status(status, retry_after, &text)
                }
            };
            let wait = err.retry_after.unwrap_or_else(|| Duration::from_millis(250u64 << attempt.min(6)));
            if !err.retryable || attempt >= self.cfg.max_retries || wait > MAX_RETRY_AFTER {
                return Err(err);
            }
            tracing::warn!(attempt, status = ?err.status, kind = ?err.kind, wait_ms = wait.as_millis() as u64, "retrying model provider");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One whole reply.
    pub async fn complete(&self, req: &ChatRequest) -> Result<Completion, ProviderError> {
        let resp = self.send(&self.body(req, false)).await?;
        let v: Value = resp.json().await.map_err(|e| ProviderError::from_reqwest(&e))?;
        let choice = &v["choices"][0];
        let text = choice["message"]["content"]
            .as_str()
            .ok_or_else(|| ProviderError::new(ProviderErrorKind::Protocol, false, "no choices[0].message.content"))?
            .to_owned();
        let usage = serde_json::from_value::<ApiUsage>(v["usage"].clone()).ok().map(Usage::from);
        Ok(Completion { text, usage, finish_reason: choice["finish_reason"].as_str().map(str::to_owned) })
    }

    /// A streamed reply: `Delta`s, then one `Done`. A failure after output has started is
    /// reported in the stream and not retried.
    pub async fn stream(&self, req: &ChatRequest) -> Result<EventStream, ProviderError> {
        let resp = self.send(&self.body(req, true)).await?;
        let idle = self.cfg.timeout;
        let events = resp.bytes_stream().eventsource();
        let s = futures::stream::unfold(
            (Box::pin(events), None::<Usage>, None::<String>, false),
            move |(mut events, mut usage, mut finish, done)| async move {
                if done {
                    return None;
                }
                loop {
                    let next = match tokio::time::timeout(idle, events.next()).await {
                        Err(_) => {
                            let e = ProviderError::new(ProviderErrorKind::Timeout, false, "stream stalled");
                            return Some((Err(e), (events, usage, finish, true)));
                        }
                        Ok(n) => n,
                    };
                    let ev = match next {
                        None => {
                            let e =
                                ProviderError::new(ProviderErrorKind::Protocol, false, "stream ended without [DONE]");
                            return Some((Err(e), (events, usage, finish, true)));
                        }
                        Some(Err(e)) => {
                            let e = ProviderError::new(ProviderErrorKind::Network, false, format!("stream broke: {e}"));
                            return Some((Err(e), (events, usage, finish, true)));
                        }
                        Some(Ok(ev)) => ev,
                    };
                    if ev.data.trim() == "[DONE]" {
                        let done = ChatEvent::Done { usage, finish_reason: finish.clone() };
                        return Some((Ok(done), (events, usage, finish, true)));
                    }
                    let v: Value = match serde_json::from_str(&ev.data) {
                        Ok(v) => v,
                        Err(e) => {
                            let e = ProviderError::new(ProviderErrorKind::Protocol, false, format!("bad chunk: {e}"));
                            return Some((Err(e), (events, usage, finish, true)));
                        }
                    };
                    if let Some(err) = v.get("error") {
                        let e = ProviderError::new(
                            ProviderErrorKind::Upstream,
                            false,
                            format!("error event: {}", err.to_string().chars().take(300).collect::<String>()),
                        );
                        return Some((Err(e), (events, usage, finish, true)));
                    }
                    if let Ok(u) = serde_json::from_value::<ApiUsage>(v["usage"].clone()) {
                        usage = Some(u.into());
                    }
                    if let Some(f) = v["choices"][0]["finish_reason"].as_str() {
                        finish = Some(f.to_owned());
                    }
                    if let Some(t) = v["choices"][0]["delta"]["content"].as_str().filter(|t| !t.is_empty()) {
                        return Some((Ok(ChatEvent::Delta(t.to_owned())), (events, usage, finish, false)));
                    }
                }
            },
        );
        Ok(Box::pin(s))
    }
}

impl From<ProviderError> for rampart_core::llm::ModelError {
    fn from(e: ProviderError) -> Self {
        rampart_core::llm::ModelError { retryable: e.retryable, retry_after: e.retry_after, detail: e.to_string() }
    }
}

impl rampart_core::llm::ChatModel for OpenAiCompatible {
    fn model_id(&self) -> &str {
        &self.cfg.model
    }

    fn stream(
        &self,
        req: ChatRequest,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<rampart_core::llm::EventStream, rampart_core::llm::ModelError>>
                + Send
                + '_,
        >,
    > {
        Box::pin(async move {
            let s = OpenAiCompatible::stream(self, &req).await?;
            let mapped: rampart_core::llm::EventStream =
                Box::pin(s.map(|r| r.map_err(rampart_core::llm::ModelError::from)));
            Ok(mapped)
        })
    }
}
