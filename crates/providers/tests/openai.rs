//! The OpenAI-compatible client against a local upstream that speaks the real wire format.

#![expect(clippy::unwrap_used, reason = "a test fails at the first broken step")]

mod common;

use common::{tool_req, weather};
use futures::StreamExt;
use rampart_core::llm::{ToolCall, ToolResult};
use rampart_providers::{
    ChatEvent, ChatMessage, ChatRequest, OpenAiCompatible, OpenAiConfig, ProviderErrorKind, Role, Usage,
};
use rampart_testkit::fake_openai::{FakeOpenAi, Knobs};
use rampart_testkit::script::{FakeCall, Scripted};
use serde_json::json;
use std::time::{Duration, Instant};

fn client(base: &str, retries: u32) -> OpenAiCompatible {
    OpenAiCompatible::new(OpenAiConfig {
        base_url: base.parse().unwrap(),
        model: "llama3.1".into(),
        api_key: Some(rampart_core::Secret::new("sk-test-123".into())),
        timeout: Duration::from_secs(2),
        max_retries: retries,
        tools: true,
    })
    .unwrap()
}

fn req() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::new(Role::System, "Be brief."), ChatMessage::new(Role::User, "Hi")],
        max_tokens: Some(64),
        temperature: Some(0.2),
        top_p: None,
        tools: Vec::new(),
    }
}

fn knobs(reply: &str) -> Knobs {
    Knobs { reply: reply.into(), fail_status: 503, ..Default::default() }
}

#[tokio::test]
async fn completes_and_sends_the_documented_request() {
    let up = FakeOpenAi::start(knobs("Hello there friend")).await;
    let c = client(&up.base_url, 0).complete(&req()).await.unwrap();
    assert_eq!(c.text, "Hello there friend");
    assert_eq!(c.usage, Some(Usage { input_tokens: 7, output_tokens: 3 }));
    assert_eq!(c.finish_reason.as_deref(), Some("stop"));
    let (auth, body) = up.requests().pop().unwrap();
    assert_eq!(auth.as_deref(), Some("Bearer sk-test-123"));
    assert_eq!(body["model"], "llama3.1");
    assert_eq!(body["stream"], false);
    assert_eq!(body["max_tokens"], 64);
    assert_eq!(body["messages"][0], serde_json::json!({"role": "system", "content": "Be brief."}));
    assert!(body.get("top_p").is_none());
    assert!(body.get("tools").is_none(), "no tools offered, no tools key");
}

#[tokio::test]
async fn streams_deltas_in_order_then_done_with_usage() {
    let up = FakeOpenAi::start(Knobs { token_delay: Duration::from_millis(5), ..knobs("one two three four") }).await;
    let mut s = client(&up.base_url, 0).stream(&req()).await.unwrap();
    let mut text = String::new();
    let mut done = None;
    while let Some(ev) = s.next().await {
        match ev.unwrap() {
            ChatEvent::Delta(t) => text.push_str(&t),
            d @ ChatEvent::Done { .. } => done = Some(d),
            other => panic!("a model does not send {other:?}"),
        }
    }
    assert_eq!(text, "one two three four");
    assert_eq!(
        done,
        Some(ChatEvent::Done {
            usage: Some(Usage { input_tokens: 7, output_tokens: 4 }),
            finish_reason: Some("stop".into())
        })
    );
    assert_eq!(up.requests()[0].1["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn retries_retryable_failures_honouring_retry_after() {
    let up = FakeOpenAi::start(Knobs { fail_first: 2, fail_status: 503, retry_after: Some(1), ..knobs("ok") }).await;
    let t = Instant::now();
    let c = client(&up.base_url, 3).complete(&req()).await.unwrap();
    assert_eq!(c.text, "ok");
    assert_eq!(up.requests().len(), 3);
    assert!(t.elapsed() >= Duration::from_secs(2), "waited Retry-After twice: {:?}", t.elapsed());
}

#[tokio::test]
async fn does_not_retry_client_errors_and_reports_them() {
    let up = FakeOpenAi::start(Knobs { fail_first: 5, fail_status: 400, ..knobs("never") }).await;
    let e = client(&up.base_url, 3).complete(&req()).await.unwrap_err();
    assert_eq!((e.kind, e.status, e.retryable), (ProviderErrorKind::Upstream, Some(400), false));
    assert_eq!(up.requests().len(), 1);
    assert!(!e.to_string().contains("sk-test-123"), "no API key in errors");
}

#[tokio::test]
async fn gives_up_after_max_retries_and_passes_retry_after_on() {
    let up =
        FakeOpenAi::start(Knobs { fail_first: 10, fail_status: 429, retry_after: Some(60), ..knobs("never") }).await;
    let e = client(&up.base_url, 3).complete(&req()).await.unwrap_err();
    assert_eq!(e.status, Some(429));
    assert!(e.retryable);
    assert_eq!(e.retry_after, Some(Duration::from_secs(60)), "too long to wait: handed to the caller");
    assert_eq!(up.requests().len(), 1);
}

#[tokio::test]
async fn an_error_mid_stream_ends_the_stream_with_an_error() {
    let up = FakeOpenAi::start(Knobs { error_after_tokens: Some(2), ..knobs("a b c d") }).await;
    let mut s = client(&up.base_url, 3).stream(&req()).await.unwrap();
    let mut got = Vec::new();
    while let Some(ev) = s.next().await {
        got.push(ev);
    }
    assert!(matches!(&got[0], Ok(ChatEvent::Delta(t)) if t == "a "));
    assert!(matches!(&got[1], Ok(ChatEvent::Delta(t)) if t == "b "));
    let e = got[2].as_ref().unwrap_err();
    assert_eq!(e.kind, ProviderErrorKind::Upstream);
    assert_eq!(got.len(), 3);
    assert_eq!(up.requests().len(), 1, "no retry once output has started");
}

#[tokio::test]
async fn a_slow_start_times_out() {
    let up = FakeOpenAi::start(Knobs { first_byte_delay: Duration::from_secs(5), ..knobs("late") }).await;
    let t = Instant::now();
    let e = client(&up.base_url, 0).complete(&req()).await.unwrap_err();
    assert_eq!(e.kind, ProviderErrorKind::Timeout);
    assert!(t.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn unreachable_upstreams_are_network_errors() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = client(&format!("http://127.0.0.1:{port}/v1"), 0).complete(&req()).await.unwrap_err();
    assert_eq!(e.kind, ProviderErrorKind::Network);
    assert!(e.retryable);
}

fn call(id: &str, city: &str) -> ToolCall {
    ToolCall { id: id.into(), name: "get_weather".into(), arguments: format!("{{\"city\": \"{city}\"}}") }
}

#[tokio::test]
async fn streamed_tool_calls_are_assembled_from_their_fragments() {
    let calls =
        vec![FakeCall::new("get_weather", r#"{"city": "Paris"}"#), FakeCall::new("get_weather", r#"{"city": "Oslo"}"#)];
    let up = FakeOpenAi::start(Knobs { script: vec![Scripted::Calls(calls)], ..knobs("unused") }).await;
    let s = client(&up.base_url, 0).stream(&tool_req(vec![ChatMessage::new(Role::User, "Weather?")])).await.unwrap();
    let events: Vec<ChatEvent> = s.map(Result::unwrap).collect().await;
    assert_eq!(
        events,
        vec![
            ChatEvent::ToolCall(call("call_1_0", "Paris")),
            ChatEvent::ToolCall(call("call_1_1", "Oslo")),
            ChatEvent::Done {
                usage: Some(Usage { input_tokens: 7, output_tokens: 5 }),
                finish_reason: Some("tool_calls".into())
            },
        ]
    );
    let body = &up.requests()[0].1;
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "function": {"name": "get_weather", "description": "The weather in a city.",
            "parameters": weather().input_schema}}])
    );
}

#[tokio::test]
async fn tool_results_go_back_as_tool_messages_and_whole_replies_carry_calls() {
    let script = vec![
        Scripted::Calls(vec![FakeCall::new("get_weather", r#"{"city": "Paris"}"#)]),
        Scripted::Text("It is {tool_result}.".into()),
    ];
    let up = FakeOpenAi::start(Knobs { script, ..knobs("unused") }).await;
    let c = client(&up.base_url, 0);
    let user = ChatMessage::new(Role::User, "Weather in Paris?");
    let first = c.complete(&tool_req(vec![user.clone()])).await.unwrap();
    assert_eq!(
        (first.text.as_str(), first.tool_calls.clone(), first.finish_reason.as_deref()),
        ("", vec![call("call_1_0", "Paris")], Some("tool_calls"))
    );
    let result = ToolResult { call_id: "call_1_0".into(), content: "sunny".into(), is_error: false };
    let turn =
        vec![user.clone(), ChatMessage::assistant_calls("", first.tool_calls), ChatMessage::tool_results(vec![result])];
    let second = c.complete(&tool_req(turn)).await.unwrap();
    assert_eq!(second.text, "It is sunny.");
    let body = &up.requests()[1].1;
    assert_eq!(
        body["messages"][1],
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1_0", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]})
    );
    assert_eq!(body["messages"][2], json!({"role": "tool", "tool_call_id": "call_1_0", "content": "sunny"}));
    // The upstream refuses a result that answers no call, as OpenAI does.
    let orphan = ToolResult { call_id: "call_nope".into(), content: "x".into(), is_error: false };
    let e = c.complete(&tool_req(vec![user, ChatMessage::tool_results(vec![orphan])])).await.unwrap_err();
    assert_eq!(e.status, Some(400));
}
