//! A reply is stored while it streams (issue 19: a crash mid-reply lost the reply the user had
//! already seen): during a slow reply the session's history already holds the answer so far,
//! marked `interrupted`; at the end it is the whole answer, no longer marked; when the model
//! fails mid-stream, what the user saw stays, marked `interrupted`, and answering again makes a
//! new version beside it. (The process being killed is tested against the binary in `e2e.rs`.)

use crate::common::*;
use crate::realtime::{connect, init, next, send};
use rampart_core::SessionId;
use rampart_testkit::fake_openai::{FakeOpenAi, Knobs};
use serde_json::{Value, json};
use std::time::Duration;

const REPLY: &str = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen";

async fn server(knobs: Knobs) -> (TestServer, FakeOpenAi) {
    let up = FakeOpenAi::start(knobs).await;
    let s = TestServer::start_with(&[
        (
            "models",
            json!([{"id": "local", "provider": "openai", "base_url": up.base_url, "model": "llm", "max_retries": 0}]),
        ),
        ("assistants", json!([{"id": "default", "kind": "model", "model": "local"}])),
    ])
    .await;
    (s, up)
}

/// A user's socket subscribed to the session's answers, with "Count" published to it.
async fn count(s: &TestServer, email: &str) -> (crate::realtime::Ws, String, String, String) {
    let uid = s.user(email, &[]).await;
    let t = s.token(email).await;
    let sid = SessionId::new().to_string();
    let mut ws = connect(s, &t).await;
    init(&mut ws).await;
    send(&mut ws, json!({"type": "subscribe", "id": "o", "channel": format!("/out/{uid}/{sid}")})).await;
    next(&mut ws).await;
    let events = vec![json!({"payload": {"text": "Count", "sessionId": sid}}).to_string()];
    send(&mut ws, json!({"type": "publish", "id": "p", "channel": format!("/in/{uid}/{sid}"), "events": events})).await;
    assert_eq!(next(&mut ws).await["type"], "publish_success");
    (ws, uid, t, sid)
}

fn interrupted(answer: &Value) -> bool {
    answer["parts"].as_array().is_some_and(|p| p.iter().any(|p| p["type"] == "interrupted"))
}

#[tokio::test]
async fn a_streaming_answer_is_stored_as_it_streams_and_whole_at_the_end() {
    let (s, _up) =
        server(Knobs { reply: REPLY.into(), token_delay: Duration::from_millis(120), ..Knobs::default() }).await;
    let (mut ws, _, t, sid) = count(&s, "a@example.com").await;

    // Mid-reply (14 words at 120 ms): the history holds the answer so far, marked.
    let mut seen = String::new();
    let mut mid_reply = None;
    loop {
        let ev: Value = serde_json::from_str(next(&mut ws).await["event"].as_str().unwrap()).unwrap();
        if ev["content"]["type"] == "end" {
            break;
        }
        seen.push_str(ev["content"]["text"].as_str().unwrap_or(""));
        if mid_reply.is_none() && seen.split_whitespace().count() >= 9 {
            let h = s.get(&format!("/v1/sessions/{sid}"), Some(&t)).await.expect(200).body;
            mid_reply = Some(h["history"][1].clone());
        }
    }
    let partial = mid_reply.expect("read mid-reply");
    let text = partial["content"].as_str().unwrap_or_else(|| panic!("stored mid-reply: {partial}"));
    assert!(!text.is_empty() && REPLY.starts_with(text) && text.len() < REPLY.len(), "{text:?}");
    assert!(interrupted(&partial), "marked while it streams: {partial}");

    let h = s.get(&format!("/v1/sessions/{sid}"), Some(&t)).await.expect(200).body;
    let answers: Vec<&Value> = h["history"].as_array().unwrap().iter().filter(|m| m["role"] == "assistant").collect();
    assert_eq!(answers.len(), 1, "one answer, rewritten: {h}");
    assert_eq!(answers[0]["id"], partial["id"]);
    assert_eq!(answers[0]["content"], REPLY);
    assert!(!interrupted(answers[0]), "finished: {}", answers[0]);
}

#[tokio::test]
async fn when_the_model_fails_mid_reply_what_the_user_saw_stays_marked_interrupted() {
    let knobs = Knobs {
        reply: REPLY.into(),
        token_delay: Duration::from_millis(120),
        error_after_tokens: Some(8),
        ..Knobs::default()
    };
    let (s, up) = server(knobs).await;
    let (mut ws, uid, t, sid) = count(&s, "b@example.com").await;
    let mut seen = String::new();
    loop {
        let ev: Value = serde_json::from_str(next(&mut ws).await["event"].as_str().unwrap()).unwrap();
        if ev["action"] == "error" {
            break;
        }
        assert_ne!(ev["content"]["type"], "end", "the stream breaks: {ev}");
        seen.push_str(ev["content"]["text"].as_str().unwrap_or(""));
    }
    assert!(!seen.is_empty());
    let h = s.get(&format!("/v1/sessions/{sid}"), Some(&t)).await.expect(200).body;
    let answer = &h["history"][1];
    assert_eq!(answer["content"], seen.as_str(), "what the user saw: {h}");
    assert!(interrupted(answer), "{answer}");

    // Answering again makes a new version beside it.
    up.set_knobs(Knobs { reply: "fine now".into(), ..Knobs::default() });
    let mid = answer["id"].as_str().unwrap();
    let events = vec![json!({"payload": {"regenerateMessageId": mid, "sessionId": sid}}).to_string()];
    send(&mut ws, json!({"type": "publish", "id": "q", "channel": format!("/in/{uid}/{sid}"), "events": events})).await;
    assert_eq!(next(&mut ws).await["type"], "publish_success");
    loop {
        let ev: Value = serde_json::from_str(next(&mut ws).await["event"].as_str().unwrap()).unwrap();
        if ev["content"]["type"] == "end" {
            break;
        }
    }
    let h = s.get(&format!("/v1/sessions/{sid}"), Some(&t)).await.expect(200).body;
    assert_eq!(h["history"][1]["content"], "fine now");
    assert!(!interrupted(&h["history"][1]));
    assert_eq!(h["history"][1]["siblings"].as_array().map(Vec::len), Some(2), "{h}");
}
