//! Several replicas over one database and NATS (`RAMPART_TEST_NATS_URL`): a reply generated on
//! one replica reaches a client connected to another; stop and catalog changes reach every
//! replica at once.

use crate::common::*;
use crate::realtime::{connect, init, next, send};
use rampart_core::SessionId;
use serde_json::{Value, json};
use std::time::Duration;

/// Two replicas sharing a database and a fresh subject prefix on the test NATS server.
async fn pair(test: &str, extra: &[(&str, Value)]) -> Option<(TestServer, TestServer)> {
    let Some(url) = rampart_testkit::nats_url() else {
        rampart_testkit::skipped_nats(test);
        return None;
    };
    let prefix = format!("rampart-test.{}", uuid::Uuid::now_v7().simple());
    let mut tweak = vec![("bus.nats_url", json!(url)), ("bus.subject_prefix", json!(prefix))];
    tweak.extend(extra.iter().cloned());
    let a = TestServer::start_with(&tweak).await;
    let b = a.replica().await;
    Some((a, b))
}

/// The next realtime event's `content`.
async fn content(ws: &mut crate::realtime::Ws) -> Value {
    let f = next(ws).await;
    assert_eq!(f["type"], "data", "{f}");
    serde_json::from_str::<Value>(f["event"].as_str().unwrap()).unwrap()["content"].clone()
}

#[tokio::test]
async fn a_reply_generated_on_one_replica_reaches_a_client_on_another() {
    let Some((a, b)) = pair("a_reply_generated_on_one_replica_reaches_a_client_on_another", &[]).await else {
        return;
    };
    let uid = a.user("x@example.com", &[]).await;
    let t = a.token("x@example.com").await;
    let sid = SessionId::new().to_string();
    let mut ws = connect(&a, &t).await;
    init(&mut ws).await;
    send(&mut ws, json!({"type": "subscribe", "id": "o", "channel": format!("/out/{uid}/{sid}")})).await;
    assert_eq!(next(&mut ws).await["type"], "subscribe_success");
    // Publish through the other replica, over HTTP.
    let ev = json!({"payload": {"text": "hello from b", "sessionId": sid}}).to_string();
    b.post("/event", Some(&t), json!({"channel": format!("/in/{uid}/{sid}"), "events": [ev]})).await.expect(200);
    let mut text = String::new();
    loop {
        let c = content(&mut ws).await;
        match c["type"].as_str().unwrap() {
            "textDelta" => text.push_str(c["text"].as_str().unwrap()),
            "end" => break,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(text.contains("No generative model is configured"));
    // Another user's client on `a` sees nothing of it.
    assert_eq!(a.state.hub.channel_count(), 1);
}

#[tokio::test]
async fn stop_on_one_replica_cancels_a_generation_running_on_another() {
    let words: Vec<String> = (0..60).map(|i| format!("w{i}")).collect();
    let up = rampart_testkit::fake_openai::FakeOpenAi::start(rampart_testkit::fake_openai::Knobs {
        reply: words.join(" "),
        token_delay: Duration::from_millis(50),
        fail_status: 503,
        ..Default::default()
    })
    .await;
    let Some((a, b)) = pair(
        "stop_on_one_replica_cancels_a_generation_running_on_another",
        &[
            (
                "models",
                json!([{"id": "m", "provider": "openai", "base_url": up.base_url, "model": "m", "max_retries": 0}]),
            ),
            ("assistants", json!([{"id": "default", "kind": "model", "model": "m"}])),
        ],
    )
    .await
    else {
        return;
    };
    let uid = a.user("stop@example.com", &[]).await;
    let t = a.token("stop@example.com").await;
    let sid = SessionId::new().to_string();
    let mut ws = connect(&a, &t).await;
    init(&mut ws).await;
    send(&mut ws, json!({"type": "subscribe", "id": "o", "channel": format!("/out/{uid}/{sid}")})).await;
    next(&mut ws).await;
    let ev = json!({"payload": {"text": "talk", "sessionId": sid}}).to_string();
    b.post("/event", Some(&t), json!({"channel": format!("/in/{uid}/{sid}"), "events": [ev]})).await.expect(200);
    assert_eq!(content(&mut ws).await["type"], "textDelta");
    // `a` runs nothing itself; it tells `b`.
    assert_eq!(a.post(&format!("/v1/sessions/{sid}/stop"), Some(&t), json!({})).await.expect(200).body["stopped"], 0);
    let mut deltas = 1;
    let end = loop {
        let c = content(&mut ws).await;
        if c["type"] == "end" {
            break c;
        }
        deltas += 1;
    };
    assert_eq!(end["stopped"], true);
    assert!(deltas < 60, "stopped early ({deltas} deltas)");
}

#[tokio::test]
async fn a_catalog_change_reaches_the_other_replica_at_once() {
    let up = rampart_testkit::fake_openai::FakeOpenAi::start(rampart_testkit::fake_openai::Knobs {
        reply: "ok".into(),
        fail_status: 503,
        ..Default::default()
    })
    .await;
    // Without the bus, `b` would only notice after an hour.
    let Some((a, b)) =
        pair("a_catalog_change_reaches_the_other_replica_at_once", &[("chat.catalog_refresh", json!("1h"))]).await
    else {
        return;
    };
    let (_, admin) = a.admin().await;
    a.user("c@example.com", &[]).await;
    let t = a.token("c@example.com").await;
    a.post(
        "/v1/admin/models",
        Some(&admin),
        json!({"id": "m", "provider": "openai", "base_url": up.base_url, "model": "m"}),
    )
    .await
    .expect(201);
    a.post("/v1/admin/assistants", Some(&admin), json!({"id": "fresh", "kind": "model", "model": "m"}))
        .await
        .expect(201);
    let mut seen = false;
    for _ in 0..40 {
        let models = b.get("/v1/models", Some(&t)).await.expect(200).body;
        if models["data"].as_array().unwrap().iter().any(|m| m["id"] == "fresh") {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen, "replica b lists the new assistant within 2 s");
}

#[tokio::test]
async fn a_document_ingested_on_one_replica_is_found_through_another() {
    let Some((a, b)) = pair("a_document_ingested_on_one_replica_is_found_through_another", &[]).await else {
        return;
    };
    a.user("kb@example.com", &[]).await;
    let t = a.token("kb@example.com").await;
    let kb = a.post("/v1/knowledge-bases", Some(&t), json!({"name": "shared"})).await.expect(201).body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"Parking permits are renewed every March.".to_vec()).file_name("parking.txt"),
    );
    let r = a
        .http
        .post(format!("{}/v1/knowledge-bases/{kb}/documents", a.base))
        .bearer_auth(&t)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert!(until(100, || found(&a, &t, &kb)).await, "ingested on a");
    assert!(until(40, || found(&b, &t, &kb)).await, "b's own index got the document through the bus");
}

/// True if a retrieval for the parking document finds something.
async fn found(s: &TestServer, t: &str, kb: &str) -> bool {
    let q = json!({"query": "parking permits", "numberOfResults": 3});
    let r = s.post(&format!("/v1/knowledge-bases/{kb}/retrieve"), Some(t), q).await.expect(200).body;
    !r["results"].as_array().unwrap().is_empty()
}

/// True once `f` answers true, trying `tries` times 50 ms apart.
async fn until<F: std::future::Future<Output = bool>>(tries: usize, mut f: impl FnMut() -> F) -> bool {
    for _ in 0..tries {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
