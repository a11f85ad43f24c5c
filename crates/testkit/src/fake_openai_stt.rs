//! A fake OpenAI-compatible transcription server speaking the real wire format: `POST
//! /v1/audio/transcriptions`, `multipart/form-data` read with a real multipart parser (axum's,
//! over `multer`). Strict as the real API is: `file` (a RIFF/WAVE file of 16-bit PCM, checked
//! chunk by chunk) and `model` are required, `language`, `prompt`, `response_format` (`json`,
//! `verbose_json`, `text`) and `temperature` are optional, anything else or a duplicate is
//! refused; refusals are 400 with OpenAI's error JSON. A configured bearer key is checked (401
//! otherwise). Knobs: the texts answered in turn, failing the first N valid requests with a
//! status (and `Retry-After`), a delay per answer. It records every valid request: model,
//! language, prompt, and the audio's rate, channels and duration.

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug, Default)]
pub struct SttKnobs {
    /// Answered in turn: the n-th answered request gets `texts[n % len]` (none: "").
    pub texts: Vec<String>,
    /// When set, requests must carry `Authorization: Bearer <api_key>`.
    pub api_key: Option<String>,
    /// Fail this many valid requests first, with `fail_status` and `retry_after` (seconds).
    pub fail_first: usize,
    pub fail_status: u16,
    pub retry_after: Option<u64>,
    /// Before each answer (failures included).
    pub delay: Duration,
}

/// A valid request, as received.
#[derive(Clone, Debug, PartialEq)]
pub struct SttRequest {
    pub model: String,
    pub language: Option<String>,
    pub prompt: Option<String>,
    pub response_format: String,
    pub file_name: Option<String>,
    pub sample_rate: u32,
    pub channels: u16,
    /// Seconds of audio in the file.
    pub duration: f64,
    /// What it was answered: 200, or the failure status of `fail_first`.
    pub status: u16,
}

#[derive(Default)]
struct Shared {
    knobs: SttKnobs,
    requests: Vec<SttRequest>,
    answered: usize,
    in_flight: usize,
    peak_in_flight: usize,
}

/// A running fake transcription server; stops when dropped.
pub struct FakeOpenAiStt {
    /// e.g. `http://127.0.0.1:PORT/v1`
    pub base_url: String,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeOpenAiStt {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(s: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeOpenAiStt {
    pub async fn start(knobs: SttKnobs) -> FakeOpenAiStt {
        let shared = Arc::new(Mutex::new(Shared { knobs, ..Shared::default() }));
        let app = axum::Router::new()
            .route("/v1/audio/transcriptions", axum::routing::post(transcribe))
            // OpenAI's limit on uploaded audio.
            .layer(DefaultBodyLimit::max(25 * 1024 * 1024))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeOpenAiStt { base_url: format!("http://{addr}/v1"), shared, task }
    }

    /// Every valid request received, in order of arrival.
    pub fn requests(&self) -> Vec<SttRequest> {
        lock(&self.shared).requests.clone()
    }

    /// The most valid requests it was answering at once.
    pub fn peak_in_flight(&self) -> usize {
        lock(&self.shared).peak_in_flight
    }

    pub fn set_knobs(&self, k: SttKnobs) {
        lock(&self.shared).knobs = k;
    }
}

/// OpenAI's error shape.
fn error(status: StatusCode, kind: &str, param: Option<&str>, message: &str) -> Response {
    (status, Json(json!({"error": {"message": message, "type": kind, "param": param, "code": null}}))).into_response()
}

fn invalid(param: Option<&str>, message: &str) -> Box<Response> {
    Box::new(error(StatusCode::BAD_REQUEST, "invalid_request_error", param, message))
}

/// The parts of a request.
#[derive(Default)]
struct Form {
    file: Option<(Option<String>, Vec<u8>)>,
    text: std::collections::BTreeMap<String, String>,
}

const TEXT_FIELDS: &[&str] = &["model", "language", "prompt", "response_format", "temperature"];

async fn read_form(mut m: Multipart) -> Result<Form, Box<Response>> {
    let mut form = Form::default();
    loop {
        let field = match m.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(form),
            Err(e) => return Err(invalid(None, &format!("malformed multipart body: {e}"))),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" && form.file.is_none() {
            let file_name = field.file_name().map(str::to_owned);
            let bytes = field.bytes().await.map_err(|e| invalid(Some("file"), &format!("unreadable file: {e}")))?;
            form.file = Some((file_name, bytes.to_vec()));
        } else if TEXT_FIELDS.contains(&name.as_str()) && !form.text.contains_key(&name) {
            let v = field.text().await.map_err(|_| invalid(Some(&name), "not text"))?;
            form.text.insert(name, v);
        } else {
            return Err(invalid(Some(&name), &format!("Unrecognized or repeated request argument supplied: {name}")));
        }
    }
}

/// The format of a WAV file: (rate, channels, seconds), checked chunk by chunk.
pub fn parse_wav(b: &[u8]) -> Result<(u32, u16, f64), String> {
    let u32_at = |i: usize| b.get(i..i + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]));
    let u16_at = |i: usize| b.get(i..i + 2).map(|s| u16::from_le_bytes([s[0], s[1]]));
    if b.get(..4) != Some(b"RIFF") || b.get(8..12) != Some(b"WAVE") {
        return Err("not a RIFF/WAVE file".into());
    }
    if u32_at(4).map(|n| n as usize + 8) != Some(b.len()) {
        return Err("the RIFF size does not match the file".into());
    }
    let (mut at, mut fmt) = (12usize, None);
    while at + 8 <= b.len() {
        let id = &b[at..at + 4];
        let size = u32_at(at + 4).unwrap_or_default() as usize;
        let body = at + 8;
        if body + size > b.len() {
            return Err("a chunk runs past the end of the file".into());
        }
        if id == b"fmt " {
            let f = (
                u16_at(body),
                u16_at(body + 2),
                u32_at(body + 4),
                u32_at(body + 8),
                u16_at(body + 12),
                u16_at(body + 14),
            );
            let (Some(1), Some(ch @ 1..=2), Some(rate @ 8000..=48_000), Some(bps), Some(align), Some(16)) = f else {
                return Err("only 16-bit PCM, 1-2 channels, 8-48 kHz".into());
            };
            if size < 16 || u32::from(align) != u32::from(ch) * 2 || bps != rate * u32::from(align) {
                return Err("inconsistent fmt chunk".into());
            }
            fmt = Some((rate, ch, align));
        } else if id == b"data" {
            let (rate, ch, align) = fmt.ok_or("data before fmt")?;
            if !size.is_multiple_of(usize::from(align)) {
                return Err("the data is not whole frames".into());
            }
            return Ok((rate, ch, (size / usize::from(align)) as f64 / f64::from(rate)));
        }
        at = body + size + size % 2;
    }
    Err("no data chunk".into())
}

/// Checks the form; the request as it is recorded.
fn check(form: Form) -> Result<SttRequest, Box<Response>> {
    let Some((file_name, bytes)) = form.file else { return Err(invalid(Some("file"), "file is required")) };
    let model = form.text.get("model").cloned().unwrap_or_default();
    if model.is_empty() {
        return Err(invalid(Some("model"), "model is required"));
    }
    let response_format = form.text.get("response_format").cloned().unwrap_or_else(|| "json".into());
    if !["json", "verbose_json", "text"].contains(&response_format.as_str()) {
        return Err(invalid(Some("response_format"), "unsupported response_format"));
    }
    let (sample_rate, channels, duration) = parse_wav(&bytes).map_err(|e| invalid(Some("file"), &e))?;
    if duration < 0.1 {
        return Err(invalid(Some("file"), "Audio file is too short. Minimum audio length is 0.1 seconds."));
    }
    Ok(SttRequest {
        model,
        language: form.text.get("language").cloned(),
        prompt: form.text.get("prompt").cloned(),
        response_format,
        file_name,
        sample_rate,
        channels,
        duration,
        status: 200,
    })
}

async fn transcribe(
    State(shared): State<Arc<Mutex<Shared>>>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let knobs = lock(&shared).knobs.clone();
    if let Some(key) = &knobs.api_key {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some(format!("Bearer {key}").as_str()) {
            return error(StatusCode::UNAUTHORIZED, "invalid_request_error", None, "Incorrect API key provided.");
        }
    }
    let form = match multipart {
        Ok(m) => read_form(m).await,
        Err(e) => Err(invalid(None, &format!("the body must be multipart/form-data: {e}"))),
    };
    let mut req = match form.and_then(check) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let (n, text) = {
        let mut s = lock(&shared);
        let n = s.requests.len() + 1;
        if n <= knobs.fail_first {
            req.status = knobs.fail_status;
        }
        s.requests.push(req.clone());
        s.in_flight += 1;
        s.peak_in_flight = s.peak_in_flight.max(s.in_flight);
        let text = if req.status == 200 {
            s.answered += 1;
            knobs.texts.get((s.answered - 1) % knobs.texts.len().max(1)).cloned().unwrap_or_default()
        } else {
            String::new()
        };
        (n, text)
    };
    tokio::time::sleep(knobs.delay).await;
    lock(&shared).in_flight -= 1;
    if n <= knobs.fail_first {
        let status = StatusCode::from_u16(knobs.fail_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let mut r = error(status, "server_error", None, "The server is overloaded.");
        if let Some(ra) = knobs.retry_after {
            r.headers_mut().insert("retry-after", ra.into());
        }
        return r;
    }
    match req.response_format.as_str() {
        "text" => text.into_response(),
        "verbose_json" => {
            Json(json!({"task": "transcribe", "language": req.language.unwrap_or_else(|| "english".into()),
            "duration": req.duration, "text": text, "segments": []}))
            .into_response()
        }
        _ => Json(json!({"text": text})).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(rate: u32, samples: usize) -> Vec<u8> {
        let data = (samples * 2) as u32;
        let mut b = b"RIFF".to_vec();
        b.extend((36 + data).to_le_bytes());
        b.extend(b"WAVEfmt ");
        b.extend(16u32.to_le_bytes());
        b.extend(1u16.to_le_bytes());
        b.extend(1u16.to_le_bytes());
        b.extend(rate.to_le_bytes());
        b.extend((rate * 2).to_le_bytes());
        b.extend(2u16.to_le_bytes());
        b.extend(16u16.to_le_bytes());
        b.extend(b"data");
        b.extend(data.to_le_bytes());
        b.extend(vec![0u8; samples * 2]);
        b
    }

    #[test]
    fn wav_files_are_checked() {
        assert_eq!(parse_wav(&wav(16_000, 8000)), Ok((16_000, 1, 0.5)));
        let mut short = wav(16_000, 8000);
        short.truncate(100);
        assert!(parse_wav(&short).is_err());
        let mut float = wav(16_000, 10);
        float[20] = 3; // IEEE float
        assert!(parse_wav(&float).is_err());
        assert!(parse_wav(b"RIFF\x04\x00\x00\x00WAVE").is_err());
        assert!(parse_wav(b"not a wav").is_err());
    }
}
