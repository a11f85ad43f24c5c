//! The language-model port: a provider-neutral request/response vocabulary and the
//! `ChatModel` trait that `providers` implements and `chat` calls (feature crates meet here).

use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into() }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
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

/// One event of a streamed reply. Model providers produce `Delta`s and `Done`; assistants that
/// retrieve (kind `rag`) add `Citation`s and `Sources`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatEvent {
    /// More text.
    Delta(String),
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
