//! OpenAI-compatible chat completions (`POST {base_url}/chat/completions`), with SSE streaming
//! (`data: {chunk}` lines, ended by `data: [DONE]`).

use crate::error::{ProviderError, ProviderErrorKind};
use crate::types::{ChatEvent, ChatRequest, Completion, Usage};
use crate::{http, stream};
use eventsource_stream::Event;
use rampart_core::Secret;
use serde::{Deserialize, Serialize};
use serde_json::Value;
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

/// The request body (typed: a `serde_json::Value` per request showed up in profiles).
#[derive(Serialize)]
struct ApiRequest<'a> {
    model: &'a str,
    messages: &'a [crate::types::ChatMessage],
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Deserialize)]
struct ApiCompletion {
    #[serde(default)]
    choices: Vec<ApiChoice>,
    usage: Option<ApiUsage>,
}

#[derive(Deserialize)]
struct ApiChoice {
    message: ApiMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ApiMessage {
    content: Option<String>,
}

/// One streamed chunk: `choices[0].delta.content`, `finish_reason`, a last chunk with `usage`,
/// or an `error` object.
#[derive(Deserialize)]
struct ApiChunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    usage: Option<ApiUsage>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: ChunkDelta,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct ChunkDelta {
    content: Option<String>,
}

impl OpenAiCompatible {
    pub fn new(cfg: OpenAiConfig) -> Result<Self, ProviderError> {
        let endpoint = crate::http::join(&cfg.base_url, "chat/completions")?;
        Ok(Self { http: http::client(cfg.timeout)?, endpoint, cfg })
    }

    fn body<'a>(&'a self, req: &'a ChatRequest, stream: bool) -> ApiRequest<'a> {
        ApiRequest {
            model: &self.cfg.model,
            messages: &req.messages,
            stream,
            stream_options: stream.then_some(StreamOptions { include_usage: true }),
            max_tokens: req.max_tokens,
            temperature: req.temperature,
            top_p: req.top_p,
        }
    }

    /// Sends the request, retrying retryable failures; returns the successful response.
    async fn send(&self, body: &ApiRequest<'_>) -> Result<reqwest::Response, ProviderError> {
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
        let bytes = resp.bytes().await.map_err(|e| ProviderError::from_reqwest(&e))?;
        let v: ApiCompletion = serde_json::from_slice(&bytes)
            .map_err(|e| ProviderError::new(ProviderErrorKind::Protocol, false, format!("malformed response: {e}")))?;
        let choice = v.choices.into_iter().next();
        let (text, finish_reason) = match choice {
            Some(ApiChoice { message: ApiMessage { content: Some(text) }, finish_reason }) => (text, finish_reason),
            _ => return Err(ProviderError::new(ProviderErrorKind::Protocol, false, "no choices[0].message.content")),
        };
        Ok(Completion { text, usage: v.usage.map(Usage::from), finish_reason })
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
        let v: ApiChunk = serde_json::from_str(&ev.data)
            .map_err(|e| ProviderError::new(ProviderErrorKind::Protocol, false, format!("bad chunk: {e}")))?;
        if let Some(err) = v.error {
            let detail = format!("error event: {}", err.to_string().chars().take(300).collect::<String>());
            return Err(ProviderError::new(ProviderErrorKind::Upstream, false, detail));
        }
        if let Some(u) = v.usage {
            self.usage = Some(u.into());
        }
        let Some(choice) = v.choices.into_iter().next() else { return Ok(None) };
        if let Some(f) = choice.finish_reason {
            self.finish = Some(f);
        }
        Ok(choice.delta.content.filter(|t| !t.is_empty()).map(ChatEvent::Delta))
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
