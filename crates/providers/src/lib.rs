//! `rampart-providers`: clients for model providers, behind one small vocabulary.
//!
//! Now: OpenAI-compatible chat completions (OpenAI, vLLM, Ollama, llama.cpp server, LM
//! Studio), non-streaming and SSE streaming. Errors say where they came from and whether a
//! retry can help; retries happen only before any output was produced. Upstream URLs come
//! from administrators' configuration, never from a request. Depends on `core` only.
//! Later: Anthropic Messages, Bedrock Converse, a generic HTTP JSON endpoint.

pub mod anthropic;
pub mod error;
mod http;
pub mod http_json;
pub mod openai;
mod stream;
/// The request and response vocabulary lives in `core` (it is the port both sides share).
pub mod types {
    pub use rampart_core::llm::*;
}

pub use anthropic::{Anthropic, AnthropicConfig};
pub use error::{ProviderError, ProviderErrorKind};
pub use http_json::{HttpJson, HttpJsonConfig};
pub use openai::{OpenAiCompatible, OpenAiConfig};
pub use stream::EventStream;
pub use types::{ChatEvent, ChatMessage, ChatRequest, Completion, Role, Usage};
