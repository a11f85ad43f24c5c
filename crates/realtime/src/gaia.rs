//! GAIA's out events (seed 002) as published on `/out/{userId}/{sessionId}`: each is
//! `{"id", "content": {...}}` with `content.type` one of `textDelta`, `citationEvent`, `source`
//! or Rampart's `end`, `step` and `confirmation`; errors keep GAIA's own shape. Built here so every producer of chat
//! output (the chat channels, later the meeting assistant's) speaks the same protocol.

use rampart_core::llm::{SourceDocument, Usage};
use rampart_core::tools::{StepStatus, ToolStep};
use rampart_core::{ChunkId, MessageId, SessionId, UserId};
use serde_json::{Value, json};

fn event(content: Value) -> Value {
    json!({"id": uuid::Uuid::now_v7().to_string(), "content": content})
}

pub fn text_delta(seq: u64, text: &str) -> Value {
    event(json!({"type": "textDelta", "sequenceNumber": seq, "text": text}))
}

/// `chunkId` (Rampart's extension): the cited knowledge-base passage, when there is one.
pub fn citation(
    seq: u64,
    position: usize,
    number: usize,
    text: &str,
    document_index: usize,
    chunk: Option<ChunkId>,
) -> Value {
    let mut c = json!({"type": "citationEvent", "sequenceNumber": seq, "position": position,
        "citationNumber": number, "citationText": text, "documentIndex": document_index});
    if let Some(id) = chunk {
        c["chunkId"] = json!(id.to_string());
    }
    event(c)
}

pub fn source(documents: &[SourceDocument]) -> Value {
    event(json!({"type": "source", "documents": documents}))
}

/// Rampart's extension: a tool call of the agent loop, `{type: "step", step, callId, tool,
/// arguments, status, summary}` (`status` `ok` or `error`); an acting tool that waits for the
/// user is a `confirmation` event with the same fields (`status` `needsConfirmation`), after
/// which the reply ends.
pub fn step(step: &ToolStep) -> Value {
    let mut content = json!(step);
    content["type"] = json!(match step.status {
        StepStatus::NeedsConfirmation => "confirmation",
        StepStatus::Ok | StepStatus::Error => "step",
    });
    event(content)
}

/// The end of a reply that stored an answer (`messageId`), stopped or not.
pub fn end(message_id: MessageId, model_id: &str, response_time_ms: i64, stopped: bool, usage: Option<Usage>) -> Value {
    let u = usage.unwrap_or_default();
    event(json!({"type": "end", "messageId": message_id.to_string(), "modelId": model_id,
        "responseTimeMs": response_time_ms, "stopped": stopped,
        "usage": {"inputTokens": u.input_tokens, "outputTokens": u.output_tokens}}))
}

/// The end of a reply stopped before it said anything (nothing was stored).
pub fn end_stopped(model_id: &str) -> Value {
    event(json!({"type": "end", "stopped": true, "modelId": model_id}))
}

/// GAIA's error shape.
pub fn error(user: UserId, session: SessionId, message: &str, now_secs: i64) -> Value {
    json!({"type": "text", "action": "error", "id": uuid::Uuid::now_v7().to_string(), "connectionId": session.to_string(),
           "userId": user.to_string(), "timestamp": now_secs,
           "data": {"sessionId": session.to_string(), "content": message, "type": "text"}})
}
