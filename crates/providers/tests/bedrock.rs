//! The Bedrock ConverseStream client (the AWS SDK) against a local runtime that answers in
//! hand-encoded AWS event-stream frames. Runs when the `bedrock` feature is on (the server
//! crate turns it on, so the workspace build runs these).

#![cfg(feature = "bedrock")]
#![expect(clippy::unwrap_used, reason = "a test fails at the first broken step")]

mod common;

use common::{tool_req, weather};
use futures::StreamExt;
use rampart_core::Secret;
use rampart_core::llm::{ChatModel, ToolCall, ToolResult};
use rampart_providers::{
    Bedrock, BedrockConfig, ChatEvent, ChatMessage, ChatRequest, EventStream, ProviderError, ProviderErrorKind, Role,
    Usage,
};
use rampart_testkit::fake_bedrock::{FakeBedrock, INPUT_TOKENS, Knobs};
use rampart_testkit::script::{FakeCall, Scripted};
use serde_json::json;
use std::time::{Duration, Instant};

const KEY_ID: &str = "AKIDRAMPARTTEST1";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYRAMPARTKEY";
const MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";

fn cfg(base: &str, retries: u32, timeout: Duration) -> BedrockConfig {
    BedrockConfig {
        region: "eu-west-1".into(),
        model: MODEL.into(),
        endpoint_url: Some(base.parse().unwrap()),
        access_key_id: Some(Secret::new(KEY_ID.into())),
        secret_access_key: Some(Secret::new(SECRET.into())),
        session_token: None,
        timeout,
        max_retries: retries,
        tools: true,
    }
}

fn client(base: &str, retries: u32, timeout: Duration) -> Bedrock {
    Bedrock::new(cfg(base, retries, timeout)).unwrap()
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
async fn streams_deltas_then_done_with_usage_and_stop_reason_from_event_stream_frames() {
    // Longer in total than the timeout: the timeout bounds each wait, not the whole reply.
    let up =
        FakeBedrock::start(Knobs { token_delay: Duration::from_millis(300), ..knobs("one two three four five") }).await;
    let items = drain(client(&up.base_url, 0, Duration::from_secs(1)).stream(&req()).await.unwrap()).await;
    assert_eq!(text(&items), "one two three four five");
    assert_eq!(items.len(), 6, "{items:?}");
    assert_eq!(
        items.last().unwrap().as_ref().unwrap(),
        &ChatEvent::Done {
            usage: Some(Usage { input_tokens: INPUT_TOKENS, output_tokens: 5 }),
            finish_reason: Some("end_turn".into())
        }
    );
    let r = up.requests().pop().unwrap();
    assert_eq!(r.model_id, MODEL);
    assert_eq!(
        (r.auth.access_key_id.as_str(), r.auth.region.as_str(), r.auth.service.as_str()),
        (KEY_ID, "eu-west-1", "bedrock")
    );
    assert!(r.body.get("inferenceConfig").is_none(), "nothing set, nothing sent: {}", r.body);
}

#[tokio::test]
async fn sends_system_blocks_alternating_messages_and_inference_config() {
    let up = FakeBedrock::start(knobs("a b c d")).await;
    let r = ChatRequest {
        messages: vec![
            ChatMessage::new(Role::System, "Be brief."),
            ChatMessage::new(Role::User, "first"),
            ChatMessage::new(Role::User, "second"),
            ChatMessage::new(Role::System, "Use French."),
            ChatMessage::new(Role::Assistant, "d'accord"),
            ChatMessage::new(Role::User, "third"),
        ],
        max_tokens: Some(2),
        temperature: Some(0.5),
        top_p: Some(0.25),
        ..Default::default()
    };
    let items = drain(client(&up.base_url, 0, Duration::from_secs(2)).stream(&r).await.unwrap()).await;
    assert_eq!(text(&items), "a b ");
    assert!(matches!(items.last(), Some(Ok(ChatEvent::Done { finish_reason: Some(f), .. })) if f == "max_tokens"));
    let body = up.requests().pop().unwrap().body;
    assert_eq!(body["system"], json!([{"text": "Be brief."}, {"text": "Use French."}]));
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [{"text": "first\n\nsecond"}]},
            {"role": "assistant", "content": [{"text": "d'accord"}]},
            {"role": "user", "content": [{"text": "third"}]},
        ])
    );
    assert_eq!(body["inferenceConfig"], json!({"maxTokens": 2, "temperature": 0.5, "topP": 0.25}));
}

#[tokio::test]
async fn retries_throttling_before_output() {
    let up = FakeBedrock::start(Knobs { fail_first: 2, fail_status: 429, ..knobs("ok") }).await;
    let items = drain(client(&up.base_url, 3, Duration::from_secs(2)).stream(&req()).await.unwrap()).await;
    assert_eq!(text(&items), "ok");
    assert_eq!(up.requests().len(), 3);
}

#[tokio::test]
async fn gives_up_on_service_unavailable_after_max_retries_and_says_it_is_retryable() {
    let up = FakeBedrock::start(Knobs { fail_first: 10, fail_status: 503, ..knobs("never") }).await;
    let e = client(&up.base_url, 1, Duration::from_secs(2)).stream(&req()).await.err().unwrap();
    assert_eq!((e.kind, e.status, e.retryable), (ProviderErrorKind::Upstream, Some(503), true));
    assert!(e.detail.contains("ServiceUnavailableException"), "{}", e.detail);
    assert_eq!(up.requests().len(), 2);
}

#[tokio::test]
async fn does_not_retry_validation_errors_and_never_reports_credentials() {
    let up = FakeBedrock::start(Knobs { fail_first: 5, fail_status: 400, ..knobs("never") }).await;
    let e = client(&up.base_url, 3, Duration::from_secs(2)).stream(&req()).await.err().unwrap();
    assert_eq!((e.kind, e.status, e.retryable), (ProviderErrorKind::Upstream, Some(400), false));
    assert!(e.detail.contains("ValidationException"), "{}", e.detail);
    assert_eq!(up.requests().len(), 1);
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(SECRET) && !shown.contains(KEY_ID), "{shown}");
}

#[tokio::test]
async fn access_denied_is_not_retried() {
    let up = FakeBedrock::start(Knobs { fail_first: 5, fail_status: 403, ..knobs("never") }).await;
    let e = client(&up.base_url, 3, Duration::from_secs(2)).stream(&req()).await.err().unwrap();
    assert_eq!((e.status, e.retryable), (Some(403), false));
    assert!(e.detail.contains("AccessDeniedException"), "{}", e.detail);
    assert_eq!(up.requests().len(), 1);
}

#[tokio::test]
async fn an_exception_frame_mid_stream_ends_the_stream_with_an_error() {
    let up = FakeBedrock::start(Knobs { error_after_tokens: Some(2), ..knobs("a b c d") }).await;
    let items = drain(client(&up.base_url, 3, Duration::from_secs(2)).stream(&req()).await.unwrap()).await;
    assert_eq!(text(&items), "a b ");
    assert_eq!(items.len(), 3, "{items:?}");
    let e = items[2].as_ref().unwrap_err();
    assert_eq!(e.kind, ProviderErrorKind::Upstream);
    assert!(e.retryable);
    assert!(e.detail.contains("Too many tokens"), "{}", e.detail);
    assert_eq!(up.requests().len(), 1, "no retry once output has started");
}

#[tokio::test]
async fn a_stalled_stream_times_out() {
    let up = FakeBedrock::start(Knobs { stall_after_tokens: Some(1), ..knobs("a b c") }).await;
    let t = Instant::now();
    let items = drain(client(&up.base_url, 0, Duration::from_millis(500)).stream(&req()).await.unwrap()).await;
    assert_eq!(text(&items), "a ");
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[1].as_ref().unwrap_err().kind, ProviderErrorKind::Timeout);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[tokio::test]
async fn a_stream_that_ends_without_message_stop_is_a_protocol_error() {
    let up = FakeBedrock::start(Knobs { cut_after_tokens: Some(2), ..knobs("a b c") }).await;
    let items = drain(client(&up.base_url, 0, Duration::from_secs(2)).stream(&req()).await.unwrap()).await;
    assert_eq!(text(&items), "a b ");
    assert_eq!(items.last().unwrap().as_ref().unwrap_err().kind, ProviderErrorKind::Protocol);
}

#[tokio::test]
async fn a_slow_start_times_out() {
    let up = FakeBedrock::start(Knobs { first_byte_delay: Duration::from_secs(5), ..knobs("late") }).await;
    let t = Instant::now();
    let e = client(&up.base_url, 0, Duration::from_millis(500)).stream(&req()).await.err().unwrap();
    assert_eq!(e.kind, ProviderErrorKind::Timeout, "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[test]
fn refuses_a_configuration_without_static_keys() {
    let mut c = cfg("http://127.0.0.1:1", 0, Duration::from_secs(1));
    c.secret_access_key = None;
    let e = Bedrock::new(c).unwrap_err();
    assert_eq!(e.kind, ProviderErrorKind::Config);
    assert!(!e.detail.contains(KEY_ID));
}

#[tokio::test]
async fn works_through_the_chat_model_port() {
    let up = FakeBedrock::start(knobs("hello world")).await;
    let m: std::sync::Arc<dyn ChatModel> = std::sync::Arc::new(client(&up.base_url, 0, Duration::from_secs(2)));
    assert_eq!(m.model_id(), MODEL);
    let items: Vec<_> = m.stream(req()).await.unwrap().collect().await;
    assert!(matches!(&items[0], Ok(ChatEvent::Delta(t)) if t == "hello "));
    assert!(matches!(items.last(), Some(Ok(ChatEvent::Done { usage: Some(_), .. }))));
}

#[tokio::test]
async fn streamed_tool_use_blocks_become_calls_with_their_input_assembled() {
    let script = vec![Scripted::Calls(vec![
        FakeCall::new("get_weather", r#"{"city": "Paris"}"#),
        FakeCall::new("get_weather", r#"{"city": "Oslo"}"#),
    ])];
    let up = FakeBedrock::start(Knobs { script, ..knobs("unused") }).await;
    let r = tool_req(vec![ChatMessage::new(Role::User, "Weather?")]);
    let items = drain(client(&up.base_url, 0, Duration::from_secs(2)).stream(&r).await.unwrap()).await;
    let events: Vec<ChatEvent> = items.into_iter().map(Result::unwrap).collect();
    let call = |i: usize, city: &str| {
        ChatEvent::ToolCall(ToolCall {
            id: format!("tooluse_fake_1_{i}"),
            name: "get_weather".into(),
            arguments: format!(r#"{{"city": "{city}"}}"#),
        })
    };
    assert_eq!(
        events,
        vec![
            call(0, "Paris"),
            call(1, "Oslo"),
            ChatEvent::Done {
                usage: Some(Usage { input_tokens: INPUT_TOKENS, output_tokens: 5 }),
                finish_reason: Some("tool_use".into())
            },
        ]
    );
    let body = up.requests().pop().unwrap().body;
    assert_eq!(
        body["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "get_weather", "description": "The weather in a city.",
            "inputSchema": {"json": weather().input_schema}}}]})
    );
}

#[tokio::test]
async fn tool_results_go_back_as_tool_result_blocks_of_a_user_message() {
    let up =
        FakeBedrock::start(Knobs { script: vec![Scripted::Text("It is {tool_result}.".into())], ..knobs("unused") })
            .await;
    let call = ToolCall {
        id: "tooluse_1".into(),
        name: "get_weather".into(),
        arguments: r#"{"city": "Paris", "days": 2}"#.into(),
    };
    let turn = vec![
        ChatMessage::new(Role::User, "Weather in Paris?"),
        ChatMessage::assistant_calls("", vec![call]),
        ChatMessage::tool_results(vec![ToolResult {
            call_id: "tooluse_1".into(),
            content: "sunny".into(),
            is_error: false,
        }]),
    ];
    let items =
        drain(client(&up.base_url, 0, Duration::from_secs(2)).stream(&tool_req(turn.clone())).await.unwrap()).await;
    assert_eq!(text(&items), "It is sunny.");
    let body = up.requests().pop().unwrap().body;
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [{"text": "Weather in Paris?"}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather",
                "input": {"city": "Paris", "days": 2}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "sunny"}],
                "status": "success"}}]},
        ])
    );
    // Without toolConfig, the runtime refuses tool blocks, as Bedrock does.
    let no_tools = ChatRequest { tools: Vec::new(), ..tool_req(turn) };
    let e = client(&up.base_url, 0, Duration::from_secs(2)).stream(&no_tools).await.err().unwrap();
    assert!(e.status == Some(400) && e.detail.contains("toolConfig"), "{}", e.detail);
}
