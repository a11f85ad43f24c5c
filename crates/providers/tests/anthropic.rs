//! The Anthropic Messages client against a local upstream that speaks the real wire format.

#![expect(clippy::unwrap_used, reason = "a test fails at the first broken step")]

mod common;

use common::{tool_req, weather};
use futures::StreamExt;
use rampart_core::llm::{ChatModel, ToolCall, ToolResult};
use rampart_providers::{
    Anthropic, AnthropicConfig, ChatEvent, ChatMessage, ChatRequest, EventStream, ProviderError, ProviderErrorKind,
    Role, Usage,
};
use rampart_testkit::fake_anthropic::{FakeAnthropic, INPUT_TOKENS, Knobs};
use rampart_testkit::script::{FakeCall, Scripted};
use serde_json::json;
use std::time::{Duration, Instant};

const KEY: &str = "sk-ant-test-4242";

fn client(base: &str, retries: u32, timeout: Duration) -> Anthropic {
    Anthropic::new(AnthropicConfig {
        base_url: base.parse().unwrap(),
        model: "claude-test".into(),
        api_key: Some(rampart_core::Secret::new(KEY.into())),
        timeout,
        max_retries: retries,
        tools: true,
    })
    .unwrap()
}

fn req() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::new(Role::System, "Be brief."), ChatMessage::new(Role::User, "Hi")],
        ..Default::default()
    }
}

fn knobs(reply: &str) -> Knobs {
    Knobs { reply: reply.into(), fail_status: 503, ..Default::default() }
}

/// All items of a stream.
async fn drain(mut s: EventStream) -> Vec<Result<ChatEvent, ProviderError>> {
    let mut out = Vec::new();
    while let Some(ev) = s.next().await {
        out.push(ev);
    }
    out
}

fn text(items: &[Result<ChatEvent, ProviderError>]) -> String {
    items.iter().filter_map(|i| if let Ok(ChatEvent::Delta(t)) = i { Some(t.as_str()) } else { None }).collect()
}

#[tokio::test]
async fn streams_deltas_then_done_with_usage_and_stop_reason() {
    let up = FakeAnthropic::start(Knobs { token_delay: Duration::from_millis(5), ..knobs("one two three") }).await;
    let items = drain(client(&up.base_url, 0, Duration::from_secs(2)).stream(&req()).await.unwrap()).await;
    assert_eq!(text(&items), "one two three");
    assert_eq!(items.len(), 4, "three deltas and Done: {items:?}");
    assert_eq!(
        items.last().unwrap().as_ref().unwrap(),
        &ChatEvent::Done {
            usage: Some(Usage { input_tokens: INPUT_TOKENS, output_tokens: 3 }),
            finish_reason: Some("end_turn".into())
        }
    );
    let r = up.requests().pop().unwrap();
    assert_eq!(r.api_key.as_deref(), Some(KEY));
    assert_eq!(r.version.as_deref(), Some("2023-06-01"));
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!(r.body["model"], "claude-test");
    assert_eq!(r.body["stream"], true);
    assert_eq!(r.body["max_tokens"], 4096, "Anthropic requires max_tokens: the default is sent");
    assert!(r.body.get("temperature").is_none() && r.body.get("top_p").is_none());
}

#[tokio::test]
async fn lifts_system_messages_and_merges_same_role_turns_in_the_request() {
    let up = FakeAnthropic::start(knobs("ok")).await;
    let r = ChatRequest {
        messages: vec![
            ChatMessage::new(Role::System, "Be brief."),
            ChatMessage::new(Role::User, "first"),
            ChatMessage::new(Role::User, "second"),
            ChatMessage::new(Role::System, "Use French."),
            ChatMessage::new(Role::Assistant, "d'accord"),
            ChatMessage::new(Role::User, "third"),
        ],
        max_tokens: Some(100),
        temperature: Some(0.5),
        top_p: Some(0.9),
        ..Default::default()
    };
    let items = drain(client(&up.base_url, 0, Duration::from_secs(2)).stream(&r).await.unwrap()).await;
    assert!(matches!(items.last(), Some(Ok(ChatEvent::Done { .. }))));
    let body = up.requests().pop().unwrap().body;
    assert_eq!(body["system"], "Be brief.\n\nUse French.");
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": "first\n\nsecond"},
            {"role": "assistant", "content": "d'accord"},
            {"role": "user", "content": "third"},
        ])
    );
    assert_eq!(
        (body["max_tokens"].clone(), body["temperature"].clone(), body["top_p"].clone()),
        (json!(100), json!(0.5), json!(0.9f32))
    );
}

#[tokio::test]
async fn a_reply_cut_by_max_tokens_reports_that_stop_reason() {
    let up = FakeAnthropic::start(knobs("a b c d e")).await;
    let r = ChatRequest { max_tokens: Some(2), ..req() };
    let items = drain(client(&up.base_url, 0, Duration::from_secs(2)).stream(&r).await.unwrap()).await;
    assert_eq!(text(&items), "a b ");
    assert!(matches!(items.last(), Some(Ok(ChatEvent::Done { finish_reason: Some(f), .. })) if f == "max_tokens"));
}

#[tokio::test]
async fn retries_overloaded_529_honouring_retry_after_before_output() {
    let up = FakeAnthropic::start(Knobs { fail_first: 2, fail_status: 529, retry_after: Some(1), ..knobs("ok") }).await;
    let t = Instant::now();
    let items = drain(client(&up.base_url, 3, Duration::from_secs(2)).stream(&req()).await.unwrap()).await;
    assert_eq!(text(&items), "ok");
    assert_eq!(up.requests().len(), 3);
    assert!(t.elapsed() >= Duration::from_secs(2), "waited Retry-After twice: {:?}", t.elapsed());
}

#[tokio::test]
async fn retries_429_with_backoff_and_gives_up_after_max_retries() {
    let up = FakeAnthropic::start(Knobs { fail_first: 10, fail_status: 429, ..knobs("never") }).await;
    let t = Instant::now();
    let e = client(&up.base_url, 2, Duration::from_secs(2)).stream(&req()).await.err().unwrap();
    assert_eq!((e.kind, e.status, e.retryable), (ProviderErrorKind::Upstream, Some(429), true));
    assert!(e.detail.contains("rate_limit_error"), "{}", e.detail);
    assert_eq!(up.requests().len(), 3, "first try and two retries");
    assert!(t.elapsed() >= Duration::from_millis(750), "250 ms then 500 ms: {:?}", t.elapsed());
}

#[tokio::test]
async fn does_not_retry_400_and_never_reports_the_api_key() {
    let up =
        FakeAnthropic::start(Knobs { fail_first: 5, fail_status: 400, echo_key_in_errors: true, ..knobs("never") })
            .await;
    let e = client(&up.base_url, 3, Duration::from_secs(2)).stream(&req()).await.err().unwrap();
    assert_eq!((e.kind, e.status, e.retryable), (ProviderErrorKind::Upstream, Some(400), false));
    assert_eq!(up.requests().len(), 1);
    assert!(e.detail.contains("invalid_request_error") && e.detail.contains("[redacted]"), "{}", e.detail);
    assert!(!e.to_string().contains(KEY), "no API key in errors: {e}");
}

#[tokio::test]
async fn a_missing_api_key_is_refused_by_the_upstream_and_not_retried() {
    let up = FakeAnthropic::start(knobs("never")).await;
    let c = Anthropic::new(AnthropicConfig {
        base_url: up.base_url.parse().unwrap(),
        model: "claude-test".into(),
        api_key: None,
        timeout: Duration::from_secs(2),
        max_retries: 3,
        tools: false,
    })
    .unwrap();
    let e = c.stream(&req()).await.err().unwrap();
    assert_eq!((e.status, e.retryable), (Some(401), false));
    assert!(e.detail.contains("authentication_error"), "{}", e.detail);
    assert_eq!(up.requests().len(), 1);
}

#[tokio::test]
async fn an_error_event_mid_stream_ends_the_stream_with_an_error() {
    let up = FakeAnthropic::start(Knobs { error_after_tokens: Some(2), ..knobs("a b c d") }).await;
    let items = drain(client(&up.base_url, 3, Duration::from_secs(2)).stream(&req()).await.unwrap()).await;
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(text(&items), "a b ");
    let e = items[2].as_ref().unwrap_err();
    assert_eq!(e.kind, ProviderErrorKind::Upstream);
    assert!(e.retryable, "overload: a new attempt may succeed");
    assert!(e.detail.contains("overloaded_error"), "{}", e.detail);
    assert_eq!(up.requests().len(), 1, "no retry once output has started");
}

#[tokio::test]
async fn a_stalled_stream_times_out() {
    let up = FakeAnthropic::start(Knobs { stall_after_tokens: Some(1), ..knobs("a b c") }).await;
    let t = Instant::now();
    let items = drain(client(&up.base_url, 0, Duration::from_millis(500)).stream(&req()).await.unwrap()).await;
    assert_eq!(text(&items), "a ");
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].as_ref().unwrap_err().kind, ProviderErrorKind::Timeout);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[tokio::test]
async fn a_stream_that_ends_without_message_stop_is_a_protocol_error() {
    let up = FakeAnthropic::start(Knobs { cut_after_tokens: Some(2), ..knobs("a b c") }).await;
    let items = drain(client(&up.base_url, 0, Duration::from_secs(2)).stream(&req()).await.unwrap()).await;
    assert_eq!(text(&items), "a b ");
    let e = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(e.kind, ProviderErrorKind::Protocol);
    assert!(e.detail.contains("message_stop"));
}

#[tokio::test]
async fn works_through_the_chat_model_port() {
    let up = FakeAnthropic::start(knobs("hello world")).await;
    let m: std::sync::Arc<dyn ChatModel> = std::sync::Arc::new(client(&up.base_url, 0, Duration::from_secs(2)));
    assert_eq!(m.model_id(), "claude-test");
    let s = m.stream(req()).await.unwrap();
    let items: Vec<_> = s.collect().await;
    assert!(matches!(&items[0], Ok(ChatEvent::Delta(t)) if t == "hello "));
    assert!(matches!(items.last(), Some(Ok(ChatEvent::Done { usage: Some(_), .. }))));
}

#[tokio::test]
async fn streamed_tool_use_blocks_become_calls_with_their_input_assembled() {
    let script = vec![Scripted::Calls(vec![FakeCall::new("get_weather", r#"{"city": "Paris"}"#)])];
    let up = FakeAnthropic::start(Knobs { script, ..knobs("unused") }).await;
    let r = tool_req(vec![ChatMessage::new(Role::User, "Weather?")]);
    let items = drain(client(&up.base_url, 0, Duration::from_secs(2)).stream(&r).await.unwrap()).await;
    let events: Vec<ChatEvent> = items.into_iter().map(Result::unwrap).collect();
    let call =
        ToolCall { id: "toolu_fake_1_0".into(), name: "get_weather".into(), arguments: r#"{"city": "Paris"}"#.into() };
    assert_eq!(
        events,
        vec![
            ChatEvent::ToolCall(call),
            ChatEvent::Done {
                usage: Some(Usage { input_tokens: INPUT_TOKENS, output_tokens: 5 }),
                finish_reason: Some("tool_use".into())
            },
        ]
    );
    let body = up.requests().pop().unwrap().body;
    assert_eq!(
        body["tools"],
        json!([{"name": "get_weather", "description": "The weather in a city.", "input_schema": weather().input_schema}])
    );
}

#[tokio::test]
async fn tool_results_go_back_first_in_the_user_turn_and_whole_replies_carry_calls() {
    let script = vec![
        Scripted::Calls(vec![FakeCall::new("get_weather", r#"{"city": "Paris"}"#)]),
        Scripted::Text("It is {tool_result}.".into()),
    ];
    let up = FakeAnthropic::start(Knobs { script, ..knobs("unused") }).await;
    let m: std::sync::Arc<dyn ChatModel> = std::sync::Arc::new(client(&up.base_url, 0, Duration::from_secs(2)));
    assert!(m.supports_tools());
    let user = ChatMessage::new(Role::User, "Weather in Paris?");
    let first: Vec<ChatEvent> =
        m.complete_whole(tool_req(vec![user.clone()])).await.unwrap().map(Result::unwrap).collect().await;
    assert_eq!(up.requests()[0].body["stream"], false, "a whole reply is one non-streamed request");
    let ChatEvent::ToolCall(call) = &first[0] else { panic!("a call first: {first:?}") };
    assert_eq!((call.name.as_str(), call.arguments.as_str()), ("get_weather", r#"{"city":"Paris"}"#));
    assert!(matches!(&first[1], ChatEvent::Done { finish_reason: Some(f), .. } if f == "tool_use"));
    let bad = ToolCall { id: "toolu_bad".into(), name: "get_weather".into(), arguments: "{city".into() };
    let results = vec![
        ToolResult { call_id: call.id.clone(), content: "sunny".into(), is_error: false },
        ToolResult { call_id: "toolu_bad".into(), content: "arguments are not JSON".into(), is_error: true },
    ];
    let turn = vec![
        user.clone(),
        ChatMessage::assistant_calls("Let me look.", vec![call.clone(), bad]),
        ChatMessage::tool_results(results.clone()),
        ChatMessage::new(Role::User, "Thanks."),
    ];
    let items =
        drain(client(&up.base_url, 0, Duration::from_secs(2)).stream(&tool_req(turn.clone())).await.unwrap()).await;
    assert_eq!(text(&items), "It is arguments are not JSON.", "the model saw the last result");
    let body = up.requests().pop().unwrap().body;
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": call.id, "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_bad", "name": "get_weather", "input": {}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": call.id, "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_bad", "content": "arguments are not JSON", "is_error": true},
                {"type": "text", "text": "Thanks."},
            ]},
        ])
    );
    // Without tools, the upstream refuses tool blocks, as Anthropic does.
    let no_tools = ChatRequest { tools: Vec::new(), ..tool_req(turn) };
    let e = client(&up.base_url, 0, Duration::from_secs(2)).stream(&no_tools).await.err().unwrap();
    assert!(e.status == Some(400) && e.detail.contains("must define tools"), "{}", e.detail);
}
