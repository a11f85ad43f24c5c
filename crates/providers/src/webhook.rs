//! The `custom` assistant: an HTTP endpoint of the operator's that receives the conversation as
//! JSON and answers with NDJSON deltas or one JSON reply (docs/custom-assistant.md).
//!
//! Every request is signed so the endpoint can tell it comes from Rampart and is fresh:
//! `X-Rampart-Timestamp: <unix seconds>` and
//! `X-Rampart-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`. The endpoint
//! should refuse a bad signature and a timestamp more than a few minutes old (replays).
//!
//! Answers:
//! - `application/x-ndjson`: one JSON object per line, `{"delta": "text"}` any number of times,
//!   then optionally `{"done": true, "usage": {"inputTokens": n, "outputTokens": n}}`; a line
//!   `{"error": "…"}` fails the reply. The end of the body also ends the reply.
//! - `application/json`: `{"reply": "text", "usage": {…}?}`.
//!
//! No retries: the endpoint may not be idempotent.

use crate::error::{ProviderError, ProviderErrorKind};
use crate::stream::{self, Decoder};
use crate::types::{ChatEvent, ChatRequest, Role, Usage};
use futures::StreamExt;
use rampart_core::Secret;
use serde_json::{Value, json};
use std::time::Duration;

pub const SIGNATURE_HEADER: &str = "x-rampart-signature";
pub const TIMESTAMP_HEADER: &str = "x-rampart-timestamp";
/// Longest NDJSON line or JSON answer accepted.
const MAX_ANSWER: usize = 4 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// From admin configuration only.
    pub url: url::Url,
    /// The HMAC-SHA256 key.
    pub secret: Secret<String>,
    /// The assistant's id: sent in the body, and reported as the model id.
    pub assistant_id: String,
    /// Time to the response headers, and between lines.
    pub timeout: Duration,
}

#[derive(Clone, Debug)]
pub struct Webhook {
    http: reqwest::Client,
    cfg: WebhookConfig,
}

/// `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let mut ctx = aws_lc_rs::hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("v1={}", hex::encode(ctx.sign().as_ref()))
}

fn protocol(detail: impl Into<String>) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Protocol, false, detail)
}

fn usage_of(v: &Value) -> Option<Usage> {
    let u = v.get("usage")?;
    Some(Usage {
        input_tokens: u["inputTokens"].as_u64().unwrap_or(0),
        output_tokens: u["outputTokens"].as_u64().unwrap_or(0),
    })
}

struct Ndjson {
    usage: Option<Usage>,
}

impl Decoder<Value> for Ndjson {
    fn event(&mut self, v: Value) -> Result<Option<ChatEvent>, ProviderError> {
        if let Some(e) = v.get("error") {
            let msg: String = e.as_str().map_or_else(|| e.to_string(), str::to_owned).chars().take(300).collect();
            return Err(ProviderError::new(ProviderErrorKind::Upstream, false, format!("webhook error: {msg}")));
        }
        if let Some(u) = usage_of(&v) {
            self.usage = Some(u);
        }
        if v.get("done").and_then(Value::as_bool) == Some(true) {
            return Ok(Some(ChatEvent::Done { usage: self.usage, finish_reason: Some("stop".into()) }));
        }
        Ok(v.get("delta").and_then(Value::as_str).filter(|t| !t.is_empty()).map(|t| ChatEvent::Delta(t.to_owned())))
    }

    fn end(&mut self) -> Result<ChatEvent, ProviderError> {
        Ok(ChatEvent::Done { usage: self.usage, finish_reason: Some("stop".into()) })
    }
}

/// NDJSON lines of a body, each parsed; a line over [`MAX_ANSWER`] or not JSON is an error.
fn lines<B: AsRef<[u8]> + Send + 'static>(
    body: impl futures::Stream<Item = Result<B, reqwest::Error>> + Send + 'static,
) -> impl futures::Stream<Item = Result<Value, ProviderError>> + Send + 'static {
    futures::stream::unfold((Box::pin(body), Vec::<u8>::new(), false), |(mut body, mut buf, mut done)| async move {
        loop {
            if let Some(i) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=i).collect();
                let line = line.trim_ascii();
                if line.is_empty() {
                    continue;
                }
                let item = serde_json::from_slice(line).map_err(|e| protocol(format!("NDJSON line: {e}")));
                return Some((item, (body, buf, done)));
            }
            if done {
                let rest = std::mem::take(&mut buf);
                let rest = rest.trim_ascii();
                if rest.is_empty() {
                    return None;
                }
                let item = serde_json::from_slice(rest).map_err(|e| protocol(format!("NDJSON line: {e}")));
                return Some((item, (body, buf, true)));
            }
            if buf.len() > MAX_ANSWER {
                return Some((Err(protocol("NDJSON line too long")), (body, Vec::new(), true)));
            }
            match body.next().await {
                Some(Ok(chunk)) => buf.extend_from_slice(chunk.as_ref()),
                Some(Err(e)) => {
                    let e = ProviderError::new(ProviderErrorKind::Network, false, format!("stream broke: {e}"));
                    return Some((Err(e), (body, Vec::new(), true)));
                }
                None => done = true,
            }
        }
    })
}

impl Webhook {
    pub fn new(cfg: WebhookConfig) -> Result<Self, ProviderError> {
        if !matches!(cfg.url.scheme(), "http" | "https") {
            return Err(ProviderError::new(ProviderErrorKind::Config, false, "webhook url must be http(s)"));
        }
        Ok(Self { http: crate::http::client(cfg.timeout)?, cfg })
    }

    /// `{assistantId, message, history, systemPrompt, inference}`: `message` is the last user
    /// message, `history` the turns before it (oldest first).
    pub fn body(&self, req: &ChatRequest) -> Value {
        let system: Vec<&str> =
            req.messages.iter().filter(|m| m.role == Role::System).map(|m| m.content.as_str()).collect();
        let mut turns: Vec<&crate::types::ChatMessage> =
            req.messages.iter().filter(|m| m.role != Role::System).collect();
        let message = match turns.last() {
            Some(m) if m.role == Role::User => turns.pop().map(|m| m.content.clone()),
            _ => None,
        };
        json!({
            "assistantId": self.cfg.assistant_id,
            "message": message.unwrap_or_default(),
            "history": turns.iter().map(|m| json!({"role": m.role, "content": m.content})).collect::<Vec<_>>(),
            "systemPrompt": (!system.is_empty()).then(|| system.join("\n\n")),
            "inference": {"maxTokens": req.max_tokens, "temperature": req.temperature, "topP": req.top_p},
        })
    }

    pub async fn stream(&self, req: &ChatRequest) -> Result<stream::EventStream, ProviderError> {
        let body = serde_json::to_vec(&self.body(req)).map_err(|e| protocol(e.to_string()))?;
        let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let sig = signature(self.cfg.secret.expose().as_bytes(), ts, &body);
        let make = || {
            self.http
                .post(self.cfg.url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(reqwest::header::ACCEPT, "application/x-ndjson, application/json")
                .header(TIMESTAMP_HEADER, ts.to_string())
                .header(SIGNATURE_HEADER, sig.clone())
                .body(body.clone())
        };
        let resp = crate::http::send(make, self.cfg.timeout, 0, &[self.cfg.secret.expose()]).await?;
        let ndjson = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-ndjson") || v.starts_with("application/jsonl"));
        if ndjson {
            let items = stream::with_idle_timeout(lines(resp.bytes_stream()), self.cfg.timeout, |e| e);
            return Ok(stream::decode(items, Ndjson { usage: None }));
        }
        if resp.content_length().is_some_and(|n| n > MAX_ANSWER as u64) {
            return Err(protocol("answer too large"));
        }
        let bytes = match tokio::time::timeout(self.cfg.timeout, resp.bytes()).await {
            Err(_) => return Err(ProviderError::new(ProviderErrorKind::Timeout, false, "answer not in time")),
            Ok(Err(e)) => return Err(ProviderError::from_reqwest(&e)),
            Ok(Ok(b)) => b,
        };
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| protocol(format!("answer is not JSON: {e}")))?;
        if let Some(e) = v.get("error") {
            let msg: String = e.as_str().map_or_else(|| e.to_string(), str::to_owned).chars().take(300).collect();
            return Err(ProviderError::new(ProviderErrorKind::Upstream, false, format!("webhook error: {msg}")));
        }
        let text = v.get("reply").and_then(Value::as_str).ok_or_else(|| protocol("answer has no string \"reply\""))?;
        let delta = (!text.is_empty()).then(|| Ok(ChatEvent::Delta(text.to_owned())));
        let done = Ok(ChatEvent::Done { usage: usage_of(&v), finish_reason: Some("stop".into()) });
        Ok(Box::pin(futures::stream::iter(delta.into_iter().chain([done]))))
    }
}

impl rampart_core::llm::ChatModel for Webhook {
    fn model_id(&self) -> &str {
        &self.cfg.assistant_id
    }

    fn stream(&self, req: ChatRequest) -> stream::PortFuture<'_> {
        Box::pin(async move { Ok(stream::to_port(Webhook::stream(self, &req).await?)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // `printf '0.what do ya want for nothing?' | openssl dgst -sha256 -hmac Jefe`
        let sig = signature(b"Jefe", 0, b"what do ya want for nothing?");
        assert_eq!(sig, "v1=37f471929915ccd2cbbe79feb84ffcff4f2bb25e15fc41c2506687331ae179cc");
        assert_ne!(sig, signature(b"Jefe", 1, b"what do ya want for nothing?"));
        assert_ne!(sig, signature(b"Jeff", 0, b"what do ya want for nothing?"));
    }
}
