//! `rampart-providers`: clients for model providers, behind one small vocabulary.
//!
//! Each client implements the `core` port `ChatModel` (a stream of `Delta`s then one `Done`):
//! - [`openai`]: OpenAI-compatible chat completions (OpenAI, vLLM, Ollama, llama.cpp server,
//!   LM Studio), non-streaming and SSE streaming;
//! - [`anthropic`]: Anthropic Messages with SSE streaming (system lifted, turns merged);
//! - [`embed`]: embeddings (OpenAI and Ollama wire formats) and reranking (Cohere and
//!   text-embeddings-inference wire formats) for the `core::embed` ports; Bedrock Titan and
//!   Cohere embeddings are in `bedrock`;
//! - [`http_json`]: a generic HTTP JSON endpoint (SageMaker, TGI…) from a template and a JSON
//!   pointer, not streamed;
//! - `bedrock` (cargo feature `bedrock`, off in this crate and on in `server`'s defaults: the
//!   AWS SDK adds ~40 s to a debug build): Amazon Bedrock ConverseStream through
//!   `aws-sdk-bedrockruntime`, static keys;
//! - [`transcription`]: OpenAI's audio transcription API (OpenAI, faster-whisper-server, vLLM,
//!   whisper.cpp server), for `speech`'s remote engine;
//! - [`webhook`]: the signed HTTP webhook of `custom` assistants, behind the same port;
//! - [`keywrap`]: the `KeyWrap` port for the master key, with Vault transit and AWS KMS
//!   (cargo feature `aws-kms`).
//!
//! Errors say where they came from and whether a retry can help; retries happen only before
//! any output was produced (one loop for the HTTP clients, in `http`; the SDK's own for
//! Bedrock), and a stream that stops early or stalls ends with an error, never a silent
//! `Done`. Credentials are `Secret`s and are removed from error details. Upstream URLs come
//! from administrators' configuration, never from a request. `config`: `[[models]]` entries,
//! their checks and the clients built from them. A shared service (second floor): depends on
//! `core` only; the feature crates reach it through `core`'s ports, wired by `server`.

pub mod anthropic;
#[cfg(feature = "bedrock")]
pub mod bedrock;
pub mod config;
pub mod embed;
pub mod error;
mod http;
pub mod http_json;
pub mod keywrap;
pub mod openai;
mod stream;
pub mod transcription;
mod turns;
pub mod webhook;
/// The request and response vocabulary lives in `core` (it is the port both sides share).
pub mod types {
    pub use rampart_core::llm::*;
}

pub use anthropic::{Anthropic, AnthropicConfig};
#[cfg(feature = "bedrock")]
pub use bedrock::{Bedrock, BedrockConfig, BedrockEmbedder};
pub use config::{ModelConfig, ModelKind, ModelProvider};
pub use embed::{EmbedApi, EmbedConfig, HttpEmbedder, HttpReranker, RerankApi, RerankConfig};
pub use error::{ProviderError, ProviderErrorKind};
pub use http_json::{HttpJson, HttpJsonConfig};
pub use openai::{OpenAiCompatible, OpenAiConfig};
pub use stream::EventStream;
pub use transcription::{OpenAiTranscription, TranscriptionConfig, TranscriptionRequest};
pub use types::{ChatEvent, ChatMessage, ChatRequest, Completion, Role, Usage};
