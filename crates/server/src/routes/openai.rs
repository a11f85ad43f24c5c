//! The OpenAI-compatible facade: `GET /v1/models` and `POST /v1/chat/completions` (JSON and
//! SSE), so OpenAI SDKs work against Rampart with only a base-URL change. `model` names an
//! assistant the caller may use. Stateless, like OpenAI's API: nothing is stored.
//!
//! Unknown request fields are ignored (SDKs send many optional ones); the fields Rampart uses
//! are validated.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ChatUser, Json};
use crate::state::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use rampart_chat::assistants::{Assistant, Overrides};
use rampart_chat::turn::{Conversation, TurnEvent, TurnRequest};
use rampart_core::error::ErrorBody;
use rampart_core::llm::{ChatMessage, Role, Usage};
use rampart_core::{ErrorCode, Principal};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const MAX_MESSAGES: usize = 500;
const MAX_TOTAL_CHARS: usize = 400_000;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(models))
        .routes(routes!(completions))
        .routes(routes!(submit_job))
        .routes(routes!(get_job))
}

#[derive(Serialize, ToSchema)]
pub struct ModelEntry {
    pub id: String,
    pub object: &'static str,
    pub created: i64,
    pub owned_by: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct ModelList {
    pub object: &'static str,
    pub data: Vec<ModelEntry>,
}

/// The assistants the caller may use, as OpenAI models.
#[utoipa::path(get, path = "/v1/models", tag = "openai", responses((status = 200, body = ModelList)), security(("bearer" = []), ("apiKey" = [])))]
async fn models(State(s): State<AppState>, ChatUser(p): ChatUser) -> ApiResult<axum::Json<ModelList>> {
    let data = s
        .assistants
        .visible_to(&p)
        .iter()
        .map(|a| ModelEntry { id: a.id.clone(), object: "model", created: 0, owned_by: "rampart" })
        .collect();
    Ok(axum::Json(ModelList { object: "list", data }))
}

#[derive(Deserialize, ToSchema)]
pub struct InMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// A string, or an array of `{"type": "text", "text": …}` parts.
    #[schema(value_type = Object)]
    pub content: Value,
}

#[derive(Deserialize, ToSchema)]
pub struct CompletionRequest {
    /// An assistant id (see `GET /v1/models`).
    pub model: String,
    pub messages: Vec<InMessage>,
    #[serde(default)]
    pub stream: bool,
    pub max_tokens: Option<u32>,
    pub max_completion_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    #[schema(value_type = Option<Object>)]
    pub stream_options: Option<Value>,
    /// Rampart's extension: knowledge bases (ids, at most 20) the answer draws on, with
    /// citations in `sources`. Each must be readable by the caller (else 404 `not_found`).
    pub knowledge_bases: Option<Vec<rampart_core::KnowledgeBaseId>>,
}

fn text_of(content: &Value) -> ApiResult<String> {
    match content {
        Value::String(s) => Ok(s.clone()),
        Value::Array(parts) => {
            let mut out = String::new();
            for p in parts {
                match (p["type"].as_str(), p["text"].as_str()) {
                    (Some("text"), Some(t)) => out.push_str(t),
                    _ => return Err(ApiError::new(ErrorCode::InvalidRequest, "only text content parts are supported")),
                }
            }
            Ok(out)
        }
        _ => Err(ApiError::new(ErrorCode::InvalidRequest, "content must be a string or an array of text parts")),
    }
}

fn history(r: &CompletionRequest) -> ApiResult<Vec<ChatMessage>> {
    if r.messages.is_empty() || r.messages.len() > MAX_MESSAGES {
        return Err(ApiError::new(ErrorCode::InvalidRequest, format!("messages must hold 1-{MAX_MESSAGES} entries")));
    }
    let mut total = 0;
    let mut out = Vec::with_capacity(r.messages.len());
    for m in &r.messages {
        let role = match m.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => return Err(ApiError::new(ErrorCode::InvalidRequest, format!("role {other:?} is not supported"))),
        };
        let text = text_of(&m.content)?;
        total += text.chars().count();
        out.push(ChatMessage::new(role, text));
    }
    if total > MAX_TOTAL_CHARS {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("messages hold more than {MAX_TOTAL_CHARS} characters"),
        ));
    }
    if r.temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) || r.top_p.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "temperature must be 0-2 and top_p 0-1"));
    }
    Ok(out)
}

/// OpenAI's `usage` object.
#[derive(Serialize)]
struct UsageOut {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

impl From<Option<Usage>> for UsageOut {
    fn from(u: Option<Usage>) -> Self {
        let u = u.unwrap_or_default();
        Self {
            prompt_tokens: u.input_tokens,
            completion_tokens: u.output_tokens,
            total_tokens: u.input_tokens + u.output_tokens,
        }
    }
}

// Response bodies are typed (built per request; `json!` values showed up in profiles).

#[derive(Serialize)]
struct CompletionOut<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: [ChoiceOut<'a>; 1],
    usage: UsageOut,
    /// An extension OpenAI clients ignore: the documents a `rag` assistant drew on.
    #[serde(skip_serializing_if = "Option::is_none")]
    sources: Option<Vec<rampart_core::llm::SourceDocument>>,
}

#[derive(Serialize)]
struct ChoiceOut<'a> {
    index: u32,
    message: MessageOut<'a>,
    finish_reason: &'a str,
}

#[derive(Serialize)]
struct MessageOut<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
struct ChunkOut<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: [ChunkChoiceOut<'a>; 1],
}

#[derive(Serialize)]
struct ChunkChoiceOut<'a> {
    index: u32,
    delta: DeltaOut<'a>,
    finish_reason: Option<&'a str>,
}

#[derive(Serialize)]
struct DeltaOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
}

#[derive(Serialize)]
struct UsageChunkOut {
    object: &'static str,
    choices: [(); 0],
    usage: UsageOut,
}

/// Chat completions, streamed (SSE, `data: [DONE]` at the end) or not.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", request_body = CompletionRequest,
    responses((status = 200, description = "A chat.completion, or an SSE stream of chat.completion.chunk"), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
async fn completions(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Json(r): Json<CompletionRequest>,
) -> ApiResult<Response> {
    let (assistant, messages, overrides) = accept(&s, &p, &r)?;
    let model = assistant.id.clone();
    let req = TurnRequest {
        principal: p,
        assistant,
        conversation: Conversation::Messages(messages),
        overrides: Overrides { whole: !r.stream, ..overrides },
        run: None,
        knowledge_bases: r.knowledge_bases.clone().unwrap_or_default(),
        tools: None,
        grounding: None,
    };
    let turn = s.chat.start_turn(req).await?;
    let id = format!("chatcmpl-{}", uuid::Uuid::now_v7().simple());
    let created = chrono::Utc::now().timestamp();
    if !r.stream {
        let reply = rampart_chat::turn::whole_reply(turn).await?;
        let body = CompletionOut {
            id: &id,
            object: "chat.completion",
            created,
            model: &model,
            choices: [ChoiceOut {
                index: 0,
                message: MessageOut { role: "assistant", content: &reply.text },
                finish_reason: reply.finish_reason.as_deref().unwrap_or("stop"),
            }],
            usage: reply.usage.into(),
            sources: reply.sources,
        };
        return Ok(axum::Json(body).into_response());
    }
    let include_usage = r.stream_options.as_ref().is_some_and(|o| o["include_usage"] == json!(true));
    Ok(sse(turn, Chunks { id, created, model, include_usage }))
}

/// What every chunk of a streamed completion repeats.
struct Chunks {
    id: String,
    created: i64,
    model: String,
    include_usage: bool,
}

impl Chunks {
    /// One chunk's data, serialized once.
    fn chunk(&self, delta: DeltaOut<'_>, finish: Option<&str>) -> String {
        let c = ChunkOut {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices: [ChunkChoiceOut { index: 0, delta, finish_reason: finish }],
        };
        serde_json::to_string(&c).unwrap_or_default()
    }

    /// The SSE data items for one event of the turn.
    fn items(&self, ev: Result<TurnEvent, rampart_chat::turn::TurnError>) -> Vec<String> {
        match ev {
            Ok(TurnEvent::Delta { text, .. }) => vec![self.chunk(DeltaOut { role: None, content: Some(&text) }, None)],
            Ok(TurnEvent::Citation { .. } | TurnEvent::Sources(_) | TurnEvent::Step(_)) => Vec::new(),
            Ok(TurnEvent::End(end)) => {
                let finish = end.finish_reason.as_deref().unwrap_or("stop");
                let mut v = vec![self.chunk(DeltaOut { role: None, content: None }, Some(finish))];
                if self.include_usage {
                    let u = UsageChunkOut { object: "chat.completion.chunk", choices: [], usage: end.usage.into() };
                    v.push(serde_json::to_string(&u).unwrap_or_default());
                }
                v.push("[DONE]".to_owned());
                v
            }
            Err(_) => vec![
                json!({"error": {"message": ErrorCode::UpstreamError.default_message(), "type": "upstream_error"}})
                    .to_string(),
            ],
        }
    }
}

/// A streamed completion: the role chunk, then the turn's events as chunks.
fn sse(turn: rampart_chat::turn::TurnStream, c: Chunks) -> Response {
    let first = c.chunk(DeltaOut { role: Some("assistant"), content: Some("") }, None);
    let body =
        futures::stream::once(async move { first }).chain(turn.flat_map(move |ev| futures::stream::iter(c.items(ev))));
    let sse = body.map(|data| Ok::<_, std::convert::Infallible>(Event::default().data(data)));
    Sse::new(sse).keep_alive(KeepAlive::default()).into_response()
}

/// Checks a completion request: the assistant (one the caller may use), the messages, the
/// per-request settings.
fn accept(
    s: &AppState,
    p: &Principal,
    r: &CompletionRequest,
) -> ApiResult<(Arc<Assistant>, Vec<ChatMessage>, Overrides)> {
    let a = s
        .assistants
        .get_for(&r.model, p)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "No such model (assistant) for you."))?;
    let messages = history(r)?;
    let o = Overrides {
        max_tokens: r.max_completion_tokens.or(r.max_tokens),
        temperature: r.temperature,
        top_p: r.top_p,
        whole: true,
    };
    Ok((a, messages, o))
}

#[derive(Serialize, ToSchema)]
pub struct JobAccepted {
    pub id: rampart_core::JobId,
    pub status: &'static str,
}

/// Starts an async job for long inference (seed 003); the body is a chat-completions request.
/// Answers at once with the job id; poll `GET /v1/jobs/{id}`.
#[utoipa::path(post, path = "/v1/jobs", tag = "openai", request_body = CompletionRequest,
    responses((status = 202, body = JobAccepted), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
async fn submit_job(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    Json(r): Json<CompletionRequest>,
) -> ApiResult<(axum::http::StatusCode, axum::Json<JobAccepted>)> {
    let (a, messages, o) = accept(&s, &p, &r)?;
    if r.stream {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "jobs do not stream; omit \"stream\""));
    }
    let id = s.chat.submit_job(&p, a, messages, o).await?;
    Ok((axum::http::StatusCode::ACCEPTED, axum::Json(JobAccepted { id, status: "pending" })))
}

/// A job's status and, when done, its result. Only its owner sees it.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "openai", params(("id" = String, Path)),
    responses((status = 200, body = rampart_chat::jobs::JobView), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
async fn get_job(
    State(s): State<AppState>,
    ChatUser(p): ChatUser,
    crate::extract::Path(id): crate::extract::Path<rampart_core::JobId>,
) -> ApiResult<axum::Json<rampart_chat::jobs::JobView>> {
    Ok(axum::Json(s.chat.job(p.user_id, id).await?))
}
