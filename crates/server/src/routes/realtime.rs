//! `/event/realtime`: the AppSync Events WebSocket protocol (docs/realtime-protocol.md) with
//! GAIA's chat channels. Publishing `{"payload": {"text", "sessionId"}}` to
//! `/in/{userId}/{sessionId}` stores the message, runs the assistant, and streams `textDelta`
//! events and a final `end` to `/out/{userId}/{sessionId}`.
//!
//! Authorization: the connection's credential (the `header-…` subprotocol, or plain request
//! headers) and each operation's `authorization` object go through `Identity::authenticate`,
//! like every other route. Users publish to and subscribe on their own channels only; `/in`
//! cannot be subscribed to. Each connection has a bounded outbox; a slow consumer is closed.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use rampart_core::llm::ChatEvent;
use rampart_core::{ErrorCode, Principal, Scope, SessionId};
use rampart_identity::authorize::Credential;
use rampart_realtime::frames;
use rampart_realtime::{Channel, ChannelKind, Outbox, SUBPROTOCOL};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Largest frame accepted (AppSync: 240 KB per event; 5 events per publish).
const MAX_FRAME: usize = 1024 * 1024;
const MAX_EVENT: usize = 240 * 1024;
const HISTORY: u32 = 50;

/// The WebSocket upgrade. The `aws-appsync-event-ws` subprotocol is required.
pub async fn upgrade(State(s): State<AppState>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    // Browsers send Origin on WebSocket handshakes and do not apply CORS to them: a page on
    // another site could otherwise open a connection with the user's credentials.
    if let Some(origin) = headers.get(axum::http::header::ORIGIN)
        && !s.origin_allowed(origin.to_str().unwrap_or(""))
    {
        tracing::info!(rule = "websocket-origin", "websocket handshake refused");
        s.edge_metrics.count("websocket-origin", true);
        return ApiError::code(ErrorCode::CorsRejected).into_response();
    }
    let offered: Vec<String> = headers
        .get_all(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|p| p.trim().to_owned()))
        .collect();
    if !offered.iter().any(|p| p == SUBPROTOCOL) {
        return ApiError::new(ErrorCode::InvalidRequest, "offer the aws-appsync-event-ws subprotocol").into_response();
    }
    let from_subprotocol = offered
        .iter()
        .find_map(|p| rampart_realtime::decode_auth_subprotocol(p))
        .and_then(|pairs| rampart_realtime::credential_of(&pairs));
    let from_headers = || {
        ["x-api-key", "authorization"]
            .iter()
            .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()).map(|v| (*h, v.to_owned())))
    };
    let cred = from_subprotocol.or_else(from_headers);
    // Small buffers: tungstenite's defaults (128 KiB each way) cost ~135 MiB per 1,000 idle
    // connections (bench/RESULTS.md); frames are small, and larger ones still work.
    ws.protocols([SUBPROTOCOL])
        .max_message_size(MAX_FRAME)
        .read_buffer_size(4096)
        .write_buffer_size(4096)
        .on_upgrade(move |sock| connection(s, sock, cred))
}

async fn authenticate(s: &AppState, cred: Option<(&'static str, String)>) -> Option<Principal> {
    let (kind, value) = cred?;
    let value = value.trim();
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).unwrap_or(value);
    let c = if kind == "x-api-key" { Credential::ApiKey(token) } else { Credential::Bearer(token) };
    s.identity.authenticate(c).await.ok().filter(|p| p.has_scope(Scope::Chat))
}

async fn connection(s: AppState, mut sock: WebSocket, cred: Option<(&'static str, String)>) {
    // Accept, say why, close: clients cannot read an HTTP refusal of an upgrade.
    let Some(p) = authenticate(&s, cred.clone()).await else {
        let _ = sock
            .send(Message::Text(
                frames::connection_error("UnauthorizedException", "You are not authorized to make this call.").into(),
            ))
            .await;
        let _ = sock.close().await;
        return;
    };
    let Some(slot) = s.realtime_limits.open(p.user_id) else {
        tracing::info!(user = %p.user_id, "realtime: too many connections");
        let _ = sock
            .send(Message::Text(
                frames::connection_error("LimitExceededException", "Too many open connections for this user.").into(),
            ))
            .await;
        let _ = sock.close().await;
        return;
    };
    drop(p);
    let rt = &s.config.realtime;
    let conn = s.hub.connection_id();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(rt.outbox_frames);
    let (kill, mut killed) = tokio::sync::watch::channel(false);
    let outbox = Outbox { tx, kill };
    let (mut sink, mut stream) = sock.split();
    let mut ka = tokio::time::interval(rt.keepalive_interval.0);
    ka.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ka.tick().await;
    let idle_timeout = rt.idle_timeout.0;
    let mut last_seen = Instant::now();
    // Subscription id → channel key.
    let mut subs: HashMap<String, String> = HashMap::new();
    let why = loop {
        let out: Vec<Message> = tokio::select! {
            msg = stream.next() => {
                last_seen = Instant::now();
                match msg {
                    Some(Ok(Message::Text(t))) => handle(&s, &cred, conn, &outbox, &mut subs, t.as_str()).await.into_iter().map(|f| Message::Text(f.into())).collect(),
                    Some(Ok(Message::Binary(_))) => vec![Message::Text(frames::op_error("error", None, "BadRequestException", "frames must be JSON text").into())],
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break None,
                    Some(Ok(_)) => Vec::new(),
                }
            },
            Some(frame) = rx.recv() => vec![Message::Text(frame.into())],
            _ = ka.tick() => {
                if last_seen.elapsed() >= idle_timeout {
                    break Some(("ConnectionTimeoutException", "Nothing was received from the client for too long."));
                }
                vec![Message::Text(frames::ka().into()), Message::Ping(Default::default())]
            },
            _ = killed.changed() => break Some(("SlowConsumerException", "The client is not reading its messages fast enough.")),
        };
        let mut broken = false;
        for m in out {
            // A client that stops reading blocks the write; the outbox filling up (the hub
            // sets `killed`) or the idle timeout ends the wait.
            let sent = tokio::select! {
                r = sink.send(m) => r.is_ok(),
                _ = killed.changed() => false,
                () = tokio::time::sleep(idle_timeout) => false,
            };
            if !sent {
                broken = true;
                break;
            }
        }
        if broken {
            break (*killed.borrow())
                .then_some(("SlowConsumerException", "The client is not reading its messages fast enough."));
        }
    };
    s.hub.drop_connection(conn, subs.values().map(String::as_str));
    drop(slot);
    if let Some((kind, message)) = why {
        tracing::info!(conn, reason = kind, "realtime: closing a connection");
        // Best effort: a client that is not reading will not see it.
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            sink.send(Message::Text(frames::op_error("error", None, kind, message).into())),
        )
        .await;
    }
    // The closing handshake: wait briefly for the client's close, so that what was sent is read
    // before the socket goes (closing at once can reset the connection and lose the last frames).
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = sink.close().await;
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
}

fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+'))
}

/// The connection's credential, as presented at connect time.
type ConnCred = Option<(&'static str, String)>;

/// The principal for one operation: its own `authorization` if present, else the connection's
/// credential, resolved again each time (through the authentication cache), so a logout, a
/// disabled account or an expired token also ends what an open connection may do.
async fn op_principal(s: &AppState, conn_cred: &ConnCred, msg: &Value) -> Option<Principal> {
    match msg.get("authorization").and_then(rampart_realtime::credential_of_json) {
        Some(c) => authenticate(s, Some(c)).await,
        None => authenticate(s, conn_cred.clone()).await,
    }
}

/// Checks a channel for an operation; the error is `(errorType, message)`.
fn own_channel(p: &Principal, raw: &str, want: ChannelKind) -> Result<Channel, (&'static str, &'static str)> {
    let c = Channel::parse(raw).map_err(|e| match e {
        rampart_realtime::channel::ChannelError::Malformed => ("BadRequestException", "Invalid Channel Format"),
        rampart_realtime::channel::ChannelError::Unknown => {
            ("UnauthorizedException", "You are not authorized to use this channel.")
        }
    })?;
    if c.kind != want || c.user != p.user_id {
        return Err(("UnauthorizedException", "You are not authorized to use this channel."));
    }
    Ok(c)
}

async fn handle(
    s: &AppState,
    conn_cred: &ConnCred,
    conn: u64,
    outbox: &Outbox,
    subs: &mut HashMap<String, String>,
    text: &str,
) -> Vec<String> {
    let Ok(msg) = serde_json::from_str::<Value>(text) else {
        return vec![frames::op_error("error", None, "BadRequestException", "frames must be JSON")];
    };
    let id = msg["id"].as_str().unwrap_or("").to_owned();
    match msg["type"].as_str().unwrap_or("") {
        "connection_init" => {
            let ms = u64::try_from(s.config.realtime.idle_timeout.0.as_millis()).unwrap_or(u64::MAX);
            vec![frames::connection_ack(ms), frames::ka()]
        }
        "subscribe" => {
            if !valid_id(&id) || subs.contains_key(&id) {
                return vec![frames::op_error(
                    "subscribe_error",
                    Some(&id),
                    "BadRequestException",
                    "The id is invalid or already used on this connection.",
                )];
            }
            if subs.len() >= s.config.realtime.max_subscriptions {
                return vec![frames::op_error(
                    "subscribe_error",
                    Some(&id),
                    "BadRequestException",
                    "Too many subscriptions on this connection.",
                )];
            }
            let Some(p) = op_principal(s, conn_cred, &msg).await else {
                return vec![frames::op_error(
                    "subscribe_error",
                    Some(&id),
                    "UnauthorizedException",
                    "You are not authorized to make this call.",
                )];
            };
            match own_channel(&p, msg["channel"].as_str().unwrap_or(""), ChannelKind::Out) {
                Ok(c) => {
                    let key = c.key();
                    s.hub.subscribe(&key, conn, &id, outbox.clone());
                    subs.insert(id.clone(), key);
                    vec![frames::ok("subscribe_success", &id)]
                }
                Err((t, m)) => vec![frames::op_error("subscribe_error", Some(&id), t, m)],
            }
        }
        "unsubscribe" => {
            if subs.remove(&id).is_some_and(|key| s.hub.unsubscribe(&key, conn, &id)) {
                vec![frames::ok("unsubscribe_success", &id)]
            } else {
                vec![frames::op_error(
                    "unsubscribe_error",
                    Some(&id),
                    "UnknownOperationError",
                    &format!("Unknown operation id {}", id.chars().take(128).collect::<String>()),
                )]
            }
        }
        "publish" => publish(s, conn_cred, &msg, &id).await,
        _ => vec![frames::op_error(
            "error",
            (!id.is_empty()).then_some(id.as_str()),
            "UnsupportedOperation",
            "Unknown message type.",
        )],
    }
}

async fn publish(s: &AppState, conn_cred: &ConnCred, msg: &Value, id: &str) -> Vec<String> {
    if !valid_id(id) {
        return vec![frames::op_error("publish_error", Some(id), "BadRequestException", "The id is invalid.")];
    }
    let Some(p) = op_principal(s, conn_cred, msg).await else {
        return vec![frames::op_error(
            "publish_error",
            Some(id),
            "UnauthorizedException",
            "You are not authorized to make this call.",
        )];
    };
    match accept_publish(s, &p, msg) {
        Ok(n) => vec![frames::publish_success(id, n)],
        Err((t, m)) => vec![frames::op_error("publish_error", Some(id), t, m)],
    }
}

/// Validates a publish (`channel`, `events`) by `p` and starts one chat turn per event.
/// Returns how many events were accepted, or `(errorType, message)`.
fn accept_publish(s: &AppState, p: &Principal, msg: &Value) -> Result<usize, (&'static str, &'static str)> {
    let c = own_channel(p, msg["channel"].as_str().unwrap_or(""), ChannelKind::In)?;
    if !s.realtime_limits.publish(p.user_id) {
        return Err(("TooManyRequestsException", "Too many publishes; slow down."));
    }
    let events = msg["events"]
        .as_array()
        .filter(|e| (1..=5).contains(&e.len()))
        .ok_or(("BadRequestException", "events must hold 1 to 5 stringified JSON values."))?;
    let mut texts = Vec::new();
    for e in events {
        let v = e
            .as_str()
            .filter(|s| s.len() <= MAX_EVENT)
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
            .ok_or(("BadRequestException", "Each event must be a stringified JSON value of at most 240 KB."))?;
        let text = v["payload"]["text"].as_str().filter(|t| !t.trim().is_empty());
        let sid_ok = v["payload"]["sessionId"].as_str().and_then(SessionId::parse) == Some(c.session);
        let assistant = match &v["payload"]["assistantId"] {
            Value::Null => None,
            Value::String(id) if s.assistants.get_for(id, p).is_some() => Some(id.clone()),
            _ => return Err(("BadRequestException", "assistantId names no assistant you may use.")),
        };
        match text {
            Some(t) if sid_ok => texts.push((t.to_owned(), assistant)),
            _ => {
                return Err((
                    "BadRequestException",
                    "Each event must be {\"payload\": {\"text\", \"sessionId\"}} with the channel's session id.",
                ));
            }
        }
    }
    if s.runs.count_user(p.user_id) + texts.len() > s.config.realtime.max_replies_per_user {
        return Err(("LimitExceededException", "Too many replies in progress; wait for one to finish or stop it."));
    }
    for (t, assistant) in texts {
        // Registered here, before the task starts, so the cap and `stop` see it at once.
        let handle = s.runs.start(p.user_id, c.session);
        tokio::spawn(run(s.clone(), p.clone(), c.session, t, assistant, handle));
    }
    Ok(events.len())
}

/// `POST /event`: publish over HTTP (AppSync's HTTP endpoint), same rules as over the WebSocket.
/// Answers `{successful, failed}`, or `{errors: [{errorType, message}]}` with a 4xx.
pub async fn http_publish(
    State(s): State<AppState>,
    crate::extract::AuthUser(p): crate::extract::AuthUser,
    body: axum::body::Bytes,
) -> Response {
    let refuse = |status: axum::http::StatusCode, t: &str, m: &str| {
        (status, axum::Json(json!({"errors": [{"errorType": t, "message": m}]}))).into_response()
    };
    if !p.has_scope(Scope::Chat) {
        return refuse(
            axum::http::StatusCode::FORBIDDEN,
            "UnauthorizedException",
            "You are not authorized to make this call.",
        );
    }
    let Ok(msg) = serde_json::from_slice::<Value>(&body) else {
        return refuse(
            axum::http::StatusCode::BAD_REQUEST,
            "BadRequestException",
            "The body must be JSON {channel, events}.",
        );
    };
    match accept_publish(&s, &p, &msg) {
        Ok(n) => {
            let successful: Vec<Value> =
                (0..n).map(|i| json!({"identifier": uuid::Uuid::now_v7().to_string(), "index": i})).collect();
            axum::Json(json!({"successful": successful, "failed": []})).into_response()
        }
        Err((t @ "UnauthorizedException", m)) => refuse(axum::http::StatusCode::FORBIDDEN, t, m),
        Err((t @ "TooManyRequestsException", m)) => {
            let mut r = refuse(axum::http::StatusCode::TOO_MANY_REQUESTS, t, m);
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
            r
        }
        Err((t, m)) => refuse(axum::http::StatusCode::BAD_REQUEST, t, m),
    }
}

fn event(content: Value) -> Value {
    json!({"id": uuid::Uuid::now_v7().to_string(), "content": content})
}

/// GAIA's error shape.
fn error_event(p: &Principal, sid: SessionId, message: &str) -> Value {
    json!({"type": "text", "action": "error", "id": uuid::Uuid::now_v7().to_string(), "connectionId": sid.to_string(),
           "userId": p.user_id.to_string(), "timestamp": chrono::Utc::now().timestamp(),
           "data": {"sessionId": sid.to_string(), "content": message, "type": "text"}})
}

/// One chat turn: store the question, stream the answer to `/out`, store the answer.
async fn run(
    s: AppState,
    p: Principal,
    sid: SessionId,
    text: String,
    assistant: Option<String>,
    handle: crate::state::RunHandle,
) {
    let _registered = RunGuard(&s, p.user_id, sid, handle.id);
    run_inner(&s, p, sid, text, assistant, &handle.token).await;
}

/// Unregisters a run however it ends.
struct RunGuard<'a>(&'a AppState, rampart_core::UserId, SessionId, u64);

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        self.0.runs.finish(self.1, self.2, self.3);
    }
}

async fn run_inner(
    s: &AppState,
    p: Principal,
    sid: SessionId,
    text: String,
    assistant: Option<String>,
    cancel: &tokio_util::sync::CancellationToken,
) {
    let out = Channel::out_of(p.user_id, sid).key();
    let fail = |m: &str| {
        s.hub.publish(&out, &error_event(&p, sid, m));
    };
    // The assistant asked for; else the session's own; else `default`; else the first usable.
    let assistant = match assistant {
        Some(a) => Some(a),
        None => s.chat.session_assistant(p.user_id, sid).await.ok().flatten(),
    };
    let Some(a) = assistant
        .and_then(|id| s.assistants.get_for(&id, &p))
        .or_else(|| s.assistants.get_for("default", &p))
        .or_else(|| s.assistants.visible_to(&p).into_iter().next())
    else {
        return fail("No assistant is available to you.");
    };
    match s.chat.add_user_message(p.user_id, sid, &a.id, &text).await {
        Ok(Some(_)) => {}
        Ok(None) => return fail("Not found."),
        Err(e) => {
            tracing::warn!(error = %e, "could not store a chat message");
            return fail("The message could not be processed.");
        }
    }
    let started = Instant::now();
    let history = match s.chat.model_history(p.user_id, sid, HISTORY).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "could not load history");
            return fail("The message could not be processed.");
        }
    };
    let started_reply = tokio::select! {
        r = s.chat.reply(&a, &p, history, Default::default()) => Some(r),
        () = cancel.cancelled() => None,
    };
    let mut stream = match started_reply {
        Some(Ok(st)) => st,
        Some(Err(e)) => {
            tracing::warn!(error = %e, "reply failed to start");
            return fail(ErrorCode::UpstreamError.default_message());
        }
        None => {
            s.hub.publish(&out, &event(json!({"type": "end", "stopped": true, "modelId": a.model_id()})));
            return;
        }
    };
    let (mut full, mut seq, mut usage) = (String::new(), 0u64, None);
    let mut stopped = false;
    // GAIA's message parts for replies with sources: citation spans and the documents.
    let (mut spans, mut sources): (Vec<Value>, Option<Value>) = (Vec::new(), None);
    loop {
        let ev = tokio::select! {
            ev = stream.next() => ev,
            () = cancel.cancelled() => {
                stopped = true;
                None
            }
        };
        let Some(ev) = ev else { break };
        match ev {
            Ok(ChatEvent::Delta(t)) => {
                s.hub.publish(&out, &event(json!({"type": "textDelta", "sequenceNumber": seq, "text": t})));
                full.push_str(&t);
                seq += 1;
            }
            Ok(ChatEvent::Citation { position, number, text, document_index }) => {
                s.hub.publish(
                    &out,
                    &event(json!({"type": "citationEvent", "sequenceNumber": seq, "position": position,
                        "citationNumber": number, "citationText": text, "documentIndex": document_index})),
                );
                seq += 1;
                let start = spans.last().and_then(|v: &Value| v["span"]["end"].as_u64()).unwrap_or(0);
                spans.push(json!({"span": {"start": start, "end": position}, "refIndex": document_index}));
            }
            Ok(ChatEvent::Sources(docs)) => {
                let docs = json!(docs);
                s.hub.publish(&out, &event(json!({"type": "source", "documents": docs})));
                sources = Some(docs);
            }
            Ok(ChatEvent::Done { usage: u, .. }) => usage = u,
            Err(e) => {
                tracing::warn!(error = %e, "model stream failed");
                return fail(ErrorCode::UpstreamError.default_message());
            }
        }
    }
    // Dropping the stream drops the upstream request.
    drop(stream);
    if stopped && full.is_empty() {
        s.hub.publish(&out, &event(json!({"type": "end", "stopped": true, "modelId": a.model_id()})));
        return;
    }
    let ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let parts = sources.map(
        |docs| json!([{"type": "text", "text": full, "citationSpans": spans}, {"type": "source", "documents": docs}]),
    );
    let mid = match s.chat.add_assistant_message(p.user_id, sid, &full, parts.as_ref(), a.model_id(), ms).await {
        Ok(Some(m)) => m.to_string(),
        Ok(None) => return fail("Not found."),
        Err(e) => {
            tracing::warn!(error = %e, "could not store the reply");
            return fail("The reply could not be stored.");
        }
    };
    let u = usage.unwrap_or_default();
    s.hub.publish(
        &out,
        &event(
            json!({"type": "end", "messageId": mid, "modelId": a.model_id(), "responseTimeMs": ms, "stopped": stopped,
        "usage": {"inputTokens": u.input_tokens, "outputTokens": u.output_tokens}}),
        ),
    );
}
