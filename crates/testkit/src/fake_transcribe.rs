//! A fake Amazon Transcribe streaming service: `POST /stream-transcription`
//! (StartStreamTranscription) with the audio and the transcript both streamed, in AWS
//! event-stream binary frames decoded and encoded here by hand from the format's public
//! description (not with the SDK's codec, so the SDK is checked against an independent
//! implementation, CRC32 included; the frame layout is in [`crate::fake_bedrock`]).
//!
//! The request must carry a SigV4 `Authorization` header of the right shape for the service
//! `transcribe` (the signature itself is not checked), `content-type:
//! application/vnd.amazon.eventstream`, and the `x-amzn-transcribe-language-code`,
//! `-sample-rate` (8000-48000) and `-media-encoding` (`pcm`) headers; anything else is a 400
//! `BadRequestException`, as Transcribe answers.
//!
//! The request body is a sequence of *signed envelopes*: messages whose headers are `:date`
//! (type 8, a timestamp) and `:chunk-signature` (type 6, 32 bytes: each message is signed with
//! the previous signature, seeded by the `Authorization` header's), and whose payload is the
//! inner message — `:message-type event`, `:event-type AudioEvent`, `:content-type
//! application/octet-stream`, raw PCM as payload. An envelope with an empty payload ends the
//! audio. A message with a bad CRC, without both signature headers, or of another event type
//! ends the stream with a `BadRequestException` frame.
//!
//! The answer (while audio still arrives) is `TranscriptEvent` messages whose JSON payload is
//! `{"Transcript": {"Results": [{"ResultId", "StartTime", "EndTime", "IsPartial",
//! "Alternatives": [{"Transcript", "Items"}]}]}}`, scripted per stream and timed against the
//! audio received: each scripted utterance gets `partials` partial results (a growing prefix
//! of its words) at evenly spaced points of its audio, then its final once its end has been
//! received, all under one `ResultId`. After the end of the audio the utterances that had
//! started are finalised and the response ends. Knobs add an exception frame
//! (`LimitExceededException`, `BadRequestException`, …) after some audio and HTTP errors for
//! the first requests.
//!
//! HTTP version: the fake serves HTTP/1.1 and HTTP/2 without TLS (prior knowledge) on one
//! port and records which one each request used ([`Recorded::http_version`]). Against an
//! `http://` endpoint the SDK (hyper's client without ALPN) speaks HTTP/1.1: the audio goes up
//! as a chunked request body while the results come down as a chunked response, both at once
//! (`rampart-transcribe`'s tests check this). Against AWS, over TLS, ALPN picks HTTP/2. So the
//! fake reads the rest of a request body after it ended its response: closing an HTTP/1.1
//! socket with unread bytes resets it, which could cost the client the last frames.

use crate::fake_bedrock::{SigV4, crc32, frame, parse_sigv4};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use futures::channel::mpsc;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

/// One scripted utterance: its words and where it lies in the stream's audio (seconds).
#[derive(Clone, Debug, PartialEq)]
pub struct Utterance {
    pub text: String,
    pub start: f64,
    pub end: f64,
}

impl Utterance {
    pub fn new(text: &str, start: f64, end: f64) -> Self {
        Self { text: text.to_owned(), start, end }
    }
}

#[derive(Clone, Debug)]
pub struct Knobs {
    /// The utterances of each stream, in the order streams are accepted; the last script
    /// serves any further stream.
    pub scripts: Vec<Vec<Utterance>>,
    /// Partial results per utterance before its final.
    pub partials: usize,
    /// Fail this many requests first with `fail_status` (429 LimitExceededException, 503
    /// ServiceUnavailableException, 400 BadRequestException, 403 AccessDeniedException, …).
    pub fail_first: usize,
    pub fail_status: u16,
    /// Once a stream received this many seconds of audio, send this exception frame
    /// (`LimitExceededException`, `BadRequestException`, …) and end the response.
    pub exception_at: Option<(f64, String)>,
}

impl Default for Knobs {
    fn default() -> Self {
        Self { scripts: Vec::new(), partials: 1, fail_first: 0, fail_status: 429, exception_at: None }
    }
}

/// What the fake received on one request.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    pub auth: Option<SigV4>,
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub http_version: String,
    pub language_code: String,
    pub sample_rate: u32,
    pub media_encoding: String,
    pub vocabulary_name: Option<String>,
    /// The `x-amz-content-sha256` header, if any.
    pub content_sha256: Option<String>,
    /// The HTTP status answered (200 for a stream).
    pub status: u16,
    /// Audio received: bytes of PCM and `AudioEvent` messages.
    pub audio_bytes: u64,
    pub audio_events: usize,
    /// Every envelope carried `:date` and a 32-byte `:chunk-signature`.
    pub envelopes_signed: usize,
    /// The empty signed envelope that ends the audio arrived.
    pub end_frame: bool,
    /// The request body ended (cleanly or not).
    pub body_ended: bool,
    /// A framing error the fake found (and answered with `BadRequestException`).
    pub framing_error: Option<String>,
    /// Results sent: (result id, is partial, transcript).
    pub results: Vec<(String, bool, String)>,
}

impl Recorded {
    /// Seconds of audio received.
    pub fn audio_secs(&self) -> f64 {
        if self.sample_rate == 0 { 0.0 } else { self.audio_bytes as f64 / 2.0 / f64::from(self.sample_rate) }
    }
}

struct Shared {
    knobs: Knobs,
    requests: Vec<Recorded>,
    accepted: usize,
}

/// A running fake Transcribe streaming endpoint; stops when dropped.
pub struct FakeTranscribe {
    /// e.g. `http://127.0.0.1:PORT` (use as the SDK's endpoint URL).
    pub base_url: String,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTranscribe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(s: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeTranscribe {
    pub async fn start(knobs: Knobs) -> FakeTranscribe {
        let shared = Arc::new(Mutex::new(Shared { knobs, requests: Vec::new(), accepted: 0 }));
        let app = axum::Router::new()
            .route("/stream-transcription", axum::routing::post(start_stream_transcription))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        // axum serves HTTP/1.1 and HTTP/2 prior knowledge (h2c) on the same listener.
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTranscribe { base_url: format!("http://{addr}"), shared, task }
    }

    /// Every request received with a well-shaped signature, in order (streams still open show
    /// what arrived so far).
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared).requests.clone()
    }

    pub fn set_knobs(&self, k: Knobs) {
        lock(&self.shared).knobs = k;
    }
}

/// A header value of the event-stream format (type byte in brackets).
#[derive(Clone, Debug, PartialEq)]
pub enum HeaderValue {
    /// 0 (true) and 1 (false).
    Bool(bool),
    /// 2.
    Byte(i8),
    /// 3.
    Short(i16),
    /// 4.
    Int(i32),
    /// 5.
    Long(i64),
    /// 6: u16 length, bytes.
    Bytes(Vec<u8>),
    /// 7: u16 length, UTF-8.
    String(String),
    /// 8: milliseconds since the epoch, i64.
    Timestamp(i64),
    /// 9: 16 bytes.
    Uuid([u8; 16]),
}

/// One decoded event-stream message.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub headers: Vec<(String, HeaderValue)>,
    pub payload: Vec<u8>,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn string(&self, name: &str) -> Option<&str> {
        match self.header(name) {
            Some(HeaderValue::String(s)) => Some(s),
            _ => None,
        }
    }
}

/// The largest message accepted (Transcribe's audio chunks are far smaller).
const MAX_MESSAGE: usize = 1 << 20;

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Decodes the message at the start of `buf`: `Ok(None)` when more bytes are needed,
/// otherwise the message and its length. CRCs and lengths are checked.
pub fn decode(buf: &[u8]) -> Result<Option<(Message, usize)>, String> {
    if buf.len() < 12 {
        return Ok(None);
    }
    let total = be32(&buf[0..4]) as usize;
    let headers_len = be32(&buf[4..8]) as usize;
    if crc32(&buf[0..8]) != be32(&buf[8..12]) {
        return Err("prelude CRC mismatch".into());
    }
    if !(16..=MAX_MESSAGE).contains(&total) || headers_len > total - 16 {
        return Err(format!("bad lengths: total {total}, headers {headers_len}"));
    }
    if buf.len() < total {
        return Ok(None);
    }
    if crc32(&buf[..total - 4]) != be32(&buf[total - 4..total]) {
        return Err("message CRC mismatch".into());
    }
    let headers = decode_headers(&buf[12..12 + headers_len])?;
    let payload = buf[12 + headers_len..total - 4].to_vec();
    Ok(Some((Message { headers, payload }, total)))
}

fn decode_headers(mut b: &[u8]) -> Result<Vec<(String, HeaderValue)>, String> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if b.len() < n {
            return Err("truncated header".into());
        }
        let (head, rest) = b.split_at(n);
        *b = rest;
        Ok(head)
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let n = take(&mut b, 1)?[0] as usize;
        let name = String::from_utf8(take(&mut b, n)?.to_vec()).map_err(|_| "header name not UTF-8")?;
        let value = match take(&mut b, 1)?[0] {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => HeaderValue::Byte(i8::from_be_bytes([take(&mut b, 1)?[0]])),
            3 => HeaderValue::Short(i16::from_be_bytes(take(&mut b, 2)?.try_into().map_err(|_| "short")?)),
            4 => HeaderValue::Int(i32::from_be_bytes(take(&mut b, 4)?.try_into().map_err(|_| "int")?)),
            5 => HeaderValue::Long(i64::from_be_bytes(take(&mut b, 8)?.try_into().map_err(|_| "long")?)),
            t @ (6 | 7) => {
                let len = u16::from_be_bytes(take(&mut b, 2)?.try_into().map_err(|_| "length")?) as usize;
                let v = take(&mut b, len)?.to_vec();
                if t == 6 {
                    HeaderValue::Bytes(v)
                } else {
                    HeaderValue::String(String::from_utf8(v).map_err(|_| "header value not UTF-8")?)
                }
            }
            8 => HeaderValue::Timestamp(i64::from_be_bytes(take(&mut b, 8)?.try_into().map_err(|_| "timestamp")?)),
            9 => HeaderValue::Uuid(take(&mut b, 16)?.try_into().map_err(|_| "uuid")?),
            t => return Err(format!("unknown header type {t}")),
        };
        out.push((name, value));
    }
    Ok(out)
}

/// An exception message as Transcribe sends one in the response stream.
pub fn exception_frame(kind: &str, message: &str) -> Vec<u8> {
    frame(
        &[(":exception-type", kind), (":content-type", "application/json"), (":message-type", "exception")],
        json!({"Message": message}).to_string().as_bytes(),
    )
}

fn transcript_frame(result: &Value) -> Vec<u8> {
    frame(
        &[(":event-type", "TranscriptEvent"), (":content-type", "application/json"), (":message-type", "event")],
        json!({"Transcript": {"Results": [result]}}).to_string().as_bytes(),
    )
}

/// An HTTP error as Transcribe sends it (restJson1: `x-amzn-errortype` and a JSON message).
fn http_error(status: u16, message: &str) -> Response {
    let kind = match status {
        400 => "BadRequestException",
        403 => "AccessDeniedException",
        409 => "ConflictException",
        429 => "LimitExceededException",
        503 => "ServiceUnavailableException",
        _ => "InternalFailureException",
    };
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        code,
        [("x-amzn-errortype", kind), ("x-amzn-requestid", "fake-request-id"), ("content-type", "application/json")],
        json!({"Message": message}).to_string(),
    )
        .into_response()
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The request's headers as recorded, or why Transcribe would refuse them.
fn read_headers(h: &HeaderMap, version: axum::http::Version) -> Result<Recorded, String> {
    let rec = Recorded {
        auth: header(h, "authorization").as_deref().and_then(parse_sigv4),
        http_version: format!("{version:?}"),
        language_code: header(h, "x-amzn-transcribe-language-code").unwrap_or_default(),
        sample_rate: header(h, "x-amzn-transcribe-sample-rate").and_then(|v| v.parse().ok()).unwrap_or(0),
        media_encoding: header(h, "x-amzn-transcribe-media-encoding").unwrap_or_default(),
        vocabulary_name: header(h, "x-amzn-transcribe-vocabulary-name"),
        content_sha256: header(h, "x-amz-content-sha256"),
        status: 200,
        ..Recorded::default()
    };
    if header(h, "content-type").as_deref() != Some("application/vnd.amazon.eventstream") {
        return Err("content-type must be application/vnd.amazon.eventstream".into());
    }
    let lang = &rec.language_code;
    if lang.len() != 5 || lang.as_bytes()[2] != b'-' {
        return Err("1 validation error detected: Value at 'languageCode' failed to satisfy constraint".into());
    }
    if !(8000..=48000).contains(&rec.sample_rate) {
        return Err("1 validation error detected: Value at 'mediaSampleRateHertz' failed to satisfy constraint".into());
    }
    if rec.media_encoding != "pcm" {
        return Err("only pcm is scripted in this fake".into());
    }
    Ok(rec)
}

async fn start_stream_transcription(State(shared): State<Arc<Mutex<Shared>>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let rec = read_headers(&parts.headers, parts.version);
    let signed = rec
        .as_ref()
        .map_or_else(|_| header(&parts.headers, "authorization").as_deref().and_then(parse_sigv4), |r| r.auth.clone());
    if signed.as_ref().is_none_or(|a| a.service != "transcribe") {
        return (
            StatusCode::FORBIDDEN,
            [("x-amzn-errortype", "MissingAuthenticationTokenException")],
            json!({"Message": "Missing Authentication Token"}).to_string(),
        )
            .into_response();
    }
    let mut s = lock(&shared);
    let mut rec = match rec {
        Ok(r) => r,
        Err(message) => {
            s.requests.push(Recorded { auth: signed, status: 400, ..Recorded::default() });
            return http_error(400, &message);
        }
    };
    if s.requests.len() < s.knobs.fail_first {
        rec.status = s.knobs.fail_status;
        s.requests.push(rec);
        return http_error(s.knobs.fail_status, "You have reached your limit of concurrent streams.");
    }
    let script = s.knobs.scripts.get(s.accepted).or(s.knobs.scripts.last()).cloned().unwrap_or_default();
    s.accepted += 1;
    let index = s.requests.len();
    let (lang, rate) = (rec.language_code.clone(), rec.sample_rate.to_string());
    s.requests.push(rec);
    let session = Session {
        shared: shared.clone(),
        index,
        script: Script::new(script, s.knobs.partials),
        exception_at: s.knobs.exception_at.clone(),
    };
    drop(s);
    let (tx, rx) = mpsc::unbounded::<Result<Bytes, Infallible>>();
    tokio::spawn(session.run(body, tx));
    (
        [
            ("content-type", "application/vnd.amazon.eventstream"),
            ("x-amzn-request-id", "fake-request-id"),
            ("x-amzn-transcribe-session-id", "fake-session-id"),
            ("x-amzn-transcribe-language-code", lang.as_str()),
            ("x-amzn-transcribe-sample-rate", rate.as_str()),
            ("x-amzn-transcribe-media-encoding", "pcm"),
        ],
        Body::from_stream(rx),
    )
        .into_response()
}

/// The results of one stream's script, released as audio arrives.
struct Script {
    utterances: Vec<(Utterance, String)>,
    partials: usize,
    /// Per utterance: partials sent, final sent.
    sent: Vec<(usize, bool)>,
}

impl Script {
    fn new(utterances: Vec<Utterance>, partials: usize) -> Self {
        let sent = vec![(0, false); utterances.len()];
        let utterances = utterances.into_iter().map(|u| (u, uuid::Uuid::now_v7().to_string())).collect();
        Self { utterances, partials, sent }
    }

    /// Results due once `secs` of audio arrived (`ended`: no more will).
    fn due(&mut self, secs: f64, ended: bool) -> Vec<Value> {
        let mut out = Vec::new();
        for (i, (u, id)) in self.utterances.iter().enumerate() {
            let (done_partials, done) = &mut self.sent[i];
            if *done {
                continue;
            }
            let span = u.end - u.start;
            while *done_partials < self.partials {
                let k = *done_partials + 1;
                let at = u.start + span * k as f64 / (self.partials + 1) as f64;
                if secs < at {
                    break;
                }
                let words: Vec<&str> = u.text.split_whitespace().collect();
                let n = (words.len() * k / (self.partials + 1)).max(1);
                out.push(result(id, u.start, at, true, &words[..n.min(words.len())].join(" ")));
                *done_partials = k;
            }
            if secs >= u.end || (ended && secs > u.start) {
                out.push(result(id, u.start, u.end.min(secs), false, &u.text));
                *done = true;
            }
        }
        out
    }
}

/// Seconds to the millisecond, as Transcribe reports them.
fn ms(secs: f64) -> f64 {
    (secs * 1000.0).round() / 1000.0
}

fn result(id: &str, start: f64, end: f64, partial: bool, text: &str) -> Value {
    let (start, end) = (ms(start), ms(end));
    let words: Vec<&str> = text.split_whitespace().collect();
    let step = (end - start) / words.len().max(1) as f64;
    let items: Vec<Value> = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            json!({"Content": w, "StartTime": ms(start + step * i as f64), "EndTime": ms(start + step * (i + 1) as f64),
                   "Type": "pronunciation", "VocabularyFilterMatch": false})
        })
        .collect();
    json!({"ResultId": id, "StartTime": start, "EndTime": end, "IsPartial": partial,
           "Alternatives": [{"Transcript": text, "Items": items}]})
}

/// One accepted stream: reads the audio envelopes and answers with results.
struct Session {
    shared: Arc<Mutex<Shared>>,
    index: usize,
    script: Script,
    exception_at: Option<(f64, String)>,
}

/// What one envelope meant.
enum Step {
    Audio,
    End,
}

impl Session {
    fn record(&self, f: impl FnOnce(&mut Recorded)) {
        if let Some(r) = lock(&self.shared).requests.get_mut(self.index) {
            f(r);
        }
    }

    fn audio_secs(&self) -> f64 {
        lock(&self.shared).requests.get(self.index).map_or(0.0, Recorded::audio_secs)
    }

    /// Checks one envelope and its inner message.
    fn envelope(&self, m: &Message) -> Result<Step, String> {
        let date = matches!(m.header(":date"), Some(HeaderValue::Timestamp(_)));
        let sig = matches!(m.header(":chunk-signature"), Some(HeaderValue::Bytes(b)) if b.len() == 32);
        if !date || !sig {
            return Err("an envelope without :date and a 32-byte :chunk-signature".into());
        }
        self.record(|r| r.envelopes_signed += 1);
        if m.payload.is_empty() {
            self.record(|r| r.end_frame = true);
            return Ok(Step::End);
        }
        let Some((inner, len)) = decode(&m.payload)? else { return Err("a truncated inner message".into()) };
        if len != m.payload.len() {
            return Err("bytes after the inner message".into());
        }
        let kinds = (inner.string(":message-type"), inner.string(":event-type"), inner.string(":content-type"));
        if kinds != (Some("event"), Some("AudioEvent"), Some("application/octet-stream")) {
            return Err(format!("unexpected inner message {kinds:?}"));
        }
        let n = inner.payload.len() as u64;
        self.record(|r| {
            r.audio_bytes += n;
            r.audio_events += 1;
        });
        Ok(Step::Audio)
    }

    /// Sends the results due; `Err` when the client has gone.
    fn answer(&mut self, tx: &mpsc::UnboundedSender<Result<Bytes, Infallible>>, ended: bool) -> Result<(), ()> {
        let due = self.script.due(self.audio_secs(), ended);
        for r in due {
            let partial = r["IsPartial"].as_bool().unwrap_or(false);
            let entry = (
                r["ResultId"].as_str().unwrap_or_default().to_owned(),
                partial,
                r["Alternatives"][0]["Transcript"].as_str().unwrap_or_default().to_owned(),
            );
            self.record(|rec| rec.results.push(entry));
            tx.unbounded_send(Ok(Bytes::from(transcript_frame(&r)))).map_err(|_| ())?;
        }
        Ok(())
    }

    async fn run(mut self, body: Body, tx: mpsc::UnboundedSender<Result<Bytes, Infallible>>) {
        let mut data = body.into_data_stream();
        let mut buf: Vec<u8> = Vec::new();
        'read: while let Some(Ok(chunk)) = data.next().await {
            buf.extend_from_slice(&chunk);
            loop {
                let step = match decode(&buf) {
                    Ok(Some((m, len))) => {
                        buf.drain(..len);
                        self.envelope(&m)
                    }
                    Ok(None) => break,
                    Err(e) => Err(e),
                };
                let ended = match step {
                    Ok(step) => matches!(step, Step::End),
                    Err(e) => {
                        self.record(|r| r.framing_error = Some(e.clone()));
                        let _ = tx.unbounded_send(Ok(Bytes::from(exception_frame("BadRequestException", &e))));
                        break 'read;
                    }
                };
                if self.answer(&tx, ended).is_err() {
                    break 'read;
                }
                if let Some((at, kind)) = self.exception_at.clone()
                    && self.audio_secs() >= at
                {
                    let _ = tx.unbounded_send(Ok(Bytes::from(exception_frame(&kind, "Scripted failure."))));
                    break 'read;
                }
                if ended {
                    break 'read;
                }
            }
        }
        // The response ends here (Transcribe's last results, or its exception, were sent). The
        // rest of the request body is read to its end: over HTTP/1.1, closing a socket with
        // unread bytes resets it, and the client could lose the response's last frames.
        drop(tx);
        while let Some(Ok(_)) = data.next().await {}
        self.record(|r| r.body_ended = true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A raw HTTP/1.1 request whose body is one unsigned AudioEvent: the fake must refuse it.
    #[tokio::test]
    async fn an_unsigned_audio_event_is_refused_with_bad_request() {
        let fake = FakeTranscribe::start(Knobs::default()).await;
        let inner = frame(
            &[(":message-type", "event"), (":event-type", "AudioEvent"), (":content-type", "application/octet-stream")],
            &[0; 3200],
        );
        let sig = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let head = format!(
            "POST /stream-transcription HTTP/1.1\r\nhost: x\r\ncontent-type: application/vnd.amazon.eventstream\r\n\
             authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/transcribe/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature={sig}\r\nx-amzn-transcribe-language-code: en-US\r\n\
             x-amzn-transcribe-sample-rate: 16000\r\nx-amzn-transcribe-media-encoding: pcm\r\n\
             connection: close\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n",
            inner.len()
        );
        let mut tcp =
            tokio::net::TcpStream::connect(fake.base_url.trim_start_matches("http://")).await.expect("connect");
        tcp.write_all(head.as_bytes()).await.expect("write");
        tcp.write_all(&inner).await.expect("write");
        tcp.write_all(b"\r\n0\r\n\r\n").await.expect("write");
        let mut answer = Vec::new();
        tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read_to_end(&mut answer))
            .await
            .expect("the fake answers and closes")
            .expect("read");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("BadRequestException"), "{answer}");
        let r = &fake.requests()[0];
        assert_eq!((r.audio_bytes, r.envelopes_signed), (0, 0));
        assert!(r.framing_error.as_deref().is_some_and(|e| e.contains(":chunk-signature")), "{r:?}");
    }

    #[test]
    fn decode_reads_what_frame_writes_and_checks_crcs() {
        let f = frame(&[(":message-type", "event"), (":event-type", "AudioEvent")], b"\x01\x02");
        let (m, len) = decode(&f).unwrap().unwrap();
        assert_eq!(len, f.len());
        assert_eq!(m.string(":event-type"), Some("AudioEvent"));
        assert_eq!(m.payload, vec![1, 2]);
        assert_eq!(decode(&f[..f.len() - 1]).unwrap(), None, "incomplete");
        let mut bad = f.clone();
        bad[20] ^= 1;
        assert!(decode(&bad).is_err(), "message CRC");
        bad = f;
        bad[5] ^= 1;
        assert!(decode(&bad).is_err(), "prelude CRC");
    }

    #[test]
    fn typed_headers_are_decoded() {
        // `:date` as a timestamp (8) and a signature as bytes (6), by hand.
        let mut h = Vec::new();
        h.push(5u8);
        h.extend_from_slice(b":date");
        h.push(8);
        h.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
        h.push(16u8);
        h.extend_from_slice(b":chunk-signature");
        h.push(6);
        h.extend_from_slice(&2u16.to_be_bytes());
        h.extend_from_slice(&[0xab, 0xcd]);
        assert_eq!(
            decode_headers(&h).unwrap(),
            vec![
                (":date".to_owned(), HeaderValue::Timestamp(1_700_000_000_000)),
                (":chunk-signature".to_owned(), HeaderValue::Bytes(vec![0xab, 0xcd]))
            ]
        );
        assert!(decode_headers(&h[..h.len() - 1]).is_err());
    }

    #[test]
    fn scripts_release_partials_then_the_final_as_audio_arrives() {
        let mut s = Script::new(vec![Utterance::new("one two three four", 1.0, 3.0)], 1);
        assert!(s.due(1.5, false).is_empty());
        let p = s.due(2.0, false);
        assert_eq!((p.len(), p[0]["IsPartial"].as_bool(), p[0]["EndTime"].as_f64()), (1, Some(true), Some(2.0)));
        assert_eq!(p[0]["Alternatives"][0]["Transcript"], "one two");
        let f = s.due(3.0, false);
        assert_eq!((f[0]["IsPartial"].as_bool(), f[0]["ResultId"].clone()), (Some(false), p[0]["ResultId"].clone()));
        assert!(s.due(9.0, true).is_empty());
        let mut cut = Script::new(vec![Utterance::new("a b", 1.0, 3.0), Utterance::new("c", 5.0, 6.0)], 0);
        let f = cut.due(2.5, true);
        assert_eq!((f.len(), f[0]["EndTime"].as_f64()), (1, Some(2.5)), "started utterances end with the audio");
    }
}
