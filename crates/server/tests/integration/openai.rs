//! The OpenAI-compatible facade against a fake upstream that speaks OpenAI's wire format.

use crate::common::*;
use rampart_testkit::fake_openai::{FakeOpenAi, Knobs};
use serde_json::{Value, json};

fn knobs(reply: &str) -> Knobs {
    Knobs { reply: reply.into(), fail_status: 503, ..Default::default() }
}

async fn with_model(up: &FakeOpenAi) -> TestServer {
    let s = TestServer::start_with(&[
        ("models", json!([{"id": "local", "provider": "openai", "base_url": up.base_url, "model": "llama3.1", "api_key": "sk-up", "max_retries": 0}])),
        ("assistants", json!([
            {"id": "default", "kind": "model", "model": "local", "system_prompt": "Be brief.", "inference_max_tokens": 100},
            {"id": "finance", "kind": "model", "model": "local", "groups": ["finance"]}
        ])),
    ])
    .await;
    s.state.db.create_group("finance", "", rampart_core::Timestamp::from_millis(0)).await.unwrap();
    s
}

/// `data:` payloads of an SSE body.
async fn sse(r: reqwest::Response) -> Vec<String> {
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    r.text()
        .await
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))
        .map(str::to_owned)
        .collect()
}

async fn post(s: &TestServer, auth: &str, body: Value) -> reqwest::Response {
    s.http.post(format!("{}/v1/chat/completions", s.base)).bearer_auth(auth).json(&body).send().await.unwrap()
}

/// A one-message, non-streaming completion from the `default` assistant.
async fn ask(s: &TestServer, auth: &str, question: &str) -> Resp {
    s.post(
        "/v1/chat/completions",
        Some(auth),
        json!({"model": "default", "messages": [{"role": "user", "content": question}]}),
    )
    .await
}

#[tokio::test]
async fn out_of_the_box_the_extractive_assistant_answers() {
    let s = TestServer::start().await;
    s.user("u@example.com", &[]).await;
    let t = s.token("u@example.com").await;
    let m = s.get("/v1/models", Some(&t)).await.expect(200).body;
    assert_eq!(m["data"], json!([{"id": "default", "object": "model", "created": 0, "owned_by": "rampart"}]));
    let r = ask(&s, &t, "hi").await.expect(200).body;
    assert!(r["choices"][0]["message"]["content"].as_str().unwrap().contains("No generative model is configured"));
    assert_eq!(r["object"], "chat.completion");
}

#[tokio::test]
async fn completes_through_the_configured_model() {
    let up = FakeOpenAi::start(knobs("Hello there friend")).await;
    let s = with_model(&up).await;
    s.user("u@example.com", &[]).await;
    let t = s.token("u@example.com").await;
    let r = s
        .post(
            "/v1/chat/completions",
            Some(&t),
            json!({
                "model": "default", "max_tokens": 500, "temperature": 0.5, "n": 1, "user": "ignored",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello"}]}]
            }),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(r["choices"][0]["message"], json!({"role": "assistant", "content": "Hello there friend"}));
    assert_eq!(r["usage"], json!({"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}));
    assert_eq!(r["model"], "default");
    let (auth, body) = up.requests().pop().unwrap();
    assert_eq!(auth.as_deref(), Some("Bearer sk-up"), "the upstream key, never the caller's token");
    assert_eq!(
        body["messages"],
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}])
    );
    assert_eq!(body["max_tokens"], 100, "a request cannot raise the assistant's limit");
    assert_eq!(body["temperature"], 0.5);
    assert_eq!(body["model"], "llama3.1");
}

#[tokio::test]
async fn streams_openai_chunks_then_done() {
    let up = FakeOpenAi::start(knobs("one two three")).await;
    let s = with_model(&up).await;
    s.user("u@example.com", &[]).await;
    let t = s.token("u@example.com").await;
    let data = sse(post(
        &s,
        &t,
        json!({"model": "default", "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "count"}]}),
    )
    .await)
    .await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = data[..data.len() - 1].iter().map(|d| serde_json::from_str(d).unwrap()).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "one two three");
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "stop"));
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 3);
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk"));
}

#[tokio::test]
async fn assistants_restricted_to_groups_are_invisible_to_others() {
    let up = FakeOpenAi::start(knobs("x")).await;
    let s = with_model(&up).await;
    s.user("out@example.com", &[]).await;
    s.user("in@example.com", &["finance"]).await;
    let out = s.token("out@example.com").await;
    let inside = s.token("in@example.com").await;
    let ids = |v: Value| {
        v["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(ids(s.get("/v1/models", Some(&out)).await.body), vec!["default"]);
    assert_eq!(ids(s.get("/v1/models", Some(&inside)).await.body), vec!["default", "finance"]);
    let body = json!({"model": "finance", "messages": [{"role": "user", "content": "q"}]});
    s.post("/v1/chat/completions", Some(&out), body.clone()).await.expect_error(404, "not_found");
    s.post("/v1/chat/completions", Some(&inside), body).await.expect(200);
}

#[tokio::test]
async fn a_service_interruption_answers_without_calling_the_model() {
    let up = FakeOpenAi::start(knobs("should not be seen")).await;
    let s = with_model(&up).await;
    let (_, admin) = s.admin().await;
    s.post(
        "/v1/bot-management/interruptions",
        Some(&admin),
        json!({"service_type": "model", "message": "Back at 14:00.", "reason": "", "duration": "1h"}),
    )
    .await
    .expect(201);
    let r = ask(&s, &admin, "q").await.expect(200).body;
    assert_eq!(r["choices"][0]["message"]["content"], "Back at 14:00.");
    let data = sse(post(
        &s,
        &admin,
        json!({"model": "default", "stream": true, "messages": [{"role": "user", "content": "q"}]}),
    )
    .await)
    .await;
    assert!(data.iter().any(|d| d.contains("Back at 14:00.")));
    assert!(up.requests().is_empty(), "the model was not called");
}

#[tokio::test]
async fn upstream_failures_are_generic_502s_and_mid_stream_errors_end_the_stream() {
    let up = FakeOpenAi::start(Knobs { fail_first: 100, fail_status: 400, ..knobs("x") }).await;
    let s = with_model(&up).await;
    s.user("u@example.com", &[]).await;
    let t = s.token("u@example.com").await;
    let r = ask(&s, &t, "q").await.expect_error(502, "upstream_error");
    assert!(!r.body.to_string().contains("overloaded"), "upstream detail stays in the log");
    up.set_knobs(Knobs { error_after_tokens: Some(1), ..knobs("a b c") });
    let data =
        sse(post(&s, &t, json!({"model": "default", "stream": true, "messages": [{"role": "user", "content": "q"}]}))
            .await)
        .await;
    assert!(data.last().unwrap().contains("upstream_error"), "{data:?}");
    assert!(!data.iter().any(|d| d == "[DONE]"));
    s.get("/healthz", None).await.expect(200);
}

#[tokio::test]
async fn bad_requests_are_clear_4xx() {
    let s = TestServer::start().await;
    s.user("u@example.com", &[]).await;
    let t = s.token("u@example.com").await;
    for (body, status, code) in [
        (json!({"model": "default", "messages": []}), 400, "invalid_request"),
        (json!({"model": "default", "messages": [{"role": "tool", "content": "x"}]}), 400, "invalid_request"),
        (json!({"model": "default", "messages": [{"role": "user", "content": 5}]}), 400, "invalid_request"),
        (
            json!({"model": "default", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}),
            400,
            "invalid_request",
        ),
        (
            json!({"model": "default", "temperature": 3, "messages": [{"role": "user", "content": "x"}]}),
            400,
            "invalid_request",
        ),
        (json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]}), 404, "not_found"),
        (json!({"messages": [{"role": "user", "content": "x"}]}), 400, "invalid_json"),
    ] {
        s.post("/v1/chat/completions", Some(&t), body.clone()).await.expect_error(status, code);
    }
    let k = s.post("/v1/me/api-keys", Some(&t), json!({"name": "kb", "scopes": ["knowledge"]})).await.expect(201).body
        ["key"]
        .as_str()
        .unwrap()
        .to_owned();
    s.get("/v1/models", Some(&k)).await.expect_error(403, "forbidden");
    let chat_key = s.post("/v1/me/api-keys", Some(&t), json!({"name": "c", "scopes": ["chat"]})).await.expect(201).body
        ["key"]
        .as_str()
        .unwrap()
        .to_owned();
    ask(&s, &chat_key, "x").await.expect(200);
}

const SDK_SCRIPT: &str = r#"
import json, os
from openai import OpenAI
c = OpenAI(base_url=os.environ["BASE_URL"], api_key=os.environ["API_KEY"], max_retries=0)
models = [m.id for m in c.models.list()]
r = c.chat.completions.create(model="default", messages=[{"role": "user", "content": "hello"}])
parts = []
usage = None
for ch in c.chat.completions.create(model="default", messages=[{"role": "user", "content": "count"}], stream=True, stream_options={"include_usage": True}):
    if ch.choices and ch.choices[0].delta.content:
        parts.append(ch.choices[0].delta.content)
    if ch.usage:
        usage = ch.usage.total_tokens
try:
    c.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    missing = None
except Exception as e:
    missing = getattr(e, "status_code", None)
print(json.dumps({"models": models, "text": r.choices[0].message.content, "usage": r.usage.total_tokens, "stream": "".join(parts), "stream_usage": usage, "missing": missing}))
"#;

/// The official OpenAI Python SDK as a real client (installed by `make test` into a venv).
#[tokio::test]
async fn the_official_openai_python_sdk_works_unchanged() {
    let python = std::env::var("RAMPART_TEST_PYTHON").ok();
    let python = match python {
        Some(p) => p,
        None => {
            let has_sdk = std::process::Command::new("python3")
                .args(["-c", "import openai"])
                .output()
                .is_ok_and(|o| o.status.success());
            if !has_sdk {
                rampart_testkit::skipped(
                    "openai::the_official_openai_python_sdk_works_unchanged (run `make test`, which installs the SDK)",
                );
                return;
            }
            "python3".to_owned()
        }
    };
    let up = FakeOpenAi::start(knobs("Hi from upstream")).await;
    let s = with_model(&up).await;
    s.user("sdk@example.com", &[]).await;
    let t = s.token("sdk@example.com").await;
    let key =
        s.post("/v1/me/api-keys", Some(&t), json!({"name": "sdk", "scopes": ["chat"]})).await.expect(201).body["key"]
            .as_str()
            .unwrap()
            .to_owned();
    let out = tokio::process::Command::new(python)
        .args(["-c", SDK_SCRIPT])
        .env("BASE_URL", format!("{}/v1", s.base))
        .env("API_KEY", &key)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "SDK script failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["models"], json!(["default"]));
    assert_eq!(v["text"], "Hi from upstream");
    assert_eq!(v["usage"], 10);
    assert_eq!(v["stream"], "Hi from upstream");
    assert_eq!(v["stream_usage"], 10);
    assert_eq!(v["missing"], 404);
}

/// Polls a job until it is no longer pending or running.
/// Starts a job with one user message; its id.
pub(crate) async fn start_job(s: &TestServer, auth: &str, model: &str, text: &str) -> String {
    let r = s.post("/v1/jobs", Some(auth), json!({"model": model, "messages": [{"role": "user", "content": text}]}));
    r.await.expect(202).body["id"].as_str().unwrap().to_owned()
}

/// Polls a job until it has finished; its view.
pub(crate) async fn wait_job(s: &TestServer, auth: &str, id: &str) -> Value {
    for _ in 0..500 {
        let j = s.get(&format!("/v1/jobs/{id}"), Some(auth)).await.expect(200).body;
        if j["status"] != "pending" && j["status"] != "running" {
            return j;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("job {id} did not finish");
}

#[tokio::test]
async fn jobs_return_at_once_and_only_their_owner_reads_the_result() {
    let up = FakeOpenAi::start(Knobs {
        token_delay: std::time::Duration::from_millis(300),
        ..knobs("a long considered answer")
    })
    .await;
    let s = with_model(&up).await;
    s.user("j@example.com", &[]).await;
    s.user("k@example.com", &[]).await;
    let t = s.token("j@example.com").await;
    let other = s.token("k@example.com").await;
    let acc = s
        .post("/v1/jobs", Some(&t), json!({"model": "default", "messages": [{"role": "user", "content": "think"}]}))
        .await
        .expect(202)
        .body;
    assert_eq!(acc["status"], "pending");
    let id = acc["id"].as_str().unwrap();
    // The model needs over a second; the job is accepted and visible before it is done.
    let early = s.get(&format!("/v1/jobs/{id}"), Some(&t)).await.expect(200).body;
    assert!(early["status"] == "pending" || early["status"] == "running", "{early}");
    s.get(&format!("/v1/jobs/{id}"), Some(&other)).await.expect_error(404, "not_found");
    let j = wait_job(&s, &t, id).await;
    assert_eq!(j["status"], "succeeded");
    assert_eq!(j["result"]["content"], "a long considered answer");
    assert_eq!(j["result"]["modelId"], "llama3.1");
    assert_eq!(j["result"]["outputTokens"], 4);
    s.get(&format!("/v1/jobs/{}", uuid::Uuid::now_v7()), Some(&t)).await.expect_error(404, "not_found");
    s.post(
        "/v1/jobs",
        Some(&t),
        json!({"model": "default", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await
    .expect_error(400, "invalid_request");
    s.post("/v1/jobs", Some(&t), json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]}))
        .await
        .expect_error(404, "not_found");
    // A failing upstream: the job fails with a generic message.
    up.set_knobs(Knobs { fail_first: 1000, fail_status: 400, ..knobs("x") });
    let id = start_job(&s, &t, "default", "x").await;
    let j = wait_job(&s, &t, &id).await;
    assert_eq!(j["status"], "failed");
    assert_eq!(j["error"], "The model provider failed. Try again later.");
    assert!(j.get("result").is_none());
    // Unfinished jobs are failed at start-up (as after a crash).
    s.state
        .db
        .create_job(
            rampart_core::JobId::new(),
            s.get("/v1/me", Some(&t)).await.body["sub"].as_str().unwrap().parse().unwrap(),
            "default",
            rampart_core::Timestamp::from_millis(0),
        )
        .await
        .unwrap();
    assert_eq!(s.state.chat.fail_unfinished_jobs().await.unwrap(), 1);
}
