//! The language-model port: a provider-neutral request/response vocabulary and the
//! `ChatModel` trait that `providers` implements and `chat` calls (feature crates meet here).
//!
//! Tool calling: a request may offer tools ([`ToolSpec`]) to a model that supports them
//! ([`ChatModel::supports_tools`]); the model's reply then carries [`ChatEvent::ToolCall`]s
//! before its `Done`, the caller runs them and sends the conversation back with the
//! assistant's calls ([`ChatMessage::tool_calls`]) and a [`Role::Tool`] message holding their
//! results ([`ChatMessage::tool_results`]). What runs tools, and how, is `crate::tools`.

use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    /// The results of the tool calls of the assistant message before it
    /// ([`ChatMessage::tool_results`]).
    Tool,
}

/// A tool offered to the model: its name, what it does, and the JSON Schema of its input
/// (an object schema, as every provider requires).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// 1-64 characters of a-z, A-Z, 0-9, `_`, `-` (the providers' common rule).
    pub name: String,
    pub description: String,
    pub input_schema: serde_json::Value,
}

/// A tool call the model asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id of the call, echoed with its result.
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them: JSON text, not yet checked (models do write
    /// invalid JSON; the caller says so to the model).
    pub arguments: String,
}

impl ToolCall {
    /// The arguments as a JSON object (none at all counts as `{}`), or what to tell the model
    /// about them.
    pub fn arguments_object(&self) -> Result<serde_json::Value, String> {
        if self.arguments.trim().is_empty() {
            return Ok(serde_json::Value::Object(serde_json::Map::new()));
        }
        match serde_json::from_str::<serde_json::Value>(&self.arguments) {
            Ok(v @ serde_json::Value::Object(_)) => Ok(v),
            Ok(_) => Err("The arguments must be a JSON object.".to_owned()),
            Err(e) => Err(format!("The arguments are not valid JSON ({e}); call the tool again with a JSON object.")),
        }
    }
}

/// The result of one tool call, sent back to the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolResult {
    /// The [`ToolCall::id`] it answers.
    pub call_id: String,
    pub content: String,
    /// The call failed (unknown tool, bad arguments, the tool's own error): `content` says why.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    /// Assistant messages: the tools the model asked to call, besides any text in `content`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// [`Role::Tool`] messages: the results of the calls of the assistant message before, one
    /// per call, in its order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_results: Vec<ToolResult>,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into(), tool_calls: Vec::new(), tool_results: Vec::new() }
    }

    /// The assistant's turn that asked for tools (`text`: what it said besides, often empty).
    pub fn assistant_calls(text: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        Self { tool_calls: calls, ..Self::new(Role::Assistant, text) }
    }

    /// The results of the calls of the assistant message before.
    pub fn tool_results(results: Vec<ToolResult>) -> Self {
        Self { tool_results: results, ..Self::new(Role::Tool, "") }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    /// Tools the model may call (only for models that [`ChatModel::supports_tools`]).
    pub tools: Vec<ToolSpec>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// A whole reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub text: String,
    pub usage: Option<Usage>,
    pub finish_reason: Option<String>,
    /// The tools the model asked to call (when tools were offered).
    pub tool_calls: Vec<ToolCall>,
}

/// A document a reply drew on (GAIA's `source.documents[]`). Knowledge-base documents also say
/// where they are (Rampart's extension), so that clients can open the passage in context
/// (`GET /v1/knowledge-bases/{kb}/documents/{doc}/passages/{chunk}`) and download the document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceDocument {
    pub title: String,
    pub uri: String,
    pub excerpt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knowledge_base_id: Option<crate::KnowledgeBaseId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id: Option<crate::DocumentId>,
    /// The first passage of this document the reply drew on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_id: Option<crate::ChunkId>,
}

/// One event of a streamed reply. Model providers produce `Delta`s, `ToolCall`s (when tools
/// were offered) and `Done`; assistants that retrieve (kind `rag`) add `Citation`s and
/// `Sources`; the agent loop (`chat`) turns tool calls into `Step`s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatEvent {
    /// More text.
    Delta(String),
    /// A whole tool call (its arguments assembled from the stream), before `Done`.
    ToolCall(ToolCall),
    /// A tool call of the agent loop and what came of it.
    Step(crate::tools::ToolStep),
    /// A citation at character `position` of the reply so far (GAIA's `citationEvent`):
    /// `number` is 1-based as displayed, `document_index` points into the `Sources`.
    /// `chunk`: the cited passage, when it is a knowledge-base passage.
    Citation { position: usize, number: usize, text: String, document_index: usize, chunk: Option<crate::ChunkId> },
    /// The documents the reply drew on, sent before `Done`.
    Sources(Vec<SourceDocument>),
    /// The reply is complete.
    Done { usage: Option<Usage>, finish_reason: Option<String> },
}

/// A failure of a model call, as the port reports it. `detail` is for the log only.
#[derive(Clone, Debug, thiserror::Error)]
#[error("model provider failed: {detail}")]
pub struct ModelError {
    pub retryable: bool,
    pub retry_after: Option<std::time::Duration>,
    pub detail: String,
}

/// Streamed events of one reply.
pub type EventStream = Pin<Box<dyn futures_core::Stream<Item = Result<ChatEvent, ModelError>> + Send>>;

/// A configured model that can stream a reply.
pub trait ChatModel: Send + Sync + 'static {
    /// The model id reported in message metadata (`modelId`).
    fn model_id(&self) -> &str;
    /// Whether requests may offer it tools (an administrator's `tools = true` on a model whose
    /// provider speaks tool calls).
    fn supports_tools(&self) -> bool {
        false
    }
    /// Starts a streamed reply.
    fn stream(&self, req: ChatRequest) -> Pin<Box<dyn Future<Output = Result<EventStream, ModelError>> + Send + '_>>;
    /// A reply the caller wants whole (it does not stream), as the same events. Providers that
    /// can fetch it in one response (cheaper for both sides) override this.
    fn complete_whole(
        &self,
        req: ChatRequest,
    ) -> Pin<Box<dyn Future<Output = Result<EventStream, ModelError>> + Send + '_>> {
        self.stream(req)
    }
}
