//! OpenAI-compatible chat completions (`POST {base_url}/chat/completions`), with SSE streaming
//! (`data: {chunk}` lines, ended by `data: [DONE]`).
//!
//! Tools ("function calling"): offered as `tools: [{type: "function", function: {name,
//! description, parameters}}]`; a whole reply's `message.tool_calls` are `{id, type:
//! "function", function: {name, arguments}}` with `arguments` a JSON string; streamed, each
//! `delta.tool_calls[]` item names its call by `index` — the first one of a call brings `id`
//! and `name`, the rest fragments of `arguments` — and the finish reason is `tool_calls`. Calls
//! go back in the assistant message's `tool_calls`, results as one `{role: "tool",
//! tool_call_id, content}` message each. (Ollama reuses index 0 for every call of a parallel
//! batch, telling them apart by id: a new id at a used index starts a new call.)

use crate::error::{ProviderError, ProviderErrorKind};
use crate::types::{ChatEvent, ChatMessage, ChatRequest, Completion, Role, ToolCall, Usage};
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
    /// Tools may be offered to it (`tools = true` in its `[[models]]` entry).
    pub tools: bool,
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
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
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

/// A message as the API takes it.
#[derive(Serialize)]
struct WireMessage<'a> {
    role: Role,
    /// `null` for an assistant message with tool calls and no text.
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<WireCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
}

/// A call (with its `id`) or a tool: `{type: "function", function: {...}}`.
#[derive(Serialize)]
struct OfFunction<'a, F> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    r#type: &'static str,
    function: F,
}

impl<'a, F> OfFunction<'a, F> {
    fn new(id: Option<&'a str>, function: F) -> Self {
        Self { id, r#type: "function", function }
    }
}

type WireCall<'a> = OfFunction<'a, WireFunction<'a>>;
type WireTool<'a> = OfFunction<'a, WireToolSpec<'a>>;

#[derive(Serialize)]
struct WireFunction<'a> {
    name: &'a str,
    arguments: &'a str,
}

#[derive(Serialize)]
struct WireToolSpec<'a> {
    name: &'a str,
    description: &'a str,
    parameters: &'a Value,
}

/// The messages in the API's shape: a tool message per result.
fn wire_messages(messages: &[ChatMessage]) -> Vec<WireMessage<'_>> {
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        if m.role == Role::Tool {
            out.extend(m.tool_results.iter().map(|r| WireMessage {
                role: Role::Tool,
                content: Some(&r.content),
                tool_calls: Vec::new(),
                tool_call_id: Some(&r.call_id),
            }));
            continue;
        }
        let tool_calls: Vec<WireCall<'_>> = m
            .tool_calls
            .iter()
            .map(|c| WireCall::new(Some(&c.id), WireFunction { name: &c.name, arguments: &c.arguments }))
            .collect();
        let content = (tool_calls.is_empty() || !m.content.is_empty()).then_some(m.content.as_str());
        out.push(WireMessage { role: m.role, content, tool_calls, tool_call_id: None });
    }
    out
}

/// A tool call of a whole reply.
#[derive(Deserialize)]
struct ApiToolCall {
    id: String,
    function: ApiFunction,
}

#[derive(Deserialize)]
struct ApiFunction {
    name: String,
    #[serde(default)]
    arguments: String,
}

/// A fragment of a streamed tool call.
#[derive(Deserialize)]
struct DeltaCall {
    #[serde(default)]
    index: usize,
    id: Option<String>,
    #[serde(default)]
    function: DeltaFunction,
}

#[derive(Deserialize, Default)]
struct DeltaFunction {
    name: Option<String>,
    arguments: Option<String>,
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
    #[serde(default)]
    tool_calls: Vec<ApiToolCall>,
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
    #[serde(default)]
    tool_calls: Vec<DeltaCall>,
}

impl OpenAiCompatible {
    pub fn new(cfg: OpenAiConfig) -> Result<Self, ProviderError> {
        let endpoint = crate::http::join(&cfg.base_url, "chat/completions")?;
        Ok(Self { http: http::client(cfg.timeout)?, endpoint, cfg })
    }

    fn body<'a>(&'a self, req: &'a ChatRequest, stream: bool) -> ApiRequest<'a> {
        ApiRequest {
            model: &self.cfg.model,
            messages: wire_messages(&req.messages),
            tools: req
                .tools
                .iter()
                .map(|t| {
                    let spec = WireToolSpec { name: &t.name, description: &t.description, parameters: &t.input_schema };
                    WireTool::new(None, spec)
                })
                .collect(),
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
        let Some(ApiChoice { message, finish_reason }) = v.choices.into_iter().next() else {
            return Err(ProviderError::new(ProviderErrorKind::Protocol, false, "no choices[0]"));
        };
        if message.content.is_none() && message.tool_calls.is_empty() {
            return Err(ProviderError::new(ProviderErrorKind::Protocol, false, "no choices[0].message.content"));
        }
        let tool_calls = message
            .tool_calls
            .into_iter()
            .map(|c| ToolCall { id: c.id, name: c.function.name, arguments: c.function.arguments })
            .collect();
        let text = message.content.unwrap_or_default();
        Ok(Completion { text, usage: v.usage.map(Usage::from), finish_reason, tool_calls })
    }

    /// A streamed reply: `Delta`s, then one `Done`. A failure after output has started is
    /// reported in the stream and not retried.
    pub async fn stream(&self, req: &ChatRequest) -> Result<EventStream, ProviderError> {
        let resp = self.send(&self.body(req, true)).await?;
        Ok(stream::decode(http::sse(resp, self.cfg.timeout), Chunks::default()))
    }
}

/// `data: {chunk}` events until `data: [DONE]`; usage arrives in a last chunk without choices;
/// tool calls are assembled from their fragments and handed over, in order, before `Done`.
#[derive(Default)]
struct Chunks {
    usage: Option<Usage>,
    finish: Option<String>,
    /// Calls being assembled, with the index the stream names each by.
    calls: Vec<(usize, ToolCall)>,
    /// The calls, then `Done`, once `[DONE]` arrived.
    ready: std::collections::VecDeque<ChatEvent>,
}

impl Chunks {
    fn fragment(&mut self, d: DeltaCall) {
        let id = d.id.filter(|i| !i.is_empty());
        let same = |(i, c): &(usize, ToolCall)| *i == d.index && id.as_ref().is_none_or(|id| *id == c.id);
        let at = match self.calls.iter().rposition(same) {
            Some(at) => at,
            None => {
                let id = id.unwrap_or_else(|| format!("call_{}", d.index));
                self.calls.push((d.index, ToolCall { id, name: String::new(), arguments: String::new() }));
                self.calls.len() - 1
            }
        };
        let call = &mut self.calls[at].1;
        if let Some(name) = d.function.name.filter(|_| call.name.is_empty()) {
            call.name = name;
        }
        if let Some(part) = d.function.arguments {
            call.arguments.push_str(&part);
        }
    }
}

impl stream::Decoder<Event> for Chunks {
    fn pending(&mut self) -> Option<ChatEvent> {
        self.ready.pop_front()
    }

    fn event(&mut self, ev: Event) -> Result<Option<ChatEvent>, ProviderError> {
        if ev.data.trim() == "[DONE]" {
            self.ready.extend(self.calls.drain(..).map(|(_, c)| ChatEvent::ToolCall(c)));
            self.ready.push_back(ChatEvent::Done { usage: self.usage, finish_reason: self.finish.take() });
            return Ok(self.ready.pop_front());
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
        for d in choice.delta.tool_calls {
            self.fragment(d);
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

    fn supports_tools(&self) -> bool {
        self.cfg.tools
    }

    fn stream(&self, req: ChatRequest) -> stream::PortFuture<'_> {
        Box::pin(async move { Ok(stream::to_port(OpenAiCompatible::stream(self, &req).await?)) })
    }

    /// One non-streaming upstream request.
    fn complete_whole(&self, req: ChatRequest) -> stream::PortFuture<'_> {
        Box::pin(async move {
            let c = OpenAiCompatible::complete(self, &req).await?;
            let delta = (!c.text.is_empty()).then_some(ChatEvent::Delta(c.text));
            let calls = c.tool_calls.into_iter().map(ChatEvent::ToolCall);
            let done = ChatEvent::Done { usage: c.usage, finish_reason: c.finish_reason };
            Ok(stream::events_to_port(delta.into_iter().chain(calls).chain([done]).collect()))
        })
    }
}
