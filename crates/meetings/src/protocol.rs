//! LMA's audio WebSocket protocol (`/api/v1/ws`, LMA's `docs/websocket-streaming-api.md`): JSON
//! text frames carrying a `CallMetaData` object whose `callEvent` is `START`, `SPEAKER_CHANGE`
//! or `END`, and binary frames of raw 16-bit little-endian PCM, mono or two channels
//! interleaved (channel 0 the meeting, channel 1 the microphone).
//!
//! Parsed leniently where LMA is lenient (unknown fields are ignored: LMA's clients send tokens
//! and labels Rampart does not use; missing labels get LMA's defaults) and strictly where a
//! value would be stored or would change how audio is read (the call id, the sample rate, the
//! channel count, the length of names). Who owns the meeting is never a field of a message: it
//! is the authenticated caller.

use serde::Deserialize;
use serde_json::Value;

/// Longest `callId` kept (LMA's web UI sends `<topic> - <timestamp>`).
pub const MAX_CALL_ID_CHARS: usize = 128;
/// Longest participant or meeting name kept.
pub const MAX_NAME_CHARS: usize = 200;
/// Sample rates accepted: telephone to studio (browsers capture at 44.1 or 48 kHz).
pub const MIN_SAMPLE_RATE: u32 = 8_000;
pub const MAX_SAMPLE_RATE: u32 = 48_000;

/// A text frame, understood.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientMessage {
    Start(Start),
    SpeakerChange {
        active_speaker: String,
    },
    End {
        should_record: Option<bool>,
    },
    /// A `callEvent` this server does not handle (LMA's `START_VIDEO`…): ignored, as LMA's
    /// servers without the feature ignore it.
    Other,
}

/// The `START` message: the meeting's labels and its audio format.
#[derive(Clone, Debug, PartialEq)]
pub struct Start {
    /// The client's id for the meeting; `None`: the server makes one.
    pub call_id: Option<String>,
    /// The microphone's speaker (channel 1).
    pub agent_id: String,
    /// The meeting's speaker label (channel 0) when no `activeSpeaker` is given.
    pub from_number: String,
    /// The meeting's name.
    pub to_number: String,
    pub sample_rate: u32,
    /// 1 or 2. LMA's servers always read two interleaved channels; Rampart reads one when the
    /// client says so (`"channels": 1`, an extension LMA's clients do not send).
    pub channels: u16,
    pub active_speaker: String,
    /// Whether to keep a recording (also accepted on `END`, as LMA does).
    pub should_record: Option<bool>,
}

/// Why a text frame is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("text frames must be a JSON object")]
    NotJson,
    #[error("callEvent is missing")]
    NoEvent,
    #[error("samplingRate must be a number from {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE}")]
    SampleRate,
    #[error("channels must be 1 or 2")]
    Channels,
    #[error("callId must be 1 to {MAX_CALL_ID_CHARS} printable characters")]
    CallId,
    #[error("{0} must be a string of at most {MAX_NAME_CHARS} characters")]
    Name(&'static str),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    call_event: Option<String>,
    #[serde(default)]
    call_id: Option<Value>,
    #[serde(default)]
    agent_id: Option<Value>,
    #[serde(default)]
    from_number: Option<Value>,
    #[serde(default)]
    to_number: Option<Value>,
    #[serde(default)]
    sampling_rate: Option<Value>,
    #[serde(default)]
    channels: Option<Value>,
    #[serde(default)]
    active_speaker: Option<Value>,
    #[serde(default)]
    should_record_call: Option<Value>,
}

/// A printable name, trimmed; `None` when absent or empty.
fn name(field: &'static str, v: Option<&Value>) -> Result<Option<String>, ProtocolError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.chars().count() > MAX_NAME_CHARS || s.chars().any(char::is_control) {
                return Err(ProtocolError::Name(field));
            }
            Ok((!s.is_empty()).then(|| s.to_owned()))
        }
        Some(_) => Err(ProtocolError::Name(field)),
    }
}

/// A client's call id: 1-128 printable characters (spaces allowed, not at either end).
pub fn call_id(s: &str) -> Result<String, ProtocolError> {
    let t = s.trim();
    let n = t.chars().count();
    if n == 0 || n > MAX_CALL_ID_CHARS || t.chars().any(char::is_control) {
        return Err(ProtocolError::CallId);
    }
    Ok(t.to_owned())
}

fn boolean(v: Option<&Value>) -> Option<bool> {
    match v {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn sample_rate(v: Option<&Value>) -> Result<u32, ProtocolError> {
    let n = match v {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match n {
        Some(r) if r.fract() == 0.0 && (f64::from(MIN_SAMPLE_RATE)..=f64::from(MAX_SAMPLE_RATE)).contains(&r) =>
        {
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "checked to be a whole number in range"
            )]
            Ok(r as u32)
        }
        _ => Err(ProtocolError::SampleRate),
    }
}

fn channels(v: Option<&Value>) -> Result<u16, ProtocolError> {
    match v {
        None | Some(Value::Null) => Ok(2),
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(1),
        Some(Value::Number(n)) if n.as_u64() == Some(2) => Ok(2),
        // LMA's server keeps per-channel speaker state under `channels` (an object); a client
        // echoing it back means the default.
        Some(Value::Object(_)) => Ok(2),
        Some(_) => Err(ProtocolError::Channels),
    }
}

/// Parses a text frame.
pub fn parse(text: &str) -> Result<ClientMessage, ProtocolError> {
    let raw: Raw = serde_json::from_str(text).map_err(|_| ProtocolError::NotJson)?;
    match raw.call_event.as_deref().map(str::trim) {
        None | Some("") => Err(ProtocolError::NoEvent),
        Some("START") => start(&raw).map(ClientMessage::Start),
        Some("SPEAKER_CHANGE") => match name("activeSpeaker", raw.active_speaker.as_ref())? {
            Some(active_speaker) => Ok(ClientMessage::SpeakerChange { active_speaker }),
            None => Ok(ClientMessage::Other),
        },
        Some("END") => Ok(ClientMessage::End { should_record: boolean(raw.should_record_call.as_ref()) }),
        Some(_) => Ok(ClientMessage::Other),
    }
}

fn start(raw: &Raw) -> Result<Start, ProtocolError> {
    let call_id = match &raw.call_id {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(call_id(s)?),
        Some(_) => return Err(ProtocolError::CallId),
    };
    let from_number = name("fromNumber", raw.from_number.as_ref())?.unwrap_or_else(|| "Customer Phone".into());
    let active_speaker = name("activeSpeaker", raw.active_speaker.as_ref())?.unwrap_or_else(|| from_number.clone());
    Ok(Start {
        call_id,
        agent_id: name("agentId", raw.agent_id.as_ref())?.unwrap_or_else(|| "Me".into()),
        to_number: name("toNumber", raw.to_number.as_ref())?.unwrap_or_else(|| "System Phone".into()),
        from_number,
        sample_rate: sample_rate(raw.sampling_rate.as_ref())?,
        channels: channels(raw.channels.as_ref())?,
        active_speaker,
        should_record: boolean(raw.should_record_call.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lma_start_with_defaults_and_extras() {
        let m = parse(
            r#"{"callEvent":"START","callId":"Weekly sync - 2026-12-07-10:30:00.000","agentId":"ana@example.com",
                "fromNumber":"+9165551234","toNumber":"+8001112222","samplingRate":8000,
                "accessToken":"ignored","channels":{"0":{"speakers":[]}}}"#,
        )
        .unwrap();
        let ClientMessage::Start(s) = m else { panic!("{m:?}") };
        assert_eq!(s.call_id.as_deref(), Some("Weekly sync - 2026-12-07-10:30:00.000"));
        assert_eq!((s.sample_rate, s.channels), (8000, 2));
        assert_eq!(s.active_speaker, "+9165551234", "activeSpeaker defaults to fromNumber");
        let ClientMessage::Start(s) = parse(r#"{"callEvent":"START","samplingRate":48000,"channels":1}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!((s.call_id, s.channels, s.agent_id.as_str()), (None, 1, "Me"));
    }

    #[test]
    fn refusals() {
        for (text, want) in [
            ("not json", ProtocolError::NotJson),
            ("[1]", ProtocolError::NotJson),
            (r#"{"callId":"x"}"#, ProtocolError::NoEvent),
            (r#"{"callEvent":"START"}"#, ProtocolError::SampleRate),
            (r#"{"callEvent":"START","samplingRate":96000}"#, ProtocolError::SampleRate),
            (r#"{"callEvent":"START","samplingRate":7999}"#, ProtocolError::SampleRate),
            (r#"{"callEvent":"START","samplingRate":16000.5}"#, ProtocolError::SampleRate),
            (r#"{"callEvent":"START","samplingRate":16000,"channels":3}"#, ProtocolError::Channels),
            (r#"{"callEvent":"START","samplingRate":16000,"callId":7}"#, ProtocolError::CallId),
            (r#"{"callEvent":"START","samplingRate":16000,"callId":"a\u0000b"}"#, ProtocolError::CallId),
        ] {
            assert_eq!(parse(text), Err(want.clone()), "{text}");
        }
        let long = format!(r#"{{"callEvent":"START","samplingRate":16000,"callId":"{}"}}"#, "x".repeat(129));
        assert_eq!(parse(&long), Err(ProtocolError::CallId));
        let long = format!(r#"{{"callEvent":"START","samplingRate":16000,"toNumber":"{}"}}"#, "x".repeat(201));
        assert_eq!(parse(&long), Err(ProtocolError::Name("toNumber")));
    }

    #[test]
    fn other_events() {
        assert_eq!(
            parse(r#"{"callEvent":"SPEAKER_CHANGE","callId":"c","activeSpeaker":" Bo "}"#),
            Ok(ClientMessage::SpeakerChange { active_speaker: "Bo".into() })
        );
        assert_eq!(parse(r#"{"callEvent":"END","callId":"c"}"#), Ok(ClientMessage::End { should_record: None }));
        assert_eq!(
            parse(r#"{"callEvent":"END","shouldRecordCall":false}"#),
            Ok(ClientMessage::End { should_record: Some(false) })
        );
        assert_eq!(parse(r#"{"callEvent":"START_VIDEO","callId":"c"}"#), Ok(ClientMessage::Other));
    }
}
