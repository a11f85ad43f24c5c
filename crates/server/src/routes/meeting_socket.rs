//! `/api/v1/ws`: LMA's audio WebSocket (`meetings::protocol`). Authenticated before the upgrade
//! through the one credential reader — `Authorization: Bearer` or `x-api-key` headers, LMA's
//! browser form `?authorization=Bearer%20…`, or the web app's single-use `?ticket=` — and 401
//! on any failure (400 `ambiguous_credentials` when more than one of them is given); the
//! credential must carry the `meetings` scope. Query strings are never logged (the access log
//! and traces record the path only).
//!
//! Text frames are `START`, `SPEAKER_CHANGE`, `END`; binary frames are audio. Audio before
//! `START` is dropped; `END` without `START` and a second `END` are ignored; a close without
//! `END` ends the meeting. Beyond LMA, the server answers `START` and `END` with a small JSON
//! text frame (`{"type": "started" | "ended", "meeting": …}`; LMA's clients ignore them) and
//! refusals with a text frame `{"type": "error", "code", "message"}` before a close code:
//! 1003 an unusable `START`, 1008 someone else's call id, a meeting live elsewhere or too long,
//! 1009 a frame over `meetings.max_frame_bytes`, 1011 a server-side failure, 1013 too many
//! live meetings or no recogniser.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use rampart_core::error::PublicError as _;
use rampart_core::{AmbiguousCredentials, Credential, CredentialHeaders, ErrorCode, Principal, Scope};
use rampart_meetings::MeetingError;
use rampart_meetings::live::{LiveError, LiveMeeting};
use rampart_meetings::protocol::{self, ClientMessage};
use serde_json::json;
use std::time::Duration;

/// What the web app's tickets for this socket are minted for.
pub const TICKET_PURPOSE: &str = "meetings-audio";
/// A socket from which nothing arrives for this long is closed (and its meeting ended).
const IDLE: Duration = Duration::from_secs(120);

/// Where a socket's caller is named: a ticket, or a credential (headers, or LMA's
/// `authorization` query parameter).
enum Presented<'a> {
    Ticket(&'a str),
    Credential(Credential<'a>),
}

/// The one place this socket's caller is named, if any; more than one (a ticket and a header,
/// a header and the query parameter, either twice) is ambiguous, whoever they name
/// (`rampart_core::credential`).
fn presented<'a>(
    headers: &'a CredentialHeaders,
    query: &'a [(String, String)],
) -> Result<Option<Presented<'a>>, AmbiguousCredentials> {
    let mut found: Vec<Presented<'a>> = headers.credential()?.map(Presented::Credential).into_iter().collect();
    for (name, value) in query {
        match name.as_str() {
            "ticket" => found.push(Presented::Ticket(value)),
            "authorization" => found.extend(Credential::read(None, Some(value))?.map(Presented::Credential)),
            _ => {}
        }
    }
    if found.len() > 1 {
        return Err(AmbiguousCredentials);
    }
    Ok(found.pop())
}

/// The caller, from a ticket, the headers, or LMA's `authorization` query parameter.
async fn authenticate(s: &AppState, headers: &HeaderMap, query: Option<&str>) -> Result<Principal, ApiError> {
    let pairs: Vec<(String, String)> =
        query.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    let h = crate::extract::credential_headers(headers);
    let p = match presented(&h, &pairs)? {
        Some(Presented::Ticket(t)) => s.identity.redeem_ticket(t, TICKET_PURPOSE).await?,
        Some(Presented::Credential(c)) => s.identity.authenticate(c).await?,
        None => return Err(ApiError::code(ErrorCode::Unauthorized)),
    };
    if !p.has_scope(Scope::Meetings) {
        return Err(ApiError::new(ErrorCode::Forbidden, "This credential lacks the meetings scope."));
    }
    Ok(p)
}

/// The upgrade: authenticated first (401 otherwise), then the socket.
pub async fn upgrade(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    if let Some(origin) = headers.get(axum::http::header::ORIGIN)
        && !s.origin_allowed(origin.to_str().unwrap_or(""))
    {
        s.edge_metrics.count("websocket-origin", true);
        return ApiError::code(ErrorCode::CorsRejected).into_response();
    }
    let p = match authenticate(&s, &headers, query.as_deref()).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let max = s.config.meetings.max_frame_bytes.0;
    ws.max_message_size(max.saturating_mul(2))
        .max_frame_size(max.saturating_mul(2))
        .on_upgrade(move |sock| socket(s, p, sock))
}

/// Why the server closes a socket.
struct Closing {
    code: u16,
    error: Option<(ErrorCode, String)>,
}

impl Closing {
    fn normal() -> Self {
        Self { code: close_code::NORMAL, error: None }
    }
    fn with(code: u16, e: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, error: Some((e, message.into())) }
    }
}

fn start_refusal(e: &MeetingError) -> Closing {
    match e {
        MeetingError::CallIdTaken => Closing::with(close_code::POLICY, ErrorCode::Forbidden, "The callId is in use."),
        MeetingError::Busy => Closing::with(close_code::POLICY, ErrorCode::Conflict, e.public_message()),
        MeetingError::TooMany(_) => Closing::with(close_code::AGAIN, ErrorCode::RateLimited, e.public_message()),
        MeetingError::Invalid(_) | MeetingError::Audio(_) => {
            Closing::with(close_code::UNSUPPORTED, ErrorCode::InvalidRequest, e.public_message())
        }
        MeetingError::Speech(_) => {
            Closing::with(close_code::AGAIN, ErrorCode::Unavailable, "Speech recognition is not available.")
        }
        // `start_live` does not look a meeting up by an id the client cannot own, so these are
        // server-side failures too.
        MeetingError::NotFound
        | MeetingError::Forbidden
        | MeetingError::State(_)
        | MeetingError::Changed
        | MeetingError::Model(_)
        | MeetingError::Storage(_)
        | MeetingError::Sealed(_)
        | MeetingError::Json(_)
        | MeetingError::Recording(_)
        | MeetingError::Search(_) => {
            Closing::with(close_code::ERROR, ErrorCode::Internal, ErrorCode::Internal.default_message())
        }
    }
}

async fn send_json(sock: &mut WebSocket, v: serde_json::Value) {
    let _ = sock.send(Message::Text(v.to_string().into())).await;
}

/// One audio socket, from the upgrade to its close.
async fn socket(s: AppState, p: Principal, mut sock: WebSocket) {
    let mut live: Option<LiveMeeting> = None;
    let mut ended = false;
    let max = s.config.meetings.max_frame_bytes.0;
    let closing = loop {
        let msg = match tokio::time::timeout(IDLE, sock.recv()).await {
            Err(_) => {
                break Closing::with(close_code::AWAY, ErrorCode::InvalidRequest, "Nothing arrived for too long.");
            }
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => break Closing::normal(),
            Ok(Some(Ok(m))) => m,
        };
        let step = match msg {
            Message::Text(t) => text(&s, &p, &mut sock, &mut live, &mut ended, t.as_str()).await,
            Message::Binary(b) if b.len() > max => Some(Closing::with(
                close_code::SIZE,
                ErrorCode::PayloadTooLarge,
                format!("Audio frames must be at most {max} bytes."),
            )),
            Message::Binary(b) => match live.as_mut() {
                Some(l) => audio(l, &b).await,
                // Audio before START (or after END) is dropped, as LMA does.
                None => None,
            },
            Message::Ping(_) | Message::Pong(_) => None,
            Message::Close(_) => Some(Closing::normal()),
        };
        if let Some(c) = step {
            break c;
        }
    };
    if let Some(l) = live.take() {
        finish(&mut sock, l, None).await;
    }
    if let Some((code, message)) = &closing.error {
        send_json(&mut sock, json!({"type": "error", "code": code.as_str(), "message": message})).await;
    }
    let reason = closing.error.map(|(c, _)| c.as_str()).unwrap_or("");
    let _ = sock.send(Message::Close(Some(CloseFrame { code: closing.code, reason: reason.into() }))).await;
}

/// Ends the live meeting and says so.
async fn finish(sock: &mut WebSocket, l: LiveMeeting, should_record: Option<bool>) {
    let key = l.key();
    match l.end(should_record).await {
        Ok(m) => send_json(sock, json!({"type": "ended", "meeting": m})).await,
        Err(e) => tracing::error!(meeting = %key, error = %e, "a meeting could not be ended cleanly"),
    }
}

async fn audio(l: &mut LiveMeeting, bytes: &[u8]) -> Option<Closing> {
    match l.audio(bytes).await {
        Ok(()) => None,
        Err(LiveError::TooLong) => Some(Closing::with(
            close_code::POLICY,
            ErrorCode::InvalidRequest,
            "The meeting reached its longest duration.",
        )),
        Err(LiveError::Stopped) => {
            Some(Closing::with(close_code::AWAY, ErrorCode::NotFound, "The meeting was deleted."))
        }
        Err(LiveError::Failed(e)) => {
            tracing::error!(meeting = %l.key(), error = %e, "live meeting failed");
            Some(Closing::with(close_code::ERROR, ErrorCode::Internal, ErrorCode::Internal.default_message()))
        }
    }
}

/// A text frame.
async fn text(
    s: &AppState,
    p: &Principal,
    sock: &mut WebSocket,
    live: &mut Option<LiveMeeting>,
    ended: &mut bool,
    t: &str,
) -> Option<Closing> {
    let msg = match protocol::parse(t) {
        Ok(m) => m,
        // A START that cannot be used is the end of the socket; other bad frames are refused
        // and the socket goes on.
        Err(e) if live.is_none() && t.contains("\"START\"") => {
            return Some(Closing::with(close_code::UNSUPPORTED, ErrorCode::InvalidRequest, e.to_string()));
        }
        Err(e) => {
            send_json(sock, json!({"type": "error", "code": "invalid_request", "message": e.to_string()})).await;
            return None;
        }
    };
    match msg {
        ClientMessage::Start(st) if live.is_none() && !*ended => match s.meetings.start_live(p, st).await {
            Ok(l) => {
                let m =
                    json!({"id": l.call_id(), "key": l.key(), "channel": rampart_meetings::views::channel_of(l.key())});
                send_json(sock, json!({"type": "started", "meeting": m})).await;
                *live = Some(l);
                None
            }
            Err(e) => {
                tracing::info!(reason = %e, "meeting start refused");
                Some(start_refusal(&e))
            }
        },
        ClientMessage::SpeakerChange { active_speaker } => {
            if let Some(l) = live.as_mut() {
                l.speaker_change(active_speaker);
            }
            None
        }
        ClientMessage::End { should_record } => {
            if let Some(l) = live.take() {
                *ended = true;
                finish(sock, l, should_record).await;
                return Some(Closing::normal());
            }
            None
        }
        ClientMessage::Start(_) | ClientMessage::Other => None,
    }
}
