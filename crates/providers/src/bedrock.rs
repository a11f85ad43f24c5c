//! Amazon Bedrock ConverseStream through the official SDK (`aws-sdk-bedrockruntime`, no default
//! features). Compiled with the `bedrock` cargo feature only.
//!
//! Request: system messages → `system` text blocks (one per message), the rest → alternating
//! `user`/`assistant` messages with one text block each, `inferenceConfig` from the request.
//! Stream: `contentBlockDelta` text → `Delta`; `messageStop` gives the stop reason and
//! `metadata` the usage, then `Done`. Exceptions in the stream end it with an error.
//!
//! Tools ("Call a tool with the Converse API"): offered in `toolConfig.tools[].toolSpec {name,
//! description, inputSchema: {json}}`; a call streams as `contentBlockStart` with
//! `start.toolUse {toolUseId, name}`, `contentBlockDelta` with `delta.toolUse.input` fragments
//! (JSON text) and `contentBlockStop`, which completes it; the stop reason is `tool_use`. Calls
//! go back as `toolUse {toolUseId, name, input}` blocks of the assistant's message, results as
//! `toolResult {toolUseId, content: [{text}], status}` blocks of the next user message.
//!
//! Credentials: static keys from configuration only. The SDK's default chain (environment,
//! profile, SSO, web identity, ECS/IMDS roles) lives in `aws-config`, which also pulls in
//! `aws-sdk-sts` and more; it is not compiled in. `new` refuses a configuration without keys.
//!
//! Retries and timeouts are the SDK's: standard retry mode with `max_retries + 1` attempts
//! (initial backoff 250 ms, as our HTTP providers), throttling, 5xx and `ModelNotReady`
//! retried (Bedrock sends no `Retry-After`); `timeout` bounds each attempt until the stream
//! opens and each read, and we wait at most `timeout` between stream events. The SDK's own
//! stalled-stream check is off so that `timeout` is the one rule.

use crate::error::{ProviderError, ProviderErrorKind};
use crate::types::{ChatEvent, ChatRequest, Role, ToolCall, Usage};
use crate::{stream, turns};
use aws_sdk_bedrockruntime as sdk;
use aws_smithy_types::{Document, Number};
use rampart_core::Secret;
use sdk::config::retry::RetryConfig;
use sdk::config::timeout::TimeoutConfig;
use sdk::config::{BehaviorVersion, Credentials, Region, StalledStreamProtectionConfig};
use sdk::error::{ProvideErrorMetadata, SdkError};
use sdk::operation::converse_stream::ConverseStreamError;
use sdk::types::error::ConverseStreamOutputError;
use sdk::types::{
    ContentBlock, ContentBlockDelta, ContentBlockStart, ConversationRole, ConverseStreamOutput, InferenceConfiguration,
    Message, SystemContentBlock, Tool, ToolConfiguration, ToolInputSchema, ToolResultBlock, ToolResultContentBlock,
    ToolResultStatus, ToolSpecification, ToolUseBlock,
};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct BedrockConfig {
    /// e.g. `us-east-1`.
    pub region: String,
    /// A model id or inference profile, e.g. `anthropic.claude-3-haiku-20240307-v1:0`.
    pub model: String,
    /// Instead of the regional endpoint: a VPC endpoint, or a fake in tests.
    pub endpoint_url: Option<url::Url>,
    /// Required (see the module documentation: no default credential chain).
    pub access_key_id: Option<Secret<String>>,
    pub secret_access_key: Option<Secret<String>>,
    /// For temporary credentials.
    pub session_token: Option<Secret<String>>,
    pub timeout: Duration,
    pub max_retries: u32,
    /// Tools may be offered to it (`tools = true` in its `[[models]]` entry).
    pub tools: bool,
}

/// A client for one configured Bedrock model.
#[derive(Clone, Debug)]
pub struct Bedrock {
    client: sdk::Client,
    cfg: BedrockConfig,
}

fn config(detail: impl Into<String>) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Config, false, detail)
}

impl Bedrock {
    /// Builds the SDK client (no I/O: credentials are static).
    pub fn new(cfg: BedrockConfig) -> Result<Self, ProviderError> {
        let (Some(key_id), Some(secret)) = (&cfg.access_key_id, &cfg.secret_access_key) else {
            return Err(config(
                "bedrock needs access_key_id and secret_access_key (the AWS default credential chain is not built in)",
            ));
        };
        if cfg.region.trim().is_empty() {
            return Err(config("bedrock needs a region"));
        }
        let creds = Credentials::new(
            key_id.expose(),
            secret.expose(),
            cfg.session_token.as_ref().map(|t| t.expose().clone()),
            None,
            "rampart-config",
        );
        let retry = RetryConfig::standard()
            .with_max_attempts(cfg.max_retries.saturating_add(1))
            .with_initial_backoff(Duration::from_millis(250));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(cfg.timeout)
            .operation_attempt_timeout(cfg.timeout)
            .build();
        let mut b = sdk::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(cfg.region.clone()))
            .credentials_provider(creds)
            .retry_config(retry)
            .timeout_config(timeouts)
            // One stall rule for every provider (`timeout` between events, below), not the
            // SDK's extra throughput check, which would cut a model thinking for over 5 s.
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
        if let Some(u) = &cfg.endpoint_url {
            b = b.endpoint_url(u.as_str().trim_end_matches('/'));
        }
        Ok(Self { client: sdk::Client::from_conf(b.build()), cfg })
    }

    /// A streamed reply: `Delta`s (and `ToolCall`s), then one `Done`.
    pub async fn stream(&self, req: &ChatRequest) -> Result<stream::EventStream, ProviderError> {
        let system: Vec<SystemContentBlock> =
            turns::system(&req.messages).into_iter().map(|s| SystemContentBlock::Text(s.to_owned())).collect();
        let messages = turns::alternating(&req.messages).iter().map(message).collect::<Result<Vec<_>, _>>()?;
        let inference = (req.max_tokens.is_some() || req.temperature.is_some() || req.top_p.is_some()).then(|| {
            InferenceConfiguration::builder()
                .set_max_tokens(req.max_tokens.map(|v| i32::try_from(v).unwrap_or(i32::MAX)))
                .set_temperature(req.temperature)
                .set_top_p(req.top_p)
                .build()
        });
        let out = self
            .client
            .converse_stream()
            .model_id(&self.cfg.model)
            .set_system((!system.is_empty()).then_some(system))
            .set_messages(Some(messages))
            .set_inference_config(inference)
            .set_tool_config(tool_config(req)?)
            .send()
            .await
            .map_err(|e| self.redacted(sdk_error(&e, status_of(&e), operation_retryable)))?;
        let events = futures::stream::unfold(out.stream, |mut rx| async move {
            match rx.recv().await {
                Ok(Some(ev)) => Some((Ok(ev), rx)),
                Ok(None) => None,
                Err(e) => Some((Err(e), rx)),
            }
        });
        let this = self.clone();
        let items = stream::with_idle_timeout(events, self.cfg.timeout, move |e| {
            this.redacted(sdk_error(&e, None, stream_retryable))
        });
        Ok(stream::decode(items, Events::default()))
    }
}

fn request_error(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Protocol, false, format!("request: {e}"))
}

/// One turn: tool results first, then its text (always, for a text-only turn, as before tools;
/// else when not empty: the API refuses blank text blocks), then tool calls.
fn message(t: &turns::Turn<'_>) -> Result<Message, ProviderError> {
    let role = if t.role == Role::Assistant { ConversationRole::Assistant } else { ConversationRole::User };
    let mut content = Vec::new();
    for r in &t.results {
        let status = if r.is_error { ToolResultStatus::Error } else { ToolResultStatus::Success };
        let block = ToolResultBlock::builder()
            .tool_use_id(&r.call_id)
            .content(ToolResultContentBlock::Text(r.content.clone()))
            .status(status)
            .build()
            .map_err(request_error)?;
        content.push(ContentBlock::ToolResult(block));
    }
    if t.is_plain() || !t.text.is_empty() {
        content.push(ContentBlock::Text(t.text.clone()));
    }
    for c in &t.calls {
        let block = ToolUseBlock::builder()
            .tool_use_id(&c.id)
            .name(&c.name)
            .input(document(&turns::arguments_object(c)))
            .build()
            .map_err(request_error)?;
        content.push(ContentBlock::ToolUse(block));
    }
    Message::builder().role(role).set_content(Some(content)).build().map_err(request_error)
}

/// `toolConfig` when tools are offered.
fn tool_config(req: &ChatRequest) -> Result<Option<ToolConfiguration>, ProviderError> {
    if req.tools.is_empty() {
        return Ok(None);
    }
    let mut tools = Vec::with_capacity(req.tools.len());
    for t in &req.tools {
        let spec = ToolSpecification::builder()
            .name(&t.name)
            .description(&t.description)
            .input_schema(ToolInputSchema::Json(document(&t.input_schema)))
            .build()
            .map_err(request_error)?;
        tools.push(Tool::ToolSpec(spec));
    }
    ToolConfiguration::builder().set_tools(Some(tools)).build().map(Some).map_err(request_error)
}

/// A JSON value as the SDK's document type.
fn document(v: &serde_json::Value) -> Document {
    use serde_json::Value as V;
    match v {
        V::Null => Document::Null,
        V::Bool(b) => Document::Bool(*b),
        V::Number(n) => Document::Number(match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Number::PosInt(u),
            (None, Some(i)) => Number::NegInt(i),
            (None, None) => Number::Float(n.as_f64().unwrap_or(0.0)),
        }),
        V::String(s) => Document::String(s.clone()),
        V::Array(a) => Document::Array(a.iter().map(document).collect()),
        V::Object(o) => Document::Object(o.iter().map(|(k, v)| (k.clone(), document(v))).collect()),
    }
}

impl Bedrock {
    /// The error with the configured credentials removed (defence in depth: service messages
    /// are not expected to quote them).
    fn redacted(&self, mut e: ProviderError) -> ProviderError {
        let secrets = [&self.cfg.access_key_id, &self.cfg.secret_access_key, &self.cfg.session_token];
        let secrets: Vec<&str> = secrets.into_iter().flatten().map(|s| s.expose().as_str()).collect();
        e.detail = crate::http::redact(std::mem::take(&mut e.detail), &secrets);
        e
    }
}

fn status_of<E>(e: &SdkError<E, sdk::config::http::HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// Whether a new attempt could succeed. The SDK's enums are non-exhaustive: anything new or
/// unmodelled is judged by its code, and unknown codes are not retried.
fn operation_retryable(e: &ConverseStreamError) -> bool {
    match e {
        ConverseStreamError::ThrottlingException(_)
        | ConverseStreamError::ServiceUnavailableException(_)
        | ConverseStreamError::ModelNotReadyException(_)
        | ConverseStreamError::InternalServerException(_)
        | ConverseStreamError::ModelTimeoutException(_)
        | ConverseStreamError::ModelStreamErrorException(_) => true,
        ConverseStreamError::ValidationException(_)
        | ConverseStreamError::AccessDeniedException(_)
        | ConverseStreamError::ResourceNotFoundException(_)
        | ConverseStreamError::ModelErrorException(_) => false,
        other => retryable_code(other.code()),
    }
}

fn stream_retryable(e: &ConverseStreamOutputError) -> bool {
    match e {
        ConverseStreamOutputError::ThrottlingException(_)
        | ConverseStreamOutputError::ServiceUnavailableException(_)
        | ConverseStreamOutputError::InternalServerException(_)
        | ConverseStreamOutputError::ModelStreamErrorException(_) => true,
        ConverseStreamOutputError::ValidationException(_) => false,
        other => retryable_code(other.code()),
    }
}

fn retryable_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ThrottlingException"
                | "ServiceUnavailableException"
                | "ModelNotReadyException"
                | "InternalServerException"
        )
    )
}

/// An SDK error as a `ProviderError`. The detail is built from the error code and the
/// service's message only: never the SDK's debug output, which can include the request.
fn sdk_error<E, R>(e: &SdkError<E, R>, status: Option<u16>, retryable: fn(&E) -> bool) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    use ProviderErrorKind::{Network, Protocol, Timeout, Upstream};
    // Transport and parsing causes describe the connection or the bytes received, not the request.
    let cause = || rampart_core::error::causes(e, 300);
    let (kind, retry, detail) = match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            let message: String = err.message().unwrap_or("").chars().take(300).collect();
            (Upstream, retryable(err), format!("{}: {message}", err.code().unwrap_or("unknown error")))
        }
        SdkError::TimeoutError(_) => (Timeout, true, "no response in time".to_owned()),
        SdkError::DispatchFailure(d) if d.is_timeout() => (Timeout, true, "no response in time".to_owned()),
        SdkError::DispatchFailure(d) => (Network, d.is_io(), format!("could not reach bedrock{}", cause())),
        SdkError::ResponseError(_) => (Protocol, false, format!("malformed response{}", cause())),
        SdkError::ConstructionFailure(_) => (Protocol, false, "could not build the request".to_owned()),
        _ => (Protocol, false, "unclassified SDK error".to_owned()),
    };
    let detail = match status {
        Some(s) => format!("HTTP {s}: {detail}"),
        None => detail,
    };
    ProviderError { kind, status, retryable: retry, retry_after: None, detail }
}

/// Decoder state: the stop reason arrives before the usage (`metadata`); tool calls between
/// their block's start and stop (by block index).
#[derive(Default)]
struct Events {
    stop_reason: Option<String>,
    usage: Option<Usage>,
    open: Vec<(i32, ToolCall)>,
}

impl Events {
    fn call_fragment(&mut self, index: i32, part: &str) {
        if let Some((_, c)) = self.open.iter_mut().find(|(i, _)| *i == index) {
            c.arguments.push_str(part);
        }
    }

    fn block_stop(&mut self, index: i32) -> Option<ChatEvent> {
        let at = self.open.iter().position(|(i, _)| *i == index)?;
        let (_, mut call) = self.open.remove(at);
        if call.arguments.trim().is_empty() {
            call.arguments = "{}".to_owned();
        }
        Some(ChatEvent::ToolCall(call))
    }
}

impl stream::Decoder<ConverseStreamOutput> for Events {
    fn event(&mut self, ev: ConverseStreamOutput) -> Result<Option<ChatEvent>, ProviderError> {
        match ev {
            ConverseStreamOutput::ContentBlockStart(b) => {
                if let Some(ContentBlockStart::ToolUse(u)) = b.start {
                    let call = ToolCall { id: u.tool_use_id, name: u.name, arguments: String::new() };
                    self.open.push((b.content_block_index, call));
                }
                Ok(None)
            }
            ConverseStreamOutput::ContentBlockDelta(d) => match d.delta {
                Some(ContentBlockDelta::Text(t)) if !t.is_empty() => Ok(Some(ChatEvent::Delta(t))),
                Some(ContentBlockDelta::ToolUse(u)) => {
                    self.call_fragment(d.content_block_index, &u.input);
                    Ok(None)
                }
                _ => Ok(None),
            },
            ConverseStreamOutput::ContentBlockStop(b) => Ok(self.block_stop(b.content_block_index)),
            ConverseStreamOutput::MessageStop(s) => {
                self.stop_reason = Some(s.stop_reason.as_str().to_owned());
                Ok(None)
            }
            ConverseStreamOutput::Metadata(m) => {
                let count = |n: i32| u64::try_from(n).unwrap_or(0);
                self.usage = m
                    .usage
                    .map(|u| Usage { input_tokens: count(u.input_tokens), output_tokens: count(u.output_tokens) });
                Ok(self
                    .stop_reason
                    .is_some()
                    .then(|| ChatEvent::Done { usage: self.usage, finish_reason: self.stop_reason.take() }))
            }
            // messageStart, events newer than this SDK.
            _ => Ok(None),
        }
    }

    /// `metadata` is documented to follow `messageStop`; a stream that stopped without it is
    /// still complete, only without usage.
    fn end(&mut self) -> Result<ChatEvent, ProviderError> {
        match self.stop_reason.take() {
            Some(r) => Ok(ChatEvent::Done { usage: self.usage, finish_reason: Some(r) }),
            None => Err(ProviderError::new(ProviderErrorKind::Protocol, false, "stream ended without messageStop")),
        }
    }
}

impl rampart_core::llm::ChatModel for Bedrock {
    fn model_id(&self) -> &str {
        &self.cfg.model
    }

    fn supports_tools(&self) -> bool {
        self.cfg.tools
    }

    fn stream(&self, req: ChatRequest) -> stream::PortFuture<'_> {
        Box::pin(async move { Ok(stream::to_port(Bedrock::stream(self, &req).await?)) })
    }
}

/// Embeddings through Bedrock `InvokeModel`: Amazon Titan Text Embeddings (`amazon.titan-embed-*`,
/// one text per call: `{"inputText", "dimensions"?, "normalize": true}` → `{"embedding"}`) and
/// Cohere Embed (`cohere.embed-*`, a batch per call: `{"texts", "input_type"}` →
/// `{"embeddings"}`). Same client, credentials and retry rules as [`Bedrock`].
#[derive(Clone, Debug)]
pub struct BedrockEmbedder {
    bedrock: Bedrock,
    id: String,
    dimensions: Option<u32>,
}

fn invoke_retryable(e: &sdk::operation::invoke_model::InvokeModelError) -> bool {
    retryable_code(e.code()) || e.code() == Some("ModelTimeoutException")
}

impl BedrockEmbedder {
    /// `id` is the configured model id (stored with the vectors); `cfg.model` the Bedrock one.
    pub fn new(id: String, cfg: BedrockConfig, dimensions: Option<u32>) -> Result<Self, ProviderError> {
        Ok(Self { bedrock: Bedrock::new(cfg)?, id, dimensions })
    }

    fn cohere(&self) -> bool {
        self.bedrock.cfg.model.contains("cohere.embed")
    }

    async fn invoke(&self, body: serde_json::Value) -> Result<serde_json::Value, ProviderError> {
        let out = self
            .bedrock
            .client
            .invoke_model()
            .model_id(&self.bedrock.cfg.model)
            .content_type("application/json")
            .accept("application/json")
            .body(sdk::primitives::Blob::new(body.to_string()))
            .send()
            .await
            .map_err(|e| self.bedrock.redacted(sdk_error(&e, status_of(&e), invoke_retryable)))?;
        serde_json::from_slice(out.body().as_ref())
            .map_err(|e| ProviderError::new(ProviderErrorKind::Protocol, false, format!("malformed response: {e}")))
    }

    pub async fn embed_texts(
        &self,
        texts: &[String],
        purpose: rampart_core::embed::EmbedPurpose,
    ) -> Result<Vec<Vec<f32>>, ProviderError> {
        let bad = || ProviderError::new(ProviderErrorKind::Protocol, false, "embedding is not an array of numbers");
        let floats = |v: &serde_json::Value| -> Option<Vec<f32>> {
            v.as_array()?.iter().map(|x| x.as_f64().map(|f| f as f32)).collect()
        };
        let mut out = Vec::with_capacity(texts.len());
        if self.cohere() {
            let input_type = match purpose {
                rampart_core::embed::EmbedPurpose::Query => "search_query",
                rampart_core::embed::EmbedPurpose::Document => "search_document",
            };
            let v =
                self.invoke(serde_json::json!({"texts": texts, "input_type": input_type, "truncate": "END"})).await?;
            for e in v["embeddings"].as_array().ok_or_else(bad)? {
                out.push(floats(e).ok_or_else(bad)?);
            }
        } else {
            for t in texts {
                let mut body = serde_json::json!({"inputText": t, "normalize": true});
                if let Some(d) = self.dimensions {
                    body["dimensions"] = serde_json::json!(d);
                }
                out.push(floats(&self.invoke(body).await?["embedding"]).ok_or_else(bad)?);
            }
        }
        crate::embed::check_vectors(&out, texts.len())?;
        Ok(out)
    }
}

impl rampart_core::embed::Embedder for BedrockEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn max_batch(&self) -> usize {
        if self.cohere() { 96 } else { 16 }
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
        purpose: rampart_core::embed::EmbedPurpose,
    ) -> rampart_core::embed::BoxFuture<'a, Result<Vec<Vec<f32>>, rampart_core::llm::ModelError>> {
        Box::pin(async move { Ok(self.embed_texts(texts, purpose).await?) })
    }
}
