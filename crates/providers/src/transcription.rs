//! OpenAI's audio transcription API, as OpenAI, faster-whisper-server (speaches), vLLM and
//! whisper.cpp's server speak it: `POST {base_url}/audio/transcriptions`, `multipart/form-data`
//! with the audio as a WAV `file`, `model`, optional `language` (ISO-639-1) and `prompt`, and
//! `response_format=json`; the answer is `{"text": "…"}`. The bearer key is sent when one is
//! configured. Same retry rules as the other HTTP clients (`http::send`: 408/409/429/5xx and
//! network failures, `Retry-After` honoured); the text is never logged.

use crate::error::{ProviderError, ProviderErrorKind};
use crate::http;
use rampart_core::Secret;
use std::time::Duration;

/// Where and how to transcribe.
#[derive(Clone, Debug)]
pub struct TranscriptionConfig {
    /// The API root, e.g. `https://api.openai.com/v1`.
    pub base_url: url::Url,
    /// The upstream's model name (`whisper-1`, `Systran/faster-whisper-small`…).
    pub model: String,
    pub api_key: Option<Secret<String>>,
    /// To the response headers, and then to the whole body.
    pub timeout: Duration,
    pub max_retries: u32,
}

/// What one request asks besides the audio.
#[derive(Clone, Copy, Debug, Default)]
pub struct TranscriptionRequest<'a> {
    /// ISO-639-1 (`en`).
    pub language: Option<&'a str>,
    /// Text the model should continue from (vocabulary, spelling of names).
    pub prompt: Option<&'a str>,
    /// Retries of this request (partials are not worth retrying); `None`: the configured ones.
    pub max_retries: Option<u32>,
}

/// A client of one transcription endpoint.
#[derive(Clone, Debug)]
pub struct OpenAiTranscription {
    http: reqwest::Client,
    endpoint: url::Url,
    cfg: TranscriptionConfig,
}

#[derive(serde::Deserialize)]
struct Answer {
    text: String,
}

impl OpenAiTranscription {
    pub fn new(cfg: TranscriptionConfig) -> Result<Self, ProviderError> {
        let endpoint = http::join(&cfg.base_url, "audio/transcriptions")?;
        Ok(Self { http: http::client(cfg.timeout)?, endpoint, cfg })
    }

    fn form(&self, wav: &[u8], req: &TranscriptionRequest<'_>) -> Result<reqwest::multipart::Form, ProviderError> {
        let file = reqwest::multipart::Part::bytes(wav.to_vec())
            .file_name("audio.wav")
            .mime_str("audio/wav")
            .map_err(|e| ProviderError::new(ProviderErrorKind::Config, false, format!("multipart: {e}")))?;
        let mut form = reqwest::multipart::Form::new()
            .part("file", file)
            .text("model", self.cfg.model.clone())
            .text("response_format", "json");
        if let Some(l) = req.language {
            form = form.text("language", l.to_owned());
        }
        if let Some(p) = req.prompt {
            form = form.text("prompt", p.to_owned());
        }
        Ok(form)
    }

    /// The text of `wav` (a whole WAV file).
    pub async fn transcribe(&self, wav: &[u8], req: &TranscriptionRequest<'_>) -> Result<String, ProviderError> {
        // Built once to surface a bad part before any request; rebuilt per attempt (a form is
        // consumed by sending it).
        self.form(wav, req)?;
        let key = self.cfg.api_key.as_ref().map(|k| k.expose().as_str());
        let make = || {
            let r = self.http.post(self.endpoint.clone());
            // Checked above: building the same form again cannot fail.
            let r = match self.form(wav, req) {
                Ok(f) => r.multipart(f),
                Err(_) => r,
            };
            match key {
                Some(k) => r.bearer_auth(k),
                None => r,
            }
        };
        let retries = req.max_retries.unwrap_or(self.cfg.max_retries);
        let resp = http::send(make, self.cfg.timeout, retries, key.as_slice()).await?;
        let body = tokio::time::timeout(self.cfg.timeout, resp.bytes())
            .await
            .map_err(|_| {
                ProviderError::new(ProviderErrorKind::Timeout, true, "the transcription did not arrive in time")
            })?
            .map_err(|e| ProviderError::from_reqwest(&e))?;
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| {
            ProviderError::new(ProviderErrorKind::Protocol, false, format!("not a transcription answer: {e}"))
        })?;
        Ok(answer.text)
    }
}

/// A canonical 44-byte-header WAV file of 16-bit mono PCM at `rate`.
pub fn wav_pcm16(samples: &[i16], rate: u32) -> Vec<u8> {
    let data = u32::try_from(samples.len() * 2).unwrap_or(u32::MAX - 36);
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}
