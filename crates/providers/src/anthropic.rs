//! Anthropic Messages API (`POST {base_url}/v1/messages`, `stream: true`), as documented in
//! "Streaming Messages": named SSE events `message_start` (input usage), `content_block_start`,
//! `content_block_delta` (`text_delta` → text), `content_block_stop`, `message_delta` (stop
//! reason, cumulative output usage), `message_stop` (the end), `ping`, and `error` (e.g.
//! `overloaded_error`). Unknown event types are ignored, as the documentation asks.
//!
//! The request differs from OpenAI's in three ways handled here: the system prompt is a
//! top-level `system` string, not a message; roles must alternate starting with `user`
//! (consecutive same-role messages are merged); `max_tokens` is required.
//!
//! Tools ("Tool use"): offered as `tools: [{name, description, input_schema}]`; the model's
//! calls stream as `content_block_start` with a `tool_use` block `{id, name, input: {}}`, its
//! input as `input_json_delta` fragments (`partial_json`) and `content_block_stop`, which
//! completes the call; the stop reason is `tool_use`. Calls go back as `tool_use` blocks of the
//! assistant's turn, results as `tool_result` blocks (`tool_use_id`, `content`, `is_error`)
//! first in the next user turn. A whole reply (`stream: false`) has the same blocks in
//! `content`.

use crate::error::{ProviderError, ProviderErrorKind};
use crate::types::{ChatEvent, ChatRequest, Role, ToolCall, Usage};
use crate::{http, stream, turns};
use eventsource_stream::Event;
use rampart_core::Secret;
use serde_json::{Value, json};
use std::time::Duration;

/// The API version we speak (sent as `anthropic-version`).
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// `max_tokens` when the request sets none (Anthropic requires one).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

#[derive(Clone, Debug)]
pub struct AnthropicConfig {
    /// `https://api.anthropic.com` unless a gateway is configured (from admin configuration).
    pub base_url: url::Url,
    /// e.g. `claude-sonnet-4-5`.
    pub model: String,
    /// Sent as `x-api-key`.
    pub api_key: Option<Secret<String>>,
    /// Time to the response headers, and between stream events.
    pub timeout: Duration,
    /// Retries of retryable failures before any output (see the `http` module).
    pub max_retries: u32,
    /// Tools may be offered to it (`tools = true` in its `[[models]]` entry).
    pub tools: bool,
}

impl AnthropicConfig {
    /// Anthropic's public endpoint.
    pub fn default_base_url() -> url::Url {
        url::Url::parse("https://api.anthropic.com").unwrap_or_else(|_| unreachable!("a valid literal URL"))
    }
}

/// A client for one configured Anthropic model.
#[derive(Clone, Debug)]
pub struct Anthropic {
    http: reqwest::Client,
    /// The endpoint, parsed once (parsing a URL per request showed up in profiles).
    endpoint: url::Url,
    cfg: AnthropicConfig,
}

impl Anthropic {
    pub fn new(cfg: AnthropicConfig) -> Result<Self, ProviderError> {
        let endpoint = crate::http::join(&cfg.base_url, "v1/messages")?;
        Ok(Self { http: http::client(cfg.timeout)?, endpoint, cfg })
    }

    /// A streamed reply: `Delta`s (and `ToolCall`s), then one `Done`. A failure after the
    /// response was accepted is reported in the stream and not retried.
    pub async fn stream(&self, req: &ChatRequest) -> Result<stream::EventStream, ProviderError> {
        let resp = self.send(&body(&self.cfg.model, req)).await?;
        Ok(stream::decode(http::sse(resp, self.cfg.timeout), Events::default()))
    }

    /// A whole reply (`stream: false`), as the same events.
    pub async fn complete(&self, req: &ChatRequest) -> Result<Vec<ChatEvent>, ProviderError> {
        let mut b = body(&self.cfg.model, req);
        b["stream"] = json!(false);
        let resp = self.send(&b).await?;
        let bytes = resp.bytes().await.map_err(|e| ProviderError::from_reqwest(&e))?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| protocol(format!("malformed response: {e}")))?;
        whole(&v)
    }

    /// Sends the request, retrying retryable failures; returns the successful response.
    async fn send(&self, body: &Value) -> Result<reqwest::Response, ProviderError> {
        let key = self.cfg.api_key.as_ref().map(|k| k.expose().as_str());
        let make = || {
            let r = self.http.post(self.endpoint.clone()).header("anthropic-version", ANTHROPIC_VERSION).json(body);
            match key.and_then(|k| reqwest::header::HeaderValue::from_str(k).ok()) {
                Some(mut v) => {
                    v.set_sensitive(true);
                    r.header("x-api-key", v)
                }
                None => r,
            }
        };
        http::send(make, self.cfg.timeout, self.cfg.max_retries, key.as_slice()).await
    }
}

/// One turn: plain text as a string; with tool calls or results, blocks (results first, as the
/// API requires, then text, then calls).
fn message(t: &turns::Turn<'_>) -> Value {
    let role = if t.role == Role::Assistant { "assistant" } else { "user" };
    if t.is_plain() {
        return json!({"role": role, "content": t.text});
    }
    let mut blocks: Vec<Value> = t
        .results
        .iter()
        .map(|r| {
            let mut b = json!({"type": "tool_result", "tool_use_id": r.call_id, "content": r.content});
            if r.is_error {
                b["is_error"] = json!(true);
            }
            b
        })
        .collect();
    if !t.text.is_empty() {
        blocks.push(json!({"type": "text", "text": t.text}));
    }
    blocks.extend(
        t.calls
            .iter()
            .map(|c| json!({"type": "tool_use", "id": c.id, "name": c.name, "input": turns::arguments_object(c)})),
    );
    json!({"role": role, "content": blocks})
}

/// The request body: system messages lifted into `system`, the rest merged into alternating
/// turns that start with `user`; tools when offered.
pub(crate) fn body(model: &str, req: &ChatRequest) -> Value {
    let messages: Vec<Value> = turns::alternating(&req.messages).iter().map(message).collect();
    let mut b = json!({
        "model": model,
        "max_tokens": req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "messages": messages,
        "stream": true,
    });
    let system = turns::system(&req.messages);
    if !system.is_empty() {
        b["system"] = json!(system.join("\n\n"));
    }
    if let Some(v) = req.temperature {
        b["temperature"] = json!(v);
    }
    if let Some(v) = req.top_p {
        b["top_p"] = json!(v);
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.input_schema}))
            .collect();
        b["tools"] = json!(tools);
    }
    b
}

fn usage_of(u: &Value) -> Usage {
    Usage {
        input_tokens: u["input_tokens"].as_u64().unwrap_or(0),
        output_tokens: u["output_tokens"].as_u64().unwrap_or(0),
    }
}

/// A whole message's content blocks as events: its text, its tool calls, then `Done`.
fn whole(v: &Value) -> Result<Vec<ChatEvent>, ProviderError> {
    let blocks = v["content"].as_array().ok_or_else(|| protocol("no content in the message"))?;
    let text: String = blocks.iter().filter(|b| b["type"] == "text").filter_map(|b| b["text"].as_str()).collect();
    let mut out: Vec<ChatEvent> = Vec::new();
    if !text.is_empty() {
        out.push(ChatEvent::Delta(text));
    }
    for b in blocks.iter().filter(|b| b["type"] == "tool_use") {
        out.push(ChatEvent::ToolCall(ToolCall {
            id: b["id"].as_str().unwrap_or_default().to_owned(),
            name: b["name"].as_str().unwrap_or_default().to_owned(),
            arguments: b["input"].to_string(),
        }));
    }
    let finish_reason = v["stop_reason"].as_str().map(str::to_owned);
    out.push(ChatEvent::Done { usage: Some(usage_of(&v["usage"])), finish_reason });
    Ok(out)
}

/// A `tool_use` block being streamed: its id, name and input so far.
struct OpenCall {
    index: u64,
    call: ToolCall,
    /// The block's `input` at its start (`{}` when it streams), used when no fragment follows.
    start_input: String,
}

/// Decoder state: usage and stop reason arrive before `message_stop`; tool calls between
/// their block's start and stop.
#[derive(Default)]
struct Events {
    usage: Option<Usage>,
    stop_reason: Option<String>,
    open: Vec<OpenCall>,
}

impl Events {
    fn block_start(&mut self, v: &Value) {
        let b = &v["content_block"];
        if b["type"] == "tool_use" {
            let call = ToolCall {
                id: b["id"].as_str().unwrap_or_default().to_owned(),
                name: b["name"].as_str().unwrap_or_default().to_owned(),
                arguments: String::new(),
            };
            let start_input = if b["input"].is_object() { b["input"].to_string() } else { "{}".to_owned() };
            self.open.push(OpenCall { index: v["index"].as_u64().unwrap_or(0), call, start_input });
        }
    }

    fn input_fragment(&mut self, v: &Value) {
        let index = v["index"].as_u64().unwrap_or(0);
        if let (Some(c), Some(part)) =
            (self.open.iter_mut().find(|c| c.index == index), v["delta"]["partial_json"].as_str())
        {
            c.call.arguments.push_str(part);
        }
    }

    /// The call a block stop completes, if it was one.
    fn block_stop(&mut self, v: &Value) -> Option<ChatEvent> {
        let index = v["index"].as_u64().unwrap_or(0);
        let at = self.open.iter().position(|c| c.index == index)?;
        let OpenCall { mut call, start_input, .. } = self.open.remove(at);
        if call.arguments.trim().is_empty() {
            call.arguments = start_input;
        }
        Some(ChatEvent::ToolCall(call))
    }
}

fn protocol(detail: impl Into<String>) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Protocol, false, detail)
}

impl stream::Decoder<Event> for Events {
    fn event(&mut self, ev: Event) -> Result<Option<ChatEvent>, ProviderError> {
        let v: Value = serde_json::from_str(&ev.data).map_err(|e| protocol(format!("bad {} event: {e}", ev.event)))?;
        // The data's `type` names the event; the SSE event name is the same by the documentation.
        let kind = v["type"].as_str().unwrap_or(ev.event.as_str());
        match kind {
            "message_start" => {
                self.usage = Some(usage_of(&v["message"]["usage"]));
                Ok(None)
            }
            "content_block_start" => {
                self.block_start(&v);
                Ok(None)
            }
            "content_block_delta" if v["delta"]["type"] == "text_delta" => {
                Ok(v["delta"]["text"].as_str().filter(|t| !t.is_empty()).map(|t| ChatEvent::Delta(t.to_owned())))
            }
            "content_block_delta" if v["delta"]["type"] == "input_json_delta" => {
                self.input_fragment(&v);
                Ok(None)
            }
            "content_block_stop" => Ok(self.block_stop(&v)),
            "message_delta" => {
                if let Some(r) = v["delta"]["stop_reason"].as_str() {
                    self.stop_reason = Some(r.to_owned());
                }
                // Usage here is cumulative; some gateways report the input count only here.
                let usage = self.usage.get_or_insert_with(Usage::default);
                if let Some(n) = v["usage"]["output_tokens"].as_u64() {
                    usage.output_tokens = n;
                }
                if let Some(n) = v["usage"]["input_tokens"].as_u64().filter(|n| *n > 0) {
                    usage.input_tokens = n;
                }
                Ok(None)
            }
            "message_stop" => Ok(Some(ChatEvent::Done { usage: self.usage, finish_reason: self.stop_reason.take() })),
            "error" => Err(stream_error(&v["error"])),
            // ping, other delta types (thinking…), new events.
            _ => Ok(None),
        }
    }

    fn end(&mut self) -> Result<ChatEvent, ProviderError> {
        Err(protocol("stream ended without message_stop"))
    }
}

/// An `error` event. `retryable` says whether a new attempt could succeed (overload, rate
/// limit, server error); this crate never retries once a response was accepted.
fn stream_error(e: &Value) -> ProviderError {
    let kind = e["type"].as_str().unwrap_or("unknown");
    let message: String = e["message"].as_str().unwrap_or("").chars().take(300).collect();
    let retryable = matches!(kind, "overloaded_error" | "api_error" | "rate_limit_error");
    ProviderError::new(ProviderErrorKind::Upstream, retryable, format!("error event: {kind}: {message}"))
}

impl rampart_core::llm::ChatModel for Anthropic {
    fn model_id(&self) -> &str {
        &self.cfg.model
    }

    fn supports_tools(&self) -> bool {
        self.cfg.tools
    }

    fn stream(&self, req: ChatRequest) -> stream::PortFuture<'_> {
        Box::pin(async move { Ok(stream::to_port(Anthropic::stream(self, &req).await?)) })
    }

    /// One non-streaming upstream request.
    fn complete_whole(&self, req: ChatRequest) -> stream::PortFuture<'_> {
        Box::pin(async move { Ok(stream::events_to_port(Anthropic::complete(self, &req).await?)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ChatMessage;

    fn m(role: Role, c: &str) -> ChatMessage {
        ChatMessage::new(role, c)
    }

    #[test]
    fn system_is_lifted_and_roles_alternate_from_user() {
        let req = ChatRequest {
            messages: vec![
                m(Role::System, "Be brief."),
                m(Role::Assistant, "Hello! How can I help?"),
                m(Role::User, "a"),
                m(Role::System, "Answer in French."),
                m(Role::User, "b"),
                m(Role::Assistant, "c"),
            ],
            ..Default::default()
        };
        let b = body("claude", &req);
        assert_eq!(b["system"], "Be brief.\n\nAnswer in French.");
        assert_eq!(
            b["messages"],
            json!([
                {"role": "user", "content": "."},
                {"role": "assistant", "content": "Hello! How can I help?"},
                {"role": "user", "content": "a\n\nb"},
                {"role": "assistant", "content": "c"},
            ])
        );
        assert_eq!(b["max_tokens"], DEFAULT_MAX_TOKENS);
        assert!(b.get("temperature").is_none() && b.get("top_p").is_none());
    }

    #[test]
    fn no_system_key_without_system_messages() {
        let b = body("claude", &ChatRequest { messages: vec![m(Role::User, "hi")], ..Default::default() });
        assert!(b.get("system").is_none());
    }
}
