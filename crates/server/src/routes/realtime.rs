//! `/event/realtime`: the AppSync Events WebSocket protocol (docs/realtime-protocol.md) with
//! GAIA's chat channels. Publishing `{"payload": {"text", "sessionId", "assistantId"?,
//! "knowledgeBases"?}}` (the last two Rampart's extensions) to
//! `/in/{userId}/{sessionId}` stores the message, runs the assistant, and streams `textDelta`
//! events and a final `end` to `/out/{userId}/{sessionId}`. Rampart's extensions of the payload
//! (absent for GAIA clients): `editMessageId` (edit a question: a new branch) and
//! `regenerateMessageId` (answer again: a sibling answer); see `rampart_chat::branches`.
//!
//! Authorization: the connection's credential (the `header-…` subprotocol, or plain request
//! headers) and each operation's `authorization` object go through `Identity::authenticate`,
//! like every other route; two credentials at once are refused (400 `ambiguous_credentials` at
//! the upgrade, `BadRequestException` for an operation). Users publish to and subscribe on
//! their own channels only; `/in` cannot be subscribed to. Each connection has a bounded
//! outbox; a slow consumer is closed.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use rampart_chat::runs::RunHandle;
use rampart_chat::turn::{Conversation, MAX_CHOSEN, TurnEvent, TurnRequest};
use rampart_core::error::PublicError as _;
use rampart_core::{
    AmbiguousCredentials, CredentialHeaders, ErrorCode, KnowledgeBaseId, MessageId, Principal, Scope, SessionId,
};
use rampart_realtime::{AnyChannel, Channel, ChannelKind, Outbox, SUBPROTOCOL};
use rampart_realtime::{frames, gaia};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Largest frame accepted (AppSync: 240 KB per event; 5 events per publish).
const MAX_FRAME: usize = 1024 * 1024;
const MAX_EVENT: usize = 240 * 1024;

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
    let protocol = offered.iter().find_map(|p| rampart_realtime::decode_auth_subprotocol(p)).filter(|h| !h.is_empty());
    let cred = match connection_credential(protocol, crate::extract::credential_headers(&headers)) {
        Ok(c) => c,
        // Refused before the upgrade: nothing is served on a connection whose caller is unclear.
        Err(e) => return ApiError::from(e).into_response(),
    };
    // Small buffers: tungstenite's defaults (128 KiB each way) cost ~135 MiB per 1,000 idle
    // connections (bench/RESULTS.md); frames are small, and larger ones still work.
    ws.protocols([SUBPROTOCOL])
        .max_message_size(MAX_FRAME)
        .read_buffer_size(4096)
        .write_buffer_size(4096)
        .on_upgrade(move |sock| connection(s, sock, cred))
}

/// The connection's credential: the `header-…` subprotocol's auth object, else the request's
/// own headers. A credential in both, or two in either, is ambiguous (one credential per
/// request, `rampart_core::credential`).
fn connection_credential(
    protocol: Option<CredentialHeaders>,
    headers: CredentialHeaders,
) -> Result<CredentialHeaders, AmbiguousCredentials> {
    let in_headers = headers.credential()?.is_some();
    match protocol {
        None => Ok(headers),
        Some(p) if p.credential()?.is_some() && in_headers => Err(AmbiguousCredentials),
        Some(p) => Ok(p),
    }
}

/// Why an operation (or the connection) is refused: `(errorType, message)`.
type Refusal = (&'static str, &'static str);

const UNAUTHORIZED: Refusal = ("UnauthorizedException", "You are not authorized to make this call.");
/// An operation's `authorization` object with two credentials.
const AMBIGUOUS: Refusal =
    ("BadRequestException", "ambiguous_credentials: send one credential, either x-api-key or Authorization, not both.");
/// The credential could not be checked (the database is down): not the client's fault.
const UNAVAILABLE: Refusal = ("InternalFailureException", "The request could not be processed; try again.");

/// The principal of a credential that holds and carries a scope with channels (chat or
/// meetings); each channel checks its own scope.
async fn authenticate(s: &AppState, cred: &CredentialHeaders) -> Result<Principal, Refusal> {
    let c = cred.credential().map_err(|_| AMBIGUOUS)?.ok_or(UNAUTHORIZED)?;
    match s.identity.authenticate(c).await {
        Ok(p) if p.has_scope(Scope::Chat) || p.has_scope(Scope::Meetings) => Ok(p),
        Ok(_) => Err(UNAUTHORIZED),
        Err(e) if e.code() == ErrorCode::Internal => {
            tracing::error!(error = %e, "realtime: could not check a credential");
            Err(UNAVAILABLE)
        }
        Err(_) => Err(UNAUTHORIZED),
    }
}

/// Accepts the upgrade only to say why the connection ends, then closes it: clients cannot read
/// an HTTP refusal of an upgrade.
async fn refuse(mut sock: WebSocket, error_type: &str, message: &str) {
    let _ = sock.send(Message::Text(frames::connection_error(error_type, message).into())).await;
    let _ = sock.close().await;
}

async fn connection(s: AppState, sock: WebSocket, cred: CredentialHeaders) {
    let p = match authenticate(&s, &cred).await {
        Ok(p) => p,
        Err((t, m)) => return refuse(sock, t, m).await,
    };
    let Some(slot) = s.realtime_limits.open(p.user_id) else {
        tracing::info!(user = %p.user_id, "realtime: too many connections");
        return refuse(sock, "LimitExceededException", "Too many open connections for this user.").await;
    };
    drop(p);
    let conn = s.hub.connection_id();
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(s.config.realtime.outbox_frames);
    let (kill, killed) = tokio::sync::watch::channel(false);
    let mut c = Conn { s, cred, id: conn, outbox: Outbox { tx, kill }, subs: HashMap::new() };
    let (mut sink, mut stream) = sock.split();
    let why = c.serve(&mut sink, &mut stream, rx, killed).await;
    c.s.hub.drop_connection(conn, c.subs.values().map(String::as_str));
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

type Sink = futures::stream::SplitSink<WebSocket, Message>;
type Source = futures::stream::SplitStream<WebSocket>;
/// Why a connection is closed by the server: `(errorType, message)`.
type CloseReason = Option<Refusal>;

const SLOW: Refusal = ("SlowConsumerException", "The client is not reading its messages fast enough.");

/// One open connection: its credential (as presented at connect time), its outbox and its
/// subscriptions (subscription id → channel key).
struct Conn {
    s: AppState,
    cred: CredentialHeaders,
    id: rampart_realtime::ConnId,
    outbox: Outbox,
    subs: HashMap<String, String>,
}

impl Conn {
    /// Reads frames and writes replies, hub events and keep-alives until either side ends.
    async fn serve(
        &mut self,
        sink: &mut Sink,
        stream: &mut Source,
        mut rx: tokio::sync::mpsc::Receiver<String>,
        mut killed: tokio::sync::watch::Receiver<bool>,
    ) -> CloseReason {
        let rt = &self.s.config.realtime;
        let idle_timeout = rt.idle_timeout.0;
        let mut ka = tokio::time::interval(rt.keepalive_interval.0);
        ka.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ka.tick().await;
        let mut last_seen = Instant::now();
        loop {
            let out: Vec<Message> = tokio::select! {
                msg = stream.next() => {
                    last_seen = Instant::now();
                    match msg {
                        Some(Ok(Message::Text(t))) => self.handle(t.as_str()).await.into_iter().map(|f| Message::Text(f.into())).collect(),
                        Some(Ok(Message::Binary(_))) => vec![Message::Text(frames::op_error("error", None, "BadRequestException", "frames must be JSON text").into())],
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                        Some(Ok(_)) => Vec::new(),
                    }
                },
                Some(frame) = rx.recv() => vec![Message::Text(frame.into())],
                _ = ka.tick() => {
                    if last_seen.elapsed() >= idle_timeout {
                        return Some(("ConnectionTimeoutException", "Nothing was received from the client for too long."));
                    }
                    vec![Message::Text(frames::ka().into()), Message::Ping(Default::default())]
                },
                _ = killed.changed() => return Some(SLOW),
            };
            for m in out {
                // A client that stops reading blocks the write; the outbox filling up (the hub
                // sets `killed`) or the idle timeout ends the wait.
                let sent = tokio::select! {
                    r = sink.send(m) => r.is_ok(),
                    _ = killed.changed() => false,
                    () = tokio::time::sleep(idle_timeout) => false,
                };
                if !sent {
                    return (*killed.borrow()).then_some(SLOW);
                }
            }
        }
    }
}

fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+'))
}

/// The principal for one operation: its own `authorization` if present, else the connection's
/// credential, resolved again each time (through the authentication cache), so a logout, a
/// disabled account or an expired token also ends what an open connection may do.
async fn op_principal(s: &AppState, conn_cred: &CredentialHeaders, msg: &Value) -> Result<Principal, Refusal> {
    match msg.get("authorization").and_then(rampart_realtime::auth_object).filter(|h| !h.is_empty()) {
        Some(own) => authenticate(s, &own).await,
        None => authenticate(s, conn_cred).await,
    }
}

/// Checks a channel for an operation; the error is `(errorType, message)`.
fn own_channel(p: &Principal, raw: &str, want: ChannelKind) -> Result<Channel, Refusal> {
    let c = Channel::parse(raw).map_err(|e| match e {
        rampart_realtime::channel::ChannelError::Malformed => ("BadRequestException", "Invalid Channel Format"),
        rampart_realtime::channel::ChannelError::Unknown => {
            ("UnauthorizedException", "You are not authorized to use this channel.")
        }
    })?;
    if c.kind != want || c.user != p.user_id || !p.has_scope(Scope::Chat) {
        return Err(NOT_YOURS);
    }
    Ok(c)
}

const NOT_YOURS: Refusal = ("UnauthorizedException", "You are not authorized to use this channel.");

/// A channel the principal may subscribe to: its own `/out` chat channels (chat scope), a
/// meeting it may read (meetings scope; owner, shared with, administrators — checked in the
/// database at subscription time) or its own meetings list.
async fn subscribable(s: &AppState, p: &Principal, raw: &str) -> Result<String, Refusal> {
    let c = AnyChannel::parse(raw).map_err(|e| match e {
        rampart_realtime::channel::ChannelError::Malformed => ("BadRequestException", "Invalid Channel Format"),
        rampart_realtime::channel::ChannelError::Unknown => NOT_YOURS,
    })?;
    match &c {
        AnyChannel::Chat(_) => own_channel(p, raw, ChannelKind::Out).map(|c| c.key()),
        AnyChannel::UserMeetings(u) if *u == p.user_id && p.has_scope(Scope::Meetings) => Ok(c.key()),
        AnyChannel::Meeting(key) if p.has_scope(Scope::Meetings) => match s.meetings.get_by_key(p, *key).await {
            Ok(_) => Ok(c.key()),
            Err(rampart_meetings::MeetingError::NotFound) => Err(NOT_YOURS),
            Err(e) => {
                tracing::error!(error = %e, "realtime: could not check a meeting's readers");
                Err(UNAVAILABLE)
            }
        },
        AnyChannel::UserMeetings(_) | AnyChannel::Meeting(_) => Err(NOT_YOURS),
    }
}

impl Conn {
    /// One client frame; the frames to answer with.
    async fn handle(&mut self, text: &str) -> Vec<String> {
        let Ok(msg) = serde_json::from_str::<Value>(text) else {
            return vec![frames::op_error("error", None, "BadRequestException", "frames must be JSON")];
        };
        let id = msg["id"].as_str().unwrap_or("").to_owned();
        match msg["type"].as_str().unwrap_or("") {
            "connection_init" => {
                let ms = u64::try_from(self.s.config.realtime.idle_timeout.0.as_millis()).unwrap_or(u64::MAX);
                vec![frames::connection_ack(ms), frames::ka()]
            }
            "subscribe" => vec![self.subscribe(&msg, &id).await],
            "unsubscribe" => {
                if self.subs.remove(&id).is_some_and(|key| self.s.hub.unsubscribe(&key, self.id, &id)) {
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
            "publish" => vec![publish(&self.s, &self.cred, &msg, &id).await],
            _ => vec![frames::op_error(
                "error",
                (!id.is_empty()).then_some(id.as_str()),
                "UnsupportedOperation",
                "Unknown message type.",
            )],
        }
    }

    async fn subscribe(&mut self, msg: &Value, id: &str) -> String {
        let refuse = |t: &str, m: &str| frames::op_error("subscribe_error", Some(id), t, m);
        if !valid_id(id) || self.subs.contains_key(id) {
            return refuse("BadRequestException", "The id is invalid or already used on this connection.");
        }
        if self.subs.len() >= self.s.config.realtime.max_subscriptions {
            return refuse("BadRequestException", "Too many subscriptions on this connection.");
        }
        let p = match op_principal(&self.s, &self.cred, msg).await {
            Ok(p) => p,
            Err((t, m)) => return refuse(t, m),
        };
        match subscribable(&self.s, &p, msg["channel"].as_str().unwrap_or("")).await {
            Ok(key) => {
                self.s.hub.subscribe(&key, self.id, p.user_id, id, self.outbox.clone());
                self.subs.insert(id.to_owned(), key);
                frames::ok("subscribe_success", id)
            }
            Err((t, m)) => refuse(t, m),
        }
    }
}

async fn publish(s: &AppState, conn_cred: &CredentialHeaders, msg: &Value, id: &str) -> String {
    if !valid_id(id) {
        return frames::op_error("publish_error", Some(id), "BadRequestException", "The id is invalid.");
    }
    let p = match op_principal(s, conn_cred, msg).await {
        Ok(p) => p,
        Err((t, m)) => return frames::op_error("publish_error", Some(id), t, m),
    };
    match accept_publish(s, &p, msg) {
        Ok(n) => frames::publish_success(id, n),
        Err((t, m)) => frames::op_error("publish_error", Some(id), t, m),
    }
}

/// Validates a publish (`channel`, `events`) by `p` and starts one chat turn per event.
/// Returns how many events were accepted, or `(errorType, message)`.
fn accept_publish(s: &AppState, p: &Principal, msg: &Value) -> Result<usize, Refusal> {
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
        let conversation = conversation_of(&v["payload"], c.session)?;
        let assistant = match &v["payload"]["assistantId"] {
            Value::Null => None,
            Value::String(id) if s.assistants.get_for(id, p).is_some() => Some(id.clone()),
            _ => return Err(("BadRequestException", "assistantId names no assistant you may use.")),
        };
        let kbs = chosen_knowledge_bases(&v["payload"]["knowledgeBases"])?;
        texts.push((conversation, assistant, kbs));
    }
    let runs = s.chat.runs();
    if runs.count_user(p.user_id) + texts.len() > s.config.realtime.max_replies_per_user {
        return Err(("LimitExceededException", "Too many replies in progress; wait for one to finish or stop it."));
    }
    for (conversation, assistant, kbs) in texts {
        // Registered here, before the task starts, so the cap and `stop` see it at once.
        let run = runs.start(p.user_id, c.session);
        let turn = Turn { sid: c.session, conversation, asked: assistant, knowledge_bases: kbs };
        tokio::spawn(run_turn(s.clone(), p.clone(), turn, run));
    }
    Ok(events.len())
}

/// The payload's `knowledgeBases` (Rampart's extension): absent, or an array of at most
/// `MAX_CHOSEN` knowledge-base ids. Whether the user may read them is checked when the turn runs.
fn chosen_knowledge_bases(v: &Value) -> Result<Vec<KnowledgeBaseId>, Refusal> {
    const BAD: Refusal = ("BadRequestException", "knowledgeBases must be an array of at most 20 knowledge-base ids.");
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(ids) if ids.len() <= MAX_CHOSEN => {
            ids.iter().map(|id| id.as_str().and_then(KnowledgeBaseId::parse).ok_or(BAD)).collect()
        }
        _ => Err(BAD),
    }
}

/// What one published event asks for.
struct Turn {
    sid: SessionId,
    conversation: Conversation,
    asked: Option<String>,
    knowledge_bases: Vec<KnowledgeBaseId>,
}

/// What one event's payload asks for: GAIA's `{text, sessionId}` (a new question after the
/// active branch), or Rampart's branch extensions: `editMessageId` with `text` (an edit of that
/// question) or `regenerateMessageId` without `text` (a new answer beside that one).
fn conversation_of(payload: &Value, session: SessionId) -> Result<Conversation, Refusal> {
    const BAD: Refusal = (
        "BadRequestException",
        "Each event must be {\"payload\": {\"text\", \"sessionId\"}} with the channel's session id.",
    );
    const BAD_BRANCH: Refusal =
        ("BadRequestException", "Give editMessageId with text, or regenerateMessageId without it, as a message id.");
    if payload["sessionId"].as_str().and_then(SessionId::parse) != Some(session) {
        return Err(BAD);
    }
    let id_of = |k: &str| match &payload[k] {
        Value::Null => Ok(None),
        Value::String(m) => MessageId::parse(m).map(Some).ok_or(BAD_BRANCH),
        _ => Err(BAD_BRANCH),
    };
    let text = payload["text"].as_str().filter(|t| !t.trim().is_empty()).map(str::to_owned);
    match (text, id_of("editMessageId")?, id_of("regenerateMessageId")?) {
        (Some(text), None, None) => Ok(Conversation::Session { id: session, text }),
        (Some(text), Some(message), None) => Ok(Conversation::Edit { id: session, message, text }),
        (None, None, Some(message)) => Ok(Conversation::Regenerate { id: session, message }),
        (None, None, None) => Err(BAD),
        _ => Err(BAD_BRANCH),
    }
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

/// One chat turn of a `/in` publish, its events published to the session's `/out` channel.
async fn run_turn(s: AppState, p: Principal, turn: Turn, run: RunHandle) {
    let Turn { sid, conversation, asked, knowledge_bases } = turn;
    let out = Channel::out_of(p.user_id, sid).key();
    let fail = |m: &str| {
        s.hub.publish(&out, &gaia::error(p.user_id, sid, m, s.identity.now().secs()));
    };
    // One read of the session: its assistant, and whether it is a meeting chat.
    let (own, about) = match s.chat.session_setup(p.user_id, sid).await {
        Ok(Some((assistant, about))) => (Some(assistant), about),
        Ok(None) => (None, None),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the session");
            return fail("The message could not be processed.");
        }
    };
    let own = asked.or(own);
    let Some(assistant) = rampart_chat::turn::choose_assistant(&s.assistants.snapshot(), &p, own.as_deref()) else {
        return fail("No assistant is available to you.");
    };
    let grounding = match grounding_of(&s, &p, about).await {
        Ok(g) => g,
        Err(m) => return fail(m),
    };
    let req = TurnRequest {
        principal: p.clone(),
        assistant,
        conversation,
        overrides: Default::default(),
        run: Some(run),
        knowledge_bases,
        tools: s.chat_tools.for_turn(),
        grounding,
    };
    let mut turn = match s.chat.start_turn(req).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "a chat turn failed to start");
            return fail(e.channel_message());
        }
    };
    while let Some(ev) = turn.next().await {
        let frame = match ev {
            Ok(TurnEvent::Delta { seq, text }) => gaia::text_delta(seq, &text),
            Ok(TurnEvent::Citation { seq, position, number, text, document_index, chunk }) => {
                gaia::citation(seq, position, number, &text, document_index, chunk)
            }
            Ok(TurnEvent::Sources(docs)) => gaia::source(&docs),
            Ok(TurnEvent::Step(step)) => gaia::step(&step),
            Ok(TurnEvent::End(e)) => match e.message_id {
                Some(mid) => gaia::end(mid, &e.model_id, e.response_time_ms, e.stopped, e.usage),
                None => gaia::end_stopped(&e.model_id),
            },
            Err(e) => return fail(e.channel_message()),
        };
        s.hub.publish(&out, &frame);
    }
}

/// What a meeting assistant panel's chat is grounded on (`about`: the session's meeting, or
/// `None` for any other chat): its meeting's transcript, or the user's past meetings. Refused
/// (as a missing session) when the user can no longer read the meeting, or their credential
/// lacks the meetings scope.
async fn grounding_of(
    s: &AppState,
    p: &Principal,
    about: Option<String>,
) -> Result<Option<std::sync::Arc<dyn rampart_chat::grounding::Grounding>>, &'static str> {
    const GONE: &str = "Not found.";
    let Some(about) = about else { return Ok(None) };
    if !p.has_scope(Scope::Meetings) {
        return Err(GONE);
    }
    if about == rampart_storage::repo::chat::PAST_MEETINGS {
        let g = crate::ports::PastMeetingsChat { meetings: s.meetings.clone(), public_url: s.config.public_url() };
        return Ok(Some(std::sync::Arc::new(g)));
    }
    let key = rampart_core::MeetingKey::parse(&about).ok_or(GONE)?;
    if s.meetings.get_by_key(p, key).await.is_err() {
        return Err(GONE);
    }
    Ok(Some(std::sync::Arc::new(crate::ports::MeetingPanel { meetings: s.meetings.clone(), meeting: key })))
}
