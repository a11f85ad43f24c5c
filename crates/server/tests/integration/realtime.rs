//! The AppSync Events WebSocket protocol with a real WebSocket client: the full chat flow and
//! every refusal.

use crate::common::*;
use futures::{SinkExt, StreamExt};
use rampart_core::SessionId;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect_with(s: &TestServer, protocols: &str) -> (Ws, reqwest::header::HeaderMap) {
    let host = s.base.trim_start_matches("http://");
    let mut req = format!("ws://{host}/event/realtime").into_client_request().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", protocols.parse().unwrap());
    let (ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    (ws, resp.headers().clone())
}

pub async fn connect(s: &TestServer, token: &str) -> Ws {
    let host = s.base.trim_start_matches("http://");
    let auth = b64(json!({"host": host, "Authorization": token}).to_string().as_bytes());
    let (ws, headers) = connect_with(s, &format!("aws-appsync-event-ws, header-{auth}")).await;
    assert_eq!(headers["sec-websocket-protocol"], "aws-appsync-event-ws");
    ws
}

/// The next frame that is not a keep-alive.
pub async fn next(ws: &mut Ws) -> Value {
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

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

pub async fn init(ws: &mut Ws) {
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
    assert_eq!(s.state.chat.runs().count_user(uid.parse().unwrap()), 0);

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

/// Every frame until the server ends the connection (close frame, EOF or error), within `within`.
async fn drain_until_closed(ws: &mut Ws, within: Duration) -> Vec<Value> {
    let mut frames = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await.expect("the server closed the connection in time") {
            Some(Ok(Message::Text(t))) => frames.push(serde_json::from_str(t.as_str()).unwrap()),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return frames,
            Some(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn connections_per_user_are_capped_and_freed_on_close() {
    let s = TestServer::start_with(&[("realtime.max_connections_per_user", json!(2))]).await;
    s.user("cc@example.com", &[]).await;
    s.user("dd@example.com", &[]).await;
    let t = s.token("cc@example.com").await;
    let mut a = connect(&s, &t).await;
    init(&mut a).await;
    let mut b = connect(&s, &t).await;
    init(&mut b).await;
    let mut c = connect(&s, &t).await;
    let e = next(&mut c).await;
    assert_eq!(
        (e["type"].as_str(), e["errors"][0]["errorType"].as_str()),
        (Some("connection_error"), Some("LimitExceededException"))
    );
    drain_until_closed(&mut c, Duration::from_secs(5)).await;
    // Another user is not affected.
    let other = s.token("dd@example.com").await;
    let mut d = connect(&s, &other).await;
    init(&mut d).await;
    // Closing one frees its slot.
    a.close(None).await.unwrap();
    drain_until_closed(&mut a, Duration::from_secs(5)).await;
    let mut freed = None;
    for _ in 0..50 {
        let mut c = connect(&s, &t).await;
        send(&mut c, json!({"type": "connection_init"})).await;
        if next(&mut c).await["type"] == "connection_ack" {
            freed = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(freed.is_some(), "a slot is free again after a close");
}

#[tokio::test]
async fn publishing_faster_than_the_rate_is_refused_over_websocket_and_http() {
    let s = TestServer::start_with(&[("realtime.publish_rate", json!(1)), ("realtime.publish_burst", json!(2))]).await;
    let uid = s.user("rate@example.com", &[]).await;
    let t = s.token("rate@example.com").await;
    let sid = SessionId::new().to_string();
    let mut ws = connect(&s, &t).await;
    init(&mut ws).await;
    for n in 0..2 {
        send(&mut ws, publish_msg(&format!("p{n}"), &uid, &sid, "hi")).await;
        assert_eq!(next(&mut ws).await["type"], "publish_success");
    }
    send(&mut ws, publish_msg("p2", &uid, &sid, "hi")).await;
    let e = next(&mut ws).await;
    assert_eq!(
        (e["type"].as_str(), e["errors"][0]["errorType"].as_str()),
        (Some("publish_error"), Some("TooManyRequestsException"))
    );
    let ev = json!({"payload": {"text": "over http", "sessionId": sid}}).to_string();
    let r = s.post("/event", Some(&t), json!({"channel": format!("/in/{uid}/{sid}"), "events": [ev]})).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(r.body["errors"][0]["errorType"], "TooManyRequestsException");
    // The bucket refills.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    send(&mut ws, publish_msg("p3", &uid, &sid, "hi")).await;
    loop {
        let f = next(&mut ws).await;
        if f["type"] != "data" {
            assert_eq!(f["type"], "publish_success");
            break;
        }
    }
}

#[tokio::test]
async fn a_silent_client_is_closed_after_the_idle_timeout_and_a_reading_one_is_kept() {
    let s = TestServer::start_with(&[
        ("realtime.keepalive_interval", json!("100ms")),
        ("realtime.idle_timeout", json!("400ms")),
    ])
    .await;
    let uid: rampart_core::UserId = s.user("idle@example.com", &[]).await.parse().unwrap();
    let t = s.token("idle@example.com").await;
    // The ack announces the timeout.
    let mut reading = connect(&s, &t).await;
    send(&mut reading, json!({"type": "connection_init"})).await;
    assert_eq!(next(&mut reading).await["connectionTimeoutMs"], 400);
    // A client that neither sends nor reads (so never answers a ping) is closed.
    let mut silent = connect(&s, &t).await;
    send(&mut silent, json!({"type": "connection_init"})).await;
    let started = std::time::Instant::now();
    // Meanwhile the reading client answers pings (tungstenite does so while reading) and sees `ka`s.
    let mut kas = 0;
    while started.elapsed() < Duration::from_millis(1200) {
        match tokio::time::timeout(Duration::from_millis(300), reading.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.as_str().contains("\"ka\"") => kas += 1,
            Ok(Some(Ok(Message::Close(_)) | Err(_))) | Ok(None) => panic!("a reading client was closed"),
            _ => {}
        }
    }
    assert!(kas >= 5, "keep-alives every 100 ms ({kas})");
    // The server has let go of the silent connection (its closing frames may not all reach a
    // client that never reads), and kept the reading one.
    assert_eq!(s.state.realtime_limits.connections(uid), 1);
    let frames = drain_until_closed(&mut silent, Duration::from_secs(2)).await;
    assert!(frames.iter().all(|f| f["type"] != "data"), "{frames:?}");
    // The reading client is still served.
    send(&mut reading, json!({"type": "connection_init"})).await;
    assert_eq!(next(&mut reading).await["type"], "connection_ack");
}

#[tokio::test]
async fn a_slow_consumer_is_disconnected_and_the_server_keeps_serving() {
    // About 20 MB of deltas, more than the socket buffers hold, so a client that does not read
    // makes the server's outbox (16 frames here) overflow.
    let token = "x".repeat(20_000);
    let reply = vec![token.as_str(); 1_000].join(" ");
    let up = rampart_testkit::fake_openai::FakeOpenAi::start(rampart_testkit::fake_openai::Knobs {
        reply,
        fail_status: 503,
        ..Default::default()
    })
    .await;
    let s = TestServer::start_with(&[
        ("realtime.outbox_frames", json!(16)),
        (
            "models",
            json!([{"id": "local", "provider": "openai", "base_url": up.base_url, "model": "m", "max_retries": 0}]),
        ),
        ("assistants", json!([{"id": "default", "kind": "model", "model": "local"}])),
    ])
    .await;
    let uid = s.user("slow@example.com", &[]).await;
    let user: rampart_core::UserId = uid.parse().unwrap();
    let t = s.token("slow@example.com").await;
    let sid = SessionId::new().to_string();
    let mut ws = connect(&s, &t).await;
    init(&mut ws).await;
    send(&mut ws, json!({"type": "subscribe", "id": "o", "channel": format!("/out/{uid}/{sid}")})).await;
    next(&mut ws).await;
    send(&mut ws, publish_msg("p", &uid, &sid, "flood me")).await;
    // Do not read until the server has dropped the connection.
    let mut dropped = false;
    for _ in 0..300 {
        if s.state.realtime_limits.connections(user) == 0 {
            dropped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(dropped, "the server disconnected the client that does not read");
    let frames = drain_until_closed(&mut ws, Duration::from_secs(20)).await;
    let deltas = frames.iter().filter(|f| f["type"] == "data").count();
    assert!(deltas < 1_000, "the connection was cut off ({deltas} deltas delivered)");
    assert!(
        !frames.iter().any(|f| f["type"] == "data" && f["event"].as_str().unwrap().contains("\"end\"")),
        "the slow client did not get the whole reply"
    );
    // The server keeps serving, and the user can read the reply from the session later.
    let mut again = connect(&s, &t).await;
    init(&mut again).await;
    let mut stored = 0;
    for _ in 0..100 {
        let d = s.get(&format!("/v1/sessions/{sid}"), Some(&t)).await.expect(200).body;
        stored = d["history"].as_array().unwrap().len();
        if stored == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stored, 2, "the generation finished and was stored although its subscriber was dropped");
}

#[tokio::test]
async fn the_client_picks_an_assistant_and_the_session_keeps_it() {
    let up = rampart_testkit::fake_openai::FakeOpenAi::start(rampart_testkit::fake_openai::Knobs {
        reply: "from the model".into(),
        fail_status: 503,
        ..Default::default()
    })
    .await;
    let s = TestServer::start_with(&[
        ("models", json!([{"id": "local", "provider": "openai", "base_url": up.base_url, "model": "llama3.1", "max_retries": 0}])),
        (
            "assistants",
            json!([{"id": "default", "kind": "extractive"}, {"id": "writer", "kind": "model", "model": "local"},
                   {"id": "secret", "kind": "model", "model": "local", "groups": ["finance"]}]),
        ),
    ])
    .await;
    let uid = s.user("pick@example.com", &[]).await;
    let t = s.token("pick@example.com").await;
    let sid = SessionId::new().to_string();
    let mut ws = connect(&s, &t).await;
    init(&mut ws).await;
    send(&mut ws, json!({"type": "subscribe", "id": "o", "channel": format!("/out/{uid}/{sid}")})).await;
    next(&mut ws).await;
    let publish = |id: &str, assistant: Option<&str>| {
        let mut payload = json!({"text": "hello", "sessionId": sid});
        if let Some(a) = assistant {
            payload["assistantId"] = json!(a);
        }
        json!({"type": "publish", "id": id, "channel": format!("/in/{uid}/{sid}"),
               "events": [json!({"payload": payload}).to_string()]})
    };
    // An assistant of a group the user is not in, or none at all, is refused.
    for (n, bad) in ["secret", "nope"].iter().enumerate() {
        send(&mut ws, publish(&format!("bad{n}"), Some(bad))).await;
        let e = next(&mut ws).await;
        assert_eq!(
            (e["type"].as_str(), e["errors"][0]["errorType"].as_str()),
            (Some("publish_error"), Some("BadRequestException"))
        );
    }
    send(&mut ws, publish("p1", Some("writer"))).await;
    assert_eq!(end_model(&mut ws).await, "llama3.1");
    // The next turn without an assistantId stays with the session's assistant, not `default`.
    send(&mut ws, publish("p2", None)).await;
    assert_eq!(end_model(&mut ws).await, "llama3.1");
    // A new session without one gets `default`.
    let sid2 = SessionId::new().to_string();
    send(&mut ws, json!({"type": "subscribe", "id": "o2", "channel": format!("/out/{uid}/{sid2}")})).await;
    next(&mut ws).await;
    send(&mut ws, publish_msg("p3", &uid, &sid2, "hello")).await;
    assert_eq!(end_model(&mut ws).await, "rampart-extractive");
}

/// The `modelId` of the next `end` event.
async fn end_model(ws: &mut Ws) -> String {
    loop {
        let f = next(ws).await;
        if f["type"] != "data" {
            continue;
        }
        let ev: Value = serde_json::from_str(f["event"].as_str().unwrap()).unwrap();
        if ev["content"]["type"] == "end" {
            return ev["content"]["modelId"].as_str().unwrap().to_owned();
        }
    }
}
