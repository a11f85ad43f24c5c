//! OpenAI-compatible chat completions (`POST {base_url}/chat/completions`), with SSE streaming
//! (`data: {chunk}` lines, ended by `data: [DONE]`).

use crate::error::{ProviderError, ProviderErrorKind};
use crate::types::{ChatEvent, ChatRequest, Completion, Usage};
use crate::{http, stream};
use eventsource_stream::Event;
use rampart_core::Secret;
use serde::Deserialize;
use serde_json::{Value, json};
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
    /// The endpoint, parsed once (parsing a URL per request showed up in profiles).
    endpoint: url::Url,
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

pub use crate::stream::EventStream;

impl OpenAiCompatible {
    pub fn new(cfg: OpenAiConfig) -> Result<Self, ProviderError> {
        let endpoint = crate::http::join(&cfg.base_url, "chat/completions")?;
        Ok(Self { http: http::client(cfg.timeout)?, endpoint, cfg })
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

    /// Sends the request, retrying retryable failures; returns the successful response.
    async fn send(&self, body: &Value) -> Result<reqwest::Response, ProviderError> {
        let key = self.cfg.api_key.as_ref().map(|k| k.expose().as_str());
        let make = || {
            let r = self.http.post(self.endpoint.clone()).json(body);
            match key {
                Some(k) => r.bearer_auth(k),
                None => r,
            }
        };
        http::send(make, self.cfg.timeout, self.cfg.max_retries, key.as_slice()).await
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
        Ok(stream::decode(http::sse(resp, self.cfg.timeout), Chunks::default()))
    }
}

/// `data: {chunk}` events until `data: [DONE]`; usage arrives in a last chunk without choices.
#[derive(Default)]
struct Chunks {
    usage: Option<Usage>,
    finish: Option<String>,
}

impl stream::Decoder<Event> for Chunks {
    fn event(&mut self, ev: Event) -> Result<Option<ChatEvent>, ProviderError> {
        if ev.data.trim() == "[DONE]" {
            return Ok(Some(ChatEvent::Done { usage: self.usage, finish_reason: self.finish.take() }));
        }
        let v: Value = serde_json::from_str(&ev.data)
            .map_err(|e| ProviderError::new(ProviderErrorKind::Protocol, false, format!("bad chunk: {e}")))?;
        if let Some(err) = v.get("error") {
            let detail = format!("error event: {}", err.to_string().chars().take(300).collect::<String>());
            return Err(ProviderError::new(ProviderErrorKind::Upstream, false, detail));
        }
        if let Ok(u) = serde_json::from_value::<ApiUsage>(v["usage"].clone()) {
            self.usage = Some(u.into());
        }
        if let Some(f) = v["choices"][0]["finish_reason"].as_str() {
            self.finish = Some(f.to_owned());
        }
        Ok(v["choices"][0]["delta"]["content"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(|t| ChatEvent::Delta(t.to_owned())))
    }

    fn end(&mut self) -> Result<ChatEvent, ProviderError> {
        Err(ProviderError::new(ProviderErrorKind::Protocol, false, "stream ended without [DONE]"))
    }
}

impl rampart_core::llm::ChatModel for OpenAiCompatible {
    fn model_id(&self) -> &str {
        &self.cfg.model
    }

    fn stream(&self, req: ChatRequest) -> stream::PortFuture<'_> {
        Box::pin(async move { Ok(stream::to_port(OpenAiCompatible::stream(self, &req).await?)) })
    }

    /// One non-streaming upstream request.
    fn complete_whole(&self, req: ChatRequest) -> stream::PortFuture<'_> {
        Box::pin(async move {
            let c = OpenAiCompatible::complete(self, &req).await?;
            let delta = if c.text.is_empty() { None } else { Some(Ok(ChatEvent::Delta(c.text))) };
            let done = Ok(ChatEvent::Done { usage: c.usage, finish_reason: c.finish_reason });
            let events: Vec<Result<ChatEvent, rampart_core::llm::ModelError>> =
                delta.into_iter().chain([done]).collect();
            let s: rampart_core::llm::EventStream = Box::pin(futures::stream::iter(events));
            Ok(s)
        })
    }
}
