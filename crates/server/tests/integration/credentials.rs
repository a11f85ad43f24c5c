//! One credential per request, on every surface that reads one: REST, `POST /event`, the
//! realtime WebSocket (upgrade and per-operation auth objects), the meetings audio socket and
//! `/mcp`. My API key with someone else's bearer token (or with my own) is 400
//! `ambiguous_credentials`, and nothing is served as either of us.

use crate::common::*;
use crate::realtime::{Ws, connect, init, next, send};
use rampart_core::SessionId;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Ana (with an API key of every scope) and Bo (with a session token).
struct Two {
    s: TestServer,
    ana_id: String,
    ana_key: String,
    ana_token: String,
    bo_token: String,
}

async fn two() -> Two {
    let s = TestServer::start().await;
    let ana_id = s.user("ana@example.com", &[]).await;
    s.user("bo@example.com", &[]).await;
    let ana_token = s.token("ana@example.com").await;
    let scopes = json!(["chat", "knowledge", "meetings", "mcp"]);
    let k = s.post("/v1/me/api-keys", Some(&ana_token), json!({"name": "k", "scopes": scopes})).await.expect(201);
    let ana_key = k.body["key"].as_str().unwrap().to_owned();
    let bo_token = s.token("bo@example.com").await;
    Two { s, ana_id, ana_key, ana_token, bo_token }
}

/// A request with `headers` as given (any number of credentials).
async fn raw(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Resp {
    let mut r = s.http.request(method, format!("{}{path}", s.base));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    Resp::read(r.send().await.unwrap()).await
}

async fn key_count(s: &TestServer, token: &str) -> usize {
    s.get("/v1/me/api-keys", Some(token)).await.expect(200).body["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn rest_refuses_an_api_key_with_a_bearer_token_whoever_they_name() {
    let w = two().await;
    let s = &w.s;
    let (key, bo) = (("x-api-key", w.ana_key.as_str()), format!("Bearer {}", w.bo_token));
    let mine = format!("Bearer {}", w.ana_token);
    // Each alone names its own user.
    let me = raw(s, reqwest::Method::GET, "/v1/me", &[key], None).await.expect(200);
    assert_eq!(me.body["sub"], w.ana_id.as_str());
    // My key with Bo's token, and with my own token: refused, for a read and for a write.
    for bearer in [&bo, &mine] {
        let both = [key, ("authorization", bearer.as_str())];
        let r = raw(s, reqwest::Method::GET, "/v1/me", &both, None).await.expect_error(400, "ambiguous_credentials");
        assert!(r.body.get("sub").is_none(), "nothing of either user: {}", r.body);
        let made = raw(s, reqwest::Method::POST, "/v1/me/api-keys", &both, Some(json!({"name": "sneaky"}))).await;
        made.expect_error(400, "ambiguous_credentials");
    }
    // Nothing was stored for either of them.
    assert_eq!(key_count(s, &w.ana_token).await, 1);
    assert_eq!(key_count(s, &w.bo_token).await, 0);
    // Bo's token as a bare `Authorization` value (as AppSync clients send it) counts too.
    let bare = [key, ("authorization", w.bo_token.as_str())];
    raw(s, reqwest::Method::GET, "/v1/me", &bare, None).await.expect_error(400, "ambiguous_credentials");
    // Either header twice is two credentials as well.
    let twice = [("authorization", mine.as_str()), ("authorization", bo.as_str())];
    raw(s, reqwest::Method::GET, "/v1/me", &twice, None).await.expect_error(400, "ambiguous_credentials");
    // A proxy's `Authorization: Basic` is not a credential here: the key alone names the caller.
    let basic = [key, ("authorization", "Basic cHJveHk6cHc=")];
    let me = raw(s, reqwest::Method::GET, "/v1/me", &basic, None).await.expect(200);
    assert_eq!(me.body["sub"], w.ana_id.as_str());
    // A route that also serves anonymous callers (`MaybeUser`) refuses the pair too.
    let pair = [key, ("authorization", bo.as_str())];
    let r = raw(s, reqwest::Method::POST, "/oauth2/authorize", &pair, Some(json!({}))).await;
    r.expect_error(400, "ambiguous_credentials");
}

#[tokio::test]
async fn http_publish_refuses_two_credentials_and_starts_nothing() {
    let w = two().await;
    let s = &w.s;
    let sid = SessionId::new().to_string();
    let ev = json!({"payload": {"text": "as whom?", "sessionId": sid}}).to_string();
    let body = json!({"channel": format!("/in/{}/{sid}", w.ana_id), "events": [ev]});
    let bo = format!("Bearer {}", w.bo_token);
    let both = [("x-api-key", w.ana_key.as_str()), ("authorization", bo.as_str())];
    raw(s, reqwest::Method::POST, "/event", &both, Some(body)).await.expect_error(400, "ambiguous_credentials");
    let sessions = s.get("/v1/sessions", Some(&w.ana_token)).await.expect(200);
    assert_eq!(sessions.body["items"], json!([]), "no chat turn ran");
}

/// A realtime upgrade with `headers` and the subprotocols `protocols`: the socket, or the
/// refusal's status and body.
async fn realtime_upgrade(
    s: &TestServer,
    protocols: &str,
    headers: &[(&'static str, &str)],
) -> Result<Ws, (u16, Value)> {
    let host = s.base.trim_start_matches("http://");
    let mut req = format!("ws://{host}/event/realtime").into_client_request().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", protocols.parse().unwrap());
    for (k, v) in headers {
        req.headers_mut().append(*k, v.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            let body = r.body().as_deref().map(|b| serde_json::from_slice(b).unwrap()).unwrap_or(Value::Null);
            Err((r.status().as_u16(), body))
        }
        Err(e) => panic!("{e}"),
    }
}

#[track_caller]
fn assert_ambiguous(r: Result<Ws, (u16, Value)>) {
    match r {
        Ok(_) => panic!("the upgrade was accepted"),
        Err((status, body)) => {
            assert_eq!(status, 400, "{body}");
            assert_eq!(body["code"], "ambiguous_credentials", "{body}");
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        }
    }
}

#[tokio::test]
async fn the_realtime_socket_refuses_two_credentials_at_the_upgrade_and_per_operation() {
    let w = two().await;
    let s = &w.s;
    let host = s.base.trim_start_matches("http://");
    let object = |v: Value| format!("aws-appsync-event-ws, header-{}", b64(v.to_string().as_bytes()));
    let bo = format!("Bearer {}", w.bo_token);
    // Both in the request's headers.
    let both = [("x-api-key", w.ana_key.as_str()), ("authorization", bo.as_str())];
    assert_ambiguous(realtime_upgrade(s, "aws-appsync-event-ws", &both).await);
    // Both in the subprotocol's auth object.
    let obj = object(json!({"host": host, "x-api-key": w.ana_key, "Authorization": w.bo_token}));
    assert_ambiguous(realtime_upgrade(s, &obj, &[]).await);
    // One in the auth object, another in the headers.
    let obj = object(json!({"host": host, "Authorization": w.bo_token}));
    assert_ambiguous(realtime_upgrade(s, &obj, &[("x-api-key", &w.ana_key)]).await);
    // Each alone still connects.
    let obj = object(json!({"host": host, "x-api-key": w.ana_key}));
    assert!(realtime_upgrade(s, &obj, &[]).await.is_ok());
    assert!(realtime_upgrade(s, "aws-appsync-event-ws", &[("authorization", &bo)]).await.is_ok());

    // An operation's own `authorization` object with two credentials: refused, not subscribed.
    let mut ws = connect(s, &w.bo_token).await;
    init(&mut ws).await;
    let sid = SessionId::new().to_string();
    let channel = format!("/out/{}/{sid}", w.ana_id);
    let auth = json!({"x-api-key": w.ana_key, "Authorization": w.bo_token});
    send(&mut ws, json!({"type": "subscribe", "id": "s1", "channel": channel, "authorization": auth})).await;
    let f = next(&mut ws).await;
    assert_eq!(f["type"], "subscribe_error", "{f}");
    assert_eq!(f["errors"][0]["errorType"], "BadRequestException", "{f}");
    assert!(f["errors"][0]["message"].as_str().unwrap().contains("ambiguous_credentials"), "{f}");
    let ev = json!({"payload": {"text": "as whom?", "sessionId": sid}}).to_string();
    let publish = json!({"type": "publish", "id": "p1", "channel": format!("/in/{}/{sid}", w.ana_id),
                         "events": [ev], "authorization": auth});
    send(&mut ws, publish).await;
    let f = next(&mut ws).await;
    assert_eq!(f["type"], "publish_error", "{f}");
    assert!(f["errors"][0]["message"].as_str().unwrap().contains("ambiguous_credentials"), "{f}");
    let sessions = s.get("/v1/sessions", Some(&w.ana_token)).await.expect(200);
    assert_eq!(sessions.body["items"], json!([]), "no chat turn ran");
}

#[tokio::test]
async fn the_meetings_audio_socket_refuses_two_credentials() {
    let w = two().await;
    let s = &w.s;
    let host = s.base.trim_start_matches("http://");
    let open = |query: String, headers: Vec<(&'static str, String)>| async move {
        let mut req = format!("ws://{host}/api/v1/ws{query}").into_client_request().unwrap();
        for (k, v) in headers {
            req.headers_mut().append(k, v.parse().unwrap());
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok(_) => Ok(()),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                let body: Value = serde_json::from_slice(r.body().as_deref().unwrap_or(b"null")).unwrap();
                Err((r.status().as_u16(), body["code"].as_str().unwrap_or("").to_owned()))
            }
            Err(e) => panic!("{e}"),
        }
    };
    let ambiguous = Err((400, "ambiguous_credentials".to_owned()));
    let bo = format!("Bearer {}", w.bo_token);
    let query = format!("?authorization=Bearer%20{}", w.bo_token);
    assert_eq!(
        open(String::new(), vec![("x-api-key", w.ana_key.clone()), ("authorization", bo.clone())]).await,
        ambiguous
    );
    assert_eq!(open(query.clone(), vec![("x-api-key", w.ana_key.clone())]).await, ambiguous);
    assert_eq!(open("?ticket=anything".into(), vec![("x-api-key", w.ana_key.clone())]).await, ambiguous);
    assert_eq!(open(String::new(), vec![("x-api-key", w.ana_key.clone())]).await, Ok(()));
    assert_eq!(open(query, vec![]).await, Ok(()));
}

#[tokio::test]
async fn mcp_refuses_two_credentials_before_any_tool_runs() {
    let w = two().await;
    let s = &w.s;
    let bo = format!("Bearer {}", w.bo_token);
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_meetings","arguments":{}}}"#;
    let mcp = |headers: Vec<(&'static str, String)>| {
        let mut r = s
            .http
            .post(format!("{}/mcp", s.base))
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-protocol-version", "2025-06-18")
            .body(list);
        for (k, v) in headers {
            r = r.header(k, v);
        }
        async move { Resp::read(r.send().await.unwrap()).await }
    };
    let r = mcp(vec![("x-api-key", w.ana_key.clone()), ("authorization", bo.clone())]).await;
    let r = r.expect_error(400, "ambiguous_credentials");
    assert!(r.body.get("result").is_none(), "{}", r.body);
    let r = mcp(vec![("x-api-key", w.ana_key.clone()), ("authorization", format!("Bearer {}", w.ana_token))]).await;
    r.expect_error(400, "ambiguous_credentials");
    // The key alone is served.
    mcp(vec![("x-api-key", w.ana_key.clone())]).await.expect(200);
}
