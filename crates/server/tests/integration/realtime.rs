//! The AppSync Events WebSocket protocol with a real WebSocket client: the full chat flow and
//! every refusal.

use crate::common::*;
use futures::{SinkExt, StreamExt};
use rampart_core::SessionId;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect_with(s: &TestServer, protocols: &str) -> (Ws, reqwest::header::HeaderMap) {
    let host = s.base.trim_start_matches("http://");
    let mut req = format!("ws://{host}/event/realtime").into_client_request().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", protocols.parse().unwrap());
    let (ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    (ws, resp.headers().clone())
}

async fn connect(s: &TestServer, token: &str) -> Ws {
    let host = s.base.trim_start_matches("http://");
    let auth = b64(json!({"host": host, "Authorization": token}).to_string().as_bytes());
    let (ws, headers) = connect_with(s, &format!("aws-appsync-event-ws, header-{auth}")).await;
    assert_eq!(headers["sec-websocket-protocol"], "aws-appsync-event-ws");
    ws
}

/// The next frame that is not a keep-alive.
async fn next(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .unwrap();
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["type"] != "ka" {
                return v;
            }
        }
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

async fn init(ws: &mut Ws) {
    send(ws, json!({"type": "connection_init"})).await;
    let ack = next(ws).await;
    assert_eq!(ack["type"], "connection_ack");
    assert_eq!(ack["connectionTimeoutMs"], 300000);
}

fn publish_msg(id: &str, uid: &str, sid: &str, text: &str) -> Value {
    json!({"type": "publish", "id": id, "channel": format!("/in/{uid}/{sid}"),
           "events": [json!({"payload": {"text": text, "sessionId": sid}}).to_string()]})
}

#[tokio::test]
async fn publish_runs_the_assistant_and_streams_text_deltas_then_end() {
    let s = TestServer::start().await;
    let uid = s.user("rt@example.com", &[]).await;
    let t = s.token("rt@example.com").await;
    let sid = SessionId::new().to_string();
    let mut ws = connect(&s, &t).await;
    init(&mut ws).await;
    send(&mut ws, json!({"type": "subscribe", "id": "sub-1", "channel": format!("/out/{uid}/{sid}"), "authorization": {"Authorization": t}})).await;
    assert_eq!(next(&mut ws).await, json!({"type": "subscribe_success", "id": "sub-1"}));
    send(&mut ws, publish_msg("pub-1", &uid, &sid, "What is Rampart?")).await;
    let ok = next(&mut ws).await;
    assert_eq!(ok["type"], "publish_success");
    assert_eq!(ok["successful"][0]["index"], 0);
    assert_eq!(ok["failed"], json!([]));
    let mut text = String::new();
    let end = loop {
        let f = next(&mut ws).await;
        assert_eq!(f["type"], "data");
        assert_eq!(f["id"], "sub-1");
        let ev: Value = serde_json::from_str(f["event"].as_str().expect("event is a JSON string")).unwrap();
        match ev["content"]["type"].as_str().unwrap() {
            "textDelta" => text.push_str(ev["content"]["text"].as_str().unwrap()),
            "end" => break ev,
            other => panic!("unexpected {other}: {ev}"),
        }
    };
    assert!(text.contains("No generative model is configured"));
    assert_eq!(end["content"]["modelId"], "rampart-extractive");
    // The exchange is stored: a client that reconnects fetches what it missed.
    let d = s.get(&format!("/v1/sessions/{sid}"), Some(&t)).await.expect(200).body;
    assert_eq!(d["history"][0]["content"], "What is Rampart?");
    assert_eq!(d["history"][1]["id"], end["content"]["messageId"]);
    assert_eq!(d["history"][1]["content"], text.as_str());
    send(&mut ws, json!({"type": "unsubscribe", "id": "sub-1"})).await;
    assert_eq!(next(&mut ws).await, json!({"type": "unsubscribe_success", "id": "sub-1"}));
    send(&mut ws, json!({"type": "unsubscribe", "id": "sub-1"})).await;
    assert_eq!(next(&mut ws).await["type"], "unsubscribe_error");
}

#[tokio::test]
async fn channels_of_other_users_and_in_subscriptions_are_refused() {
    let s = TestServer::start().await;
    let uid = s.user("a@example.com", &[]).await;
    let other = s.user("b@example.com", &[]).await;
    let t = s.token("a@example.com").await;
    let sid = SessionId::new().to_string();
    let mut ws = connect(&s, &t).await;
    init(&mut ws).await;
    for (id, ch, code) in [
        ("s1", format!("/out/{other}/{sid}"), "UnauthorizedException"),
        ("s2", format!("/in/{uid}/{sid}"), "UnauthorizedException"),
        ("s3", "/out/not valid/x".to_string(), "BadRequestException"),
        ("s4", format!("/default/{uid}/{sid}"), "UnauthorizedException"),
    ] {
        send(&mut ws, json!({"type": "subscribe", "id": id, "channel": ch})).await;
        let e = next(&mut ws).await;
        assert_eq!(
            (e["type"].as_str(), e["id"].as_str(), e["errors"][0]["errorType"].as_str()),
            (Some("subscribe_error"), Some(id), Some(code)),
            "{ch}"
        );
    }
    send(&mut ws, publish_msg("p1", &other, &sid, "x")).await;
    assert_eq!(next(&mut ws).await["errors"][0]["errorType"], "UnauthorizedException");
    send(&mut ws, json!({"type": "publish", "id": "p2", "channel": format!("/out/{uid}/{sid}"), "events": ["{}"]}))
        .await;
    assert_eq!(next(&mut ws).await["type"], "publish_error", "publishing to /out is refused");
    let six: Vec<String> = (0..6).map(|_| json!({"payload": {"text": "x", "sessionId": sid}}).to_string()).collect();
    send(&mut ws, json!({"type": "publish", "id": "p3", "channel": format!("/in/{uid}/{sid}"), "events": six})).await;
    assert_eq!(next(&mut ws).await["errors"][0]["errorType"], "BadRequestException");
    send(
        &mut ws,
        json!({"type": "publish", "id": "p4", "channel": format!("/in/{uid}/{sid}"), "events": ["not json"]}),
    )
    .await;
    assert_eq!(next(&mut ws).await["type"], "publish_error");
    let wrong_session = json!({"payload": {"text": "x", "sessionId": SessionId::new().to_string()}}).to_string();
    send(
        &mut ws,
        json!({"type": "publish", "id": "p5", "channel": format!("/in/{uid}/{sid}"), "events": [wrong_session]}),
    )
    .await;
    assert_eq!(next(&mut ws).await["type"], "publish_error");
    // Another user's credential in an operation acts as that user: still not a's channel… and
    // a garbage one is refused.
    send(&mut ws, json!({"type": "subscribe", "id": "s5", "channel": format!("/out/{uid}/{sid}"), "authorization": {"Authorization": "garbage"}})).await;
    assert_eq!(next(&mut ws).await["errors"][0]["errorType"], "UnauthorizedException");
    send(&mut ws, json!({"type": "subscribe", "id": "ok", "channel": format!("/out/{uid}/{sid}")})).await;
    assert_eq!(next(&mut ws).await["type"], "subscribe_success");
    send(&mut ws, json!({"type": "subscribe", "id": "ok", "channel": format!("/out/{uid}/{sid}")})).await;
    assert_eq!(next(&mut ws).await["type"], "subscribe_error", "duplicate id");
    send(&mut ws, json!({"type": "mystery"})).await;
    assert_eq!(next(&mut ws).await["type"], "error");
    ws.send(Message::Text("not json".into())).await.unwrap();
    assert_eq!(next(&mut ws).await["type"], "error");
    // The connection survived every refusal.
    send(&mut ws, json!({"type": "connection_init"})).await;
    assert_eq!(next(&mut ws).await["type"], "connection_ack");
}

#[tokio::test]
async fn bad_or_missing_credentials_get_connection_error_and_no_subprotocol_is_refused() {
    let s = TestServer::start().await;
    let auth = b64(json!({"host": "x", "Authorization": "not-a-token"}).to_string().as_bytes());
    let (mut ws, _) = connect_with(&s, &format!("aws-appsync-event-ws, header-{auth}")).await;
    let e = next(&mut ws).await;
    assert_eq!(e["type"], "connection_error");
    assert_eq!(e["errors"][0]["errorType"], "UnauthorizedException");
    let (mut ws, _) = connect_with(&s, "aws-appsync-event-ws").await;
    assert_eq!(next(&mut ws).await["type"], "connection_error");
    let host = s.base.trim_start_matches("http://");
    let req = format!("ws://{host}/event/realtime").into_client_request().unwrap();
    assert!(tokio_tungstenite::connect_async(req).await.is_err(), "the subprotocol is required");
    s.get("/healthz", None).await.expect(200);
}

#[tokio::test]
async fn api_keys_connect_and_keys_without_chat_scope_do_not() {
    let s = TestServer::start().await;
    let uid = s.user("k@example.com", &[]).await;
    let t = s.token("k@example.com").await;
    let chat =
        s.post("/v1/me/api-keys", Some(&t), json!({"name": "c", "scopes": ["chat"]})).await.expect(201).body["key"]
            .as_str()
            .unwrap()
            .to_owned();
    let kb = s.post("/v1/me/api-keys", Some(&t), json!({"name": "k", "scopes": ["knowledge"]})).await.expect(201).body
        ["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let host = s.base.trim_start_matches("http://");
    let enc = |k: &str| b64(json!({"host": host, "x-api-key": k}).to_string().as_bytes());
    let (mut ws, _) = connect_with(&s, &format!("aws-appsync-event-ws, header-{}", enc(&kb))).await;
    assert_eq!(next(&mut ws).await["type"], "connection_error");
    let (mut ws, _) = connect_with(&s, &format!("aws-appsync-event-ws, header-{}", enc(&chat))).await;
    init(&mut ws).await;
    let sid = SessionId::new().to_string();
    send(&mut ws, json!({"type": "subscribe", "id": "a", "channel": format!("out/{uid}/{sid}")})).await;
    assert_eq!(next(&mut ws).await["type"], "subscribe_success", "a channel without the leading slash works too");
}

#[tokio::test]
async fn streams_a_model_reply_in_order_with_usage() {
    let up = rampart_testkit::fake_openai::FakeOpenAi::start(rampart_testkit::fake_openai::Knobs {
        reply: "alpha beta gamma delta".into(),
        token_delay: Duration::from_millis(5),
        fail_status: 503,
        ..Default::default()
    })
    .await;
    let s = TestServer::start_with(&[
        ("models", json!([{"id": "local", "provider": "openai", "base_url": up.base_url, "model": "llama3.1", "max_retries": 0}])),
        ("assistants", json!([{"id": "default", "kind": "model", "model": "local", "system_prompt": "Be brief."}])),
    ])
    .await;
    let uid = s.user("m@example.com", &[]).await;
    let t = s.token("m@example.com").await;
    let sid = SessionId::new().to_string();
    let mut ws = connect(&s, &t).await;
    init(&mut ws).await;
    send(&mut ws, json!({"type": "subscribe", "id": "o", "channel": format!("/out/{uid}/{sid}")})).await;
    next(&mut ws).await;
    for (n, question) in ["first question", "second question"].iter().enumerate() {
        send(&mut ws, publish_msg(&format!("p{n}"), &uid, &sid, question)).await;
        assert_eq!(next(&mut ws).await["type"], "publish_success");
        let mut seqs = Vec::new();
        let mut text = String::new();
        let end = loop {
            let ev: Value = serde_json::from_str(next(&mut ws).await["event"].as_str().unwrap()).unwrap();
            if ev["content"]["type"] == "end" {
                break ev;
            }
            seqs.push(ev["content"]["sequenceNumber"].as_u64().unwrap());
            text.push_str(ev["content"]["text"].as_str().unwrap());
        };
        assert_eq!(text, "alpha beta gamma delta");
        assert_eq!(seqs, vec![0, 1, 2, 3]);
        assert_eq!(end["content"]["modelId"], "llama3.1");
        assert_eq!(end["content"]["usage"], json!({"inputTokens": 7, "outputTokens": 4}));
    }
    // The second turn sent the history: system prompt, first exchange, second question.
    let body = &up.requests()[1].1;
    let roles: Vec<&str> = body["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, vec!["system", "user", "assistant", "user"]);
}

#[tokio::test]
async fn stop_cancels_a_generation_and_keeps_what_was_produced() {
    let words: Vec<String> = (0..40).map(|i| format!("w{i}")).collect();
    let up = rampart_testkit::fake_openai::FakeOpenAi::start(rampart_testkit::fake_openai::Knobs {
        reply: words.join(" "),
        token_delay: Duration::from_millis(100),
        fail_status: 503,
        ..Default::default()
    })
    .await;
    let s = TestServer::start_with(&[
        ("models", json!([{"id": "local", "provider": "openai", "base_url": up.base_url, "model": "llama3.1", "max_retries": 0}])),
        ("assistants", json!([{"id": "default", "kind": "model", "model": "local"}])),
    ])
    .await;
    let uid = s.user("stop@example.com", &[]).await;
    s.user("other@example.com", &[]).await;
    let t = s.token("stop@example.com").await;
    let other = s.token("other@example.com").await;
    let sid = SessionId::new().to_string();
    let mut ws = connect(&s, &t).await;
    init(&mut ws).await;
    send(&mut ws, json!({"type": "subscribe", "id": "o", "channel": format!("/out/{uid}/{sid}")})).await;
    next(&mut ws).await;
    send(&mut ws, publish_msg("p", &uid, &sid, "talk for a while")).await;
    assert_eq!(next(&mut ws).await["type"], "publish_success");
    let first: Value = serde_json::from_str(next(&mut ws).await["event"].as_str().unwrap()).unwrap();
    assert_eq!(first["content"]["type"], "textDelta");
    // Another user cannot stop it (the session is not theirs).
    s.post(&format!("/v1/sessions/{sid}/stop"), Some(&other), json!({})).await.expect_error(404, "not_found");
    assert_eq!(s.post(&format!("/v1/sessions/{sid}/stop"), Some(&t), json!({})).await.expect(200).body["stopped"], 1);
    let mut deltas = 1;
    let end = loop {
        let ev: Value = serde_json::from_str(next(&mut ws).await["event"].as_str().unwrap()).unwrap();
        if ev["content"]["type"] == "end" {
            break ev;
        }
        deltas += 1;
    };
    assert_eq!(end["content"]["stopped"], true);
    assert!(deltas < 40, "the stream stopped early ({deltas} deltas)");
    let d = s.get(&format!("/v1/sessions/{sid}"), Some(&t)).await.expect(200).body;
    let kept = d["history"][1]["content"].as_str().unwrap();
    assert!(kept.starts_with("w0 ") && kept.split_whitespace().count() == deltas, "kept the partial reply: {kept}");
    // Nothing running any more; an unknown session is not found.
    assert_eq!(s.post(&format!("/v1/sessions/{sid}/stop"), Some(&t), json!({})).await.expect(200).body["stopped"], 0);
    s.post(&format!("/v1/sessions/{}/stop", SessionId::new()), Some(&t), json!({}))
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn http_publish_runs_the_same_flow_with_the_same_rules() {
    let s = TestServer::start().await;
    let uid = s.user("h@example.com", &[]).await;
    let other = s.user("o@example.com", &[]).await;
    let t = s.token("h@example.com").await;
    let sid = SessionId::new().to_string();
    let mut ws = connect(&s, &t).await;
    init(&mut ws).await;
    send(&mut ws, json!({"type": "subscribe", "id": "o", "channel": format!("/out/{uid}/{sid}")})).await;
    next(&mut ws).await;
    let ev = json!({"payload": {"text": "over http", "sessionId": sid}}).to_string();
    let r = s
        .post("/event", Some(&t), json!({"channel": format!("/in/{uid}/{sid}"), "events": [ev]}))
        .await
        .expect(200)
        .body;
    assert_eq!(r["successful"][0]["index"], 0);
    assert_eq!(r["failed"], json!([]));
    let first: Value = serde_json::from_str(next(&mut ws).await["event"].as_str().unwrap()).unwrap();
    assert_eq!(first["content"]["type"], "textDelta");
    let bad = s
        .post("/event", Some(&t), json!({"channel": format!("/in/{other}/{sid}"), "events": ["{}"]}))
        .await
        .expect(403)
        .body;
    assert_eq!(bad["errors"][0]["errorType"], "UnauthorizedException");
    s.post("/event", Some(&t), json!({"channel": format!("/in/{uid}/{sid}"), "events": []})).await.expect(400);
    s.post("/event", None, json!({"channel": format!("/in/{uid}/{sid}"), "events": ["{}"]}))
        .await
        .expect_error(401, "unauthorized");
}

#[tokio::test]
async fn finished_replies_are_unregistered_and_too_many_at_once_are_refused() {
    // Twelve turns one after another never reach the cap of 8 concurrent replies.
    let s = TestServer::start().await;
    let uid = s.user("cap@example.com", &[]).await;
    let t = s.token("cap@example.com").await;
    let sid = SessionId::new().to_string();
    let mut ws = connect(&s, &t).await;
    init(&mut ws).await;
    send(&mut ws, json!({"type": "subscribe", "id": "o", "channel": format!("/out/{uid}/{sid}")})).await;
    next(&mut ws).await;
    for n in 0..12 {
        send(&mut ws, publish_msg(&format!("p{n}"), &uid, &sid, "again")).await;
        assert_eq!(next(&mut ws).await["type"], "publish_success", "turn {n}");
        loop {
            let ev: Value = serde_json::from_str(next(&mut ws).await["event"].as_str().unwrap()).unwrap();
            if ev["content"]["type"] == "end" {
                break;
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(s.state.runs.count_user(uid.parse().unwrap()), 0);

    // With a slow model, a ninth concurrent reply is refused.
    let up = rampart_testkit::fake_openai::FakeOpenAi::start(rampart_testkit::fake_openai::Knobs {
        reply: "slow ".repeat(50),
        token_delay: Duration::from_millis(100),
        fail_status: 503,
        ..Default::default()
    })
    .await;
    let s = TestServer::start_with(&[
        (
            "models",
            json!([{"id": "local", "provider": "openai", "base_url": up.base_url, "model": "m", "max_retries": 0}]),
        ),
        ("assistants", json!([{"id": "default", "kind": "model", "model": "local"}])),
    ])
    .await;
    let uid = s.user("cap@example.com", &[]).await;
    let t = s.token("cap@example.com").await;
    let mut ws = connect(&s, &t).await;
    init(&mut ws).await;
    let five = |sid: &str| -> Vec<String> {
        (0..5).map(|_| json!({"payload": {"text": "x", "sessionId": sid}}).to_string()).collect()
    };
    let (a, b) = (SessionId::new().to_string(), SessionId::new().to_string());
    send(&mut ws, json!({"type": "publish", "id": "a", "channel": format!("/in/{uid}/{a}"), "events": five(&a)})).await;
    assert_eq!(next(&mut ws).await["type"], "publish_success");
    send(&mut ws, json!({"type": "publish", "id": "b", "channel": format!("/in/{uid}/{b}"), "events": five(&b)})).await;
    let e = next(&mut ws).await;
    assert_eq!(
        (e["type"].as_str(), e["errors"][0]["errorType"].as_str()),
        (Some("publish_error"), Some("LimitExceededException"))
    );
    assert_eq!(s.post(&format!("/v1/sessions/{a}/stop"), Some(&t), json!({})).await.expect(200).body["stopped"], 5);
}

/// The connection's credential is checked again on every operation: after a logout, an open
/// connection can no longer subscribe or publish.
#[tokio::test]
async fn a_logout_ends_what_an_open_connection_may_do() {
    let s = TestServer::start().await;
    let uid = s.user("lo@example.com", &[]).await;
    let l = s.login("lo@example.com").await;
    let t = l["accessToken"].as_str().unwrap().to_owned();
    let sid = SessionId::new().to_string();
    let mut ws = connect(&s, &t).await;
    init(&mut ws).await;
    send(&mut ws, json!({"type": "subscribe", "id": "a", "channel": format!("/out/{uid}/{sid}")})).await;
    assert_eq!(next(&mut ws).await["type"], "subscribe_success");
    s.post("/v1/auth/logout", None, json!({"refreshToken": l["refreshToken"]})).await.expect(204);
    send(&mut ws, json!({"type": "subscribe", "id": "b", "channel": format!("/out/{uid}/{sid}")})).await;
    assert_eq!(next(&mut ws).await["errors"][0]["errorType"], "UnauthorizedException");
    send(&mut ws, publish_msg("p", &uid, &sid, "still here?")).await;
    assert_eq!(next(&mut ws).await["errors"][0]["errorType"], "UnauthorizedException");
}
