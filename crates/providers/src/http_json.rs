//! A generic HTTP JSON endpoint (SageMaker-style model servers, HF TGI, custom gateways):
//! one `POST` of a JSON body built from an administrator's template, one JSON answer, the reply
//! text found by a JSON pointer (RFC 6901). Not streamed: the reply is one `Delta` then `Done`.
//!
//! Template placeholders are string values that are *exactly* one of [`PLACEHOLDERS`]; each is
//! replaced by a JSON value (`{{messages}}` by the array of `{role, content}`, `{{max_tokens}}`
//! by a number…). When the value is unset (no temperature, no system prompt) the key is
//! removed from its object (inside an array it becomes `null`). A placeholder inside a longer
//! string is *not* interpolated, and `validate` rejects such templates: conversation text
//! spliced into a string could close it and add keys, and even escaped it would let users
//! write into parts of the request the administrator meant to fix. Whole-value replacement
//! keeps the template's structure the administrator's alone.

use crate::error::{ProviderError, ProviderErrorKind};
use crate::types::{ChatEvent, ChatMessage, ChatRequest, Role, Usage};
use crate::{http, stream};
use rampart_core::Secret;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// The placeholders a template may use (each as a whole string value).
pub const PLACEHOLDERS: [&str; 7] = [
    "{{messages}}",
    "{{prompt}}",
    "{{system}}",
    "{{last_user_message}}",
    "{{max_tokens}}",
    "{{temperature}}",
    "{{top_p}}",
];

/// Placeholders that carry the conversation; a template needs at least one.
const CONVERSATION: [&str; 3] = ["{{messages}}", "{{prompt}}", "{{last_user_message}}"];

#[derive(Clone, Debug)]
pub struct HttpJsonConfig {
    /// The endpoint, e.g. a SageMaker invocation URL behind a signing proxy, or a TGI server.
    pub url: url::Url,
    /// Extra request headers, e.g. `("Authorization", "Bearer …")`; values are secrets.
    pub headers: Vec<(String, Secret<String>)>,
    /// The request body, with placeholders (see the module documentation).
    pub request_template: Value,
    /// RFC 6901 pointer to the reply text in the answer, e.g. `/0/generated_text`.
    pub response_pointer: String,
    /// Pointers to token counts in the answer, when the endpoint reports them.
    pub usage_input_pointer: Option<String>,
    pub usage_output_pointer: Option<String>,
    /// The model id reported in message metadata.
    pub model: String,
    /// Time to the response headers, and to the whole body.
    pub timeout: Duration,
    /// Retries of retryable failures (see the `http` module).
    pub max_retries: u32,
}

fn config(detail: impl Into<String>) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Config, false, detail)
}

fn protocol(detail: impl Into<String>) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Protocol, false, detail)
}

/// RFC 6901: empty (the whole document) or `/`-separated tokens where `~` is `~0` or `~1`.
fn valid_pointer(p: &str) -> bool {
    let escapes_ok = |tok: &str| {
        let b = tok.as_bytes();
        b.iter().enumerate().all(|(i, c)| *c != b'~' || matches!(b.get(i + 1), Some(b'0' | b'1')))
    };
    p.is_empty() || (p.starts_with('/') && p.split('/').all(escapes_ok))
}

/// Every string value in `v` (object keys are not templated).
fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(o) => o.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

impl HttpJsonConfig {
    /// Checks what can be checked before any request; the provider calls it in `new`.
    pub fn validate(&self) -> Result<(), ProviderError> {
        if !matches!(self.url.scheme(), "http" | "https") {
            return Err(config(format!("url: scheme {} is not http or https", self.url.scheme())));
        }
        let pointers =
            [Some(&self.response_pointer), self.usage_input_pointer.as_ref(), self.usage_output_pointer.as_ref()];
        for p in pointers.into_iter().flatten() {
            if !valid_pointer(p) {
                return Err(config(format!(
                    "{p:?} is not a JSON pointer (RFC 6901: empty or /a/0/b, ~0 and ~1 escapes)"
                )));
            }
        }
        let mut all = Vec::new();
        strings(&self.request_template, &mut all);
        for s in &all {
            if s.starts_with("{{") && s.ends_with("}}") && !PLACEHOLDERS.contains(s) {
                return Err(config(format!(
                    "request_template: unknown placeholder {s}; known: {}",
                    PLACEHOLDERS.join(", ")
                )));
            }
            if !PLACEHOLDERS.contains(s) && PLACEHOLDERS.iter().any(|p| s.contains(p)) {
                return Err(config(format!(
                    "request_template: {s:?}: a placeholder must be the whole string value (text is never spliced into strings)"
                )));
            }
        }
        if !all.iter().any(|s| CONVERSATION.contains(s)) {
            return Err(config(format!("request_template: needs one of {}", CONVERSATION.join(", "))));
        }
        for (name, value) in &self.headers {
            reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| config(format!("headers: {name:?} is not a header name")))?;
            // The value is a secret: say which header, not what it holds.
            reqwest::header::HeaderValue::from_str(value.expose())
                .map_err(|_| config(format!("headers: the value of {name} is not a valid header value")))?;
        }
        Ok(())
    }
}

/// A client for one configured HTTP JSON endpoint.
#[derive(Clone, Debug)]
pub struct HttpJson {
    http: reqwest::Client,
    cfg: HttpJsonConfig,
}

/// A float as JSON the way it was written (`0.2`, not `0.20000000298023224`).
fn float(v: f32) -> Value {
    v.to_string().parse::<f64>().map(|f| json!(f)).unwrap_or(Value::Null)
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::System => "System",
        Role::User => "User",
        Role::Assistant => "Assistant",
        Role::Tool => "Tool",
    }
}

/// The conversation as text: `System: …\n\nUser: …\n\nAssistant:`.
fn prompt(messages: &[ChatMessage]) -> String {
    let mut parts: Vec<String> = messages.iter().map(|m| format!("{}: {}", role_name(m.role), m.content)).collect();
    parts.push("Assistant:".to_owned());
    parts.join("\n\n")
}

/// The value of each placeholder for one request (`Null` = unset).
fn values(req: &ChatRequest) -> [(&'static str, Value); 7] {
    let system: Vec<&str> =
        req.messages.iter().filter(|m| m.role == Role::System).map(|m| m.content.as_str()).collect();
    let last_user = req.messages.iter().rev().find(|m| m.role == Role::User).map(|m| m.content.clone());
    [
        ("{{messages}}", json!(req.messages)),
        ("{{prompt}}", json!(prompt(&req.messages))),
        ("{{system}}", if system.is_empty() { Value::Null } else { json!(system.join("\n\n")) }),
        ("{{last_user_message}}", json!(last_user)),
        ("{{max_tokens}}", json!(req.max_tokens)),
        ("{{temperature}}", req.temperature.map(float).unwrap_or(Value::Null)),
        ("{{top_p}}", req.top_p.map(float).unwrap_or(Value::Null)),
    ]
}

/// The template with whole-string placeholders replaced; unset ones drop their object key.
pub(crate) fn render(template: &Value, vals: &[(&'static str, Value)]) -> Value {
    let lookup = |s: &str| vals.iter().find(|(p, _)| *p == s).map(|(_, v)| v.clone());
    match template {
        Value::String(s) => lookup(s).unwrap_or_else(|| template.clone()),
        Value::Array(a) => Value::Array(a.iter().map(|v| render(v, vals)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), render(v, vals)))
                .filter(|(k, v)| !(v.is_null() && o[k].as_str().is_some_and(|s| lookup(s).is_some())))
                .collect::<Map<String, Value>>(),
        ),
        other => other.clone(),
    }
}

impl HttpJson {
    /// Validates the configuration (see [`HttpJsonConfig::validate`]).
    pub fn new(cfg: HttpJsonConfig) -> Result<Self, ProviderError> {
        cfg.validate()?;
        Ok(Self { http: http::client(cfg.timeout)?, cfg })
    }

    /// The request body for `req`.
    pub fn body(&self, req: &ChatRequest) -> Value {
        render(&self.cfg.request_template, &values(req))
    }

    /// One whole reply: text and usage (when the endpoint reports it).
    pub async fn complete(&self, req: &ChatRequest) -> Result<(String, Option<Usage>), ProviderError> {
        let body = self.body(req);
        // Header values, and the query string: some endpoints take their key there (`?code=`),
        // and network errors quote the URL.
        let mut secrets: Vec<&str> = self.cfg.headers.iter().map(|(_, v)| v.expose().as_str()).collect();
        secrets.extend(self.cfg.url.query());
        let make = || {
            let mut r = self.http.post(self.cfg.url.clone()).json(&body);
            for (name, value) in &self.cfg.headers {
                if let Ok(mut v) = reqwest::header::HeaderValue::from_str(value.expose()) {
                    v.set_sensitive(true);
                    r = r.header(name.as_str(), v);
                }
            }
            r
        };
        let resp = http::send(make, self.cfg.timeout, self.cfg.max_retries, &secrets).await?;
        let bytes = match tokio::time::timeout(self.cfg.timeout, resp.bytes()).await {
            Err(_) => return Err(ProviderError::new(ProviderErrorKind::Timeout, false, "response body not in time")),
            Ok(Err(e)) => return Err(ProviderError::from_reqwest(&e)),
            Ok(Ok(b)) => b,
        };
        // The answer holds user content: error details name the problem, not the text.
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| protocol(format!("response is not JSON: {e}")))?;
        let text = v
            .pointer(&self.cfg.response_pointer)
            .and_then(Value::as_str)
            .ok_or_else(|| protocol(format!("response has no string at {}", self.cfg.response_pointer)))?;
        let count = |p: &Option<String>| p.as_ref().and_then(|p| v.pointer(p)).and_then(Value::as_u64);
        let (input, output) = (count(&self.cfg.usage_input_pointer), count(&self.cfg.usage_output_pointer));
        let usage = (input.is_some() || output.is_some())
            .then(|| Usage { input_tokens: input.unwrap_or(0), output_tokens: output.unwrap_or(0) });
        Ok((text.to_owned(), usage))
    }

    /// The reply as a stream: one `Delta` (when not empty), then `Done`.
    pub async fn stream(&self, req: &ChatRequest) -> Result<stream::EventStream, ProviderError> {
        let (text, usage) = self.complete(req).await?;
        let delta = (!text.is_empty()).then_some(Ok(ChatEvent::Delta(text)));
        let done = Ok(ChatEvent::Done { usage, finish_reason: None });
        Ok(Box::pin(futures::stream::iter(delta.into_iter().chain([done]))))
    }
}

impl rampart_core::llm::ChatModel for HttpJson {
    fn model_id(&self) -> &str {
        &self.cfg.model
    }

    fn stream(&self, req: ChatRequest) -> stream::PortFuture<'_> {
        Box::pin(async move { Ok(stream::to_port(HttpJson::stream(self, &req).await?)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(template: Value, pointer: &str) -> HttpJsonConfig {
        HttpJsonConfig {
            url: "http://127.0.0.1:1/invocations".parse().unwrap_or_else(|_| unreachable!()),
            headers: vec![],
            request_template: template,
            response_pointer: pointer.into(),
            usage_input_pointer: None,
            usage_output_pointer: None,
            model: "m".into(),
            timeout: Duration::from_secs(1),
            max_retries: 0,
        }
    }

    #[test]
    fn pointers_follow_rfc_6901() {
        for ok in ["", "/0/generated_text", "/a~1b/~0c", "/"] {
            assert!(valid_pointer(ok), "{ok}");
        }
        for bad in ["0/generated_text", "/a~2", "/a~", "generated_text"] {
            assert!(!valid_pointer(bad), "{bad}");
        }
        let e = cfg(json!({"inputs": "{{prompt}}"}), "generated_text").validate().unwrap_err();
        assert_eq!(e.kind, ProviderErrorKind::Config);
    }

    #[test]
    fn templates_need_a_conversation_and_whole_string_placeholders() {
        assert!(cfg(json!({"inputs": "{{prompt}}"}), "/0/generated_text").validate().is_ok());
        assert!(cfg(json!({"inputs": "{{system}}"}), "/x").validate().is_err(), "no conversation");
        assert!(cfg(json!({"inputs": "Human: {{prompt}}"}), "/x").validate().is_err(), "spliced");
        assert!(cfg(json!({"inputs": "{{prompt}}", "p": "{{temprature}}"}), "/x").validate().is_err(), "typo");
        assert!(cfg(json!({"inputs": "{{prompt}}", "note": "{{ literal braces }} are fine"}), "/x").validate().is_ok());
        assert!(cfg(json!({"inputs": "{{prompt}}", "note": "braces {{ elsewhere"}), "/x").validate().is_ok());
    }

    #[test]
    fn renders_values_and_drops_unset_keys() {
        let t = json!({
            "inputs": "{{prompt}}",
            "system": "{{system}}",
            "parameters": {"max_new_tokens": "{{max_tokens}}", "temperature": "{{temperature}}", "top_p": "{{top_p}}",
                           "stop": ["{{top_p}}", "User:"], "note": "not {{prompt}} here"},
            "last": "{{last_user_message}}",
            "kept_null": null,
        });
        let req = ChatRequest {
            messages: vec![ChatMessage::new(Role::User, "Hi \"there\""), ChatMessage::new(Role::Assistant, "Hello")],
            max_tokens: Some(32),
            temperature: Some(0.2),
            top_p: None,
            tools: Vec::new(),
        };
        let v = render(&t, &values(&req));
        assert_eq!(
            v,
            json!({
                "inputs": "User: Hi \"there\"\n\nAssistant: Hello\n\nAssistant:",
                "parameters": {"max_new_tokens": 32, "temperature": 0.2, "stop": [null, "User:"], "note": "not {{prompt}} here"},
                "last": "Hi \"there\"",
                "kept_null": null,
            })
        );
    }
}
