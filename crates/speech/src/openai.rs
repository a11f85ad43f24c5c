//! The remote engine: an OpenAI-compatible transcription server (OpenAI, faster-whisper-server /
//! speaches, vLLM, whisper.cpp's server) behind the speech port. Such servers transcribe files,
//! not streams, so the utterance driver (`segmented`) cuts each stream by voice activity and
//! every closed utterance goes out as a 16 kHz mono 16-bit WAV (`providers::transcription`);
//! the answer's text is the utterance's final, timed by the detector.
//!
//! Requests of every stream share `openai_max_concurrent` slots. A final waits for a slot and is
//! retried on 408/409/429/5xx and network failures (`openai_max_retries`, backoff, `Retry-After`);
//! while it is, the stream's later utterances queue behind it, so none is dropped and their
//! order holds. A failure that outlasts the retries ends the stream with the error — retryable
//! when the server may recover (overload, outage), so the meeting reopens a stream at its next
//! audio with the time offset carried. Partials (off unless `partial_interval` is set: each is
//! a request) re-send the open utterance when a slot is free at once, are tried once, and a
//! failed one is skipped. Neither audio, text nor the key reach the logs.

use crate::config::SpeechConfig;
use crate::segmented::{self, SAMPLE_RATE, SegmentedOptions, Transcribe};
use rampart_core::config::ConfigError;
use rampart_core::embed::BoxFuture;
use rampart_core::speech::{SpeechError, SpeechRecognizer, SpeechStream, StreamSpec};
use rampart_providers::ProviderError;
use rampart_providers::transcription::{OpenAiTranscription, TranscriptionConfig, TranscriptionRequest, wav_pcm16};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The remote recogniser.
#[derive(Debug)]
pub struct OpenAiSpeech {
    remote: Arc<Remote>,
    options: SegmentedOptions,
    /// The configured language (BCP-47), when a stream names none.
    language: Option<String>,
}

/// What every stream shares: the client and the request slots.
#[derive(Debug)]
struct Remote {
    client: OpenAiTranscription,
    slots: Semaphore,
    prompt: Option<String>,
}

/// How the engine runs, once the configuration is read.
#[derive(Clone, Debug)]
pub struct OpenAiOptions {
    pub transcription: TranscriptionConfig,
    pub max_concurrent: usize,
    pub prompt: Option<String>,
    pub language: Option<String>,
    pub segmented: SegmentedOptions,
}

impl OpenAiSpeech {
    pub fn new(o: OpenAiOptions) -> Result<Self, ProviderError> {
        let client = OpenAiTranscription::new(o.transcription)?;
        let remote = Remote { client, slots: Semaphore::new(o.max_concurrent.max(1)), prompt: o.prompt };
        Ok(Self { remote: Arc::new(remote), options: o.segmented, language: o.language })
    }

    /// The engine `[speech]` describes (`validate` passed); reading the key file can still fail.
    pub fn from_config(c: &SpeechConfig) -> Result<Self, ConfigError> {
        let base = c.openai_base_url.as_deref().unwrap_or_default();
        let base_url = url::Url::parse(base).map_err(|e| ConfigError::new("openai_base_url", e.to_string()))?;
        let transcription = TranscriptionConfig {
            base_url,
            model: c.openai_model.clone(),
            api_key: c.openai_api_key()?,
            timeout: c.openai_timeout.0,
            max_retries: c.openai_max_retries,
        };
        let segmented =
            SegmentedOptions { partial_every: c.partial_every(), segments: c.segments(), ..Default::default() };
        Self::new(OpenAiOptions {
            transcription,
            max_concurrent: c.openai_max_concurrent,
            prompt: c.openai_prompt.clone(),
            language: c.openai_language.clone(),
            segmented,
        })
        .map_err(|e| ConfigError::new("openai_base_url", e.to_string()))
    }
}

impl SpeechRecognizer for OpenAiSpeech {
    fn engine(&self) -> &str {
        "openai"
    }

    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn open(&self, spec: StreamSpec) -> BoxFuture<'_, Result<SpeechStream, SpeechError>> {
        // OpenAI's API takes ISO-639-1: the primary subtag of a BCP-47 tag.
        let language = spec.language.or_else(|| self.language.clone()).map(|l| primary_subtag(&l));
        let engine = StreamEngine { remote: self.remote.clone(), language };
        let stream = segmented::open(Arc::new(engine), self.options, spec.label);
        Box::pin(async move { Ok(stream) })
    }
}

fn primary_subtag(tag: &str) -> String {
    tag.split('-').next().unwrap_or_default().to_ascii_lowercase()
}

/// One stream's view of the remote engine.
struct StreamEngine {
    remote: Arc<Remote>,
    language: Option<String>,
}

impl StreamEngine {
    async fn request(&self, audio: &[f32], max_retries: Option<u32>) -> Result<Option<String>, ProviderError> {
        let pcm: Vec<i16> = audio.iter().map(|s| (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16).collect();
        let wav = wav_pcm16(&pcm, SAMPLE_RATE);
        let req = TranscriptionRequest {
            language: self.language.as_deref(),
            prompt: self.remote.prompt.as_deref(),
            max_retries,
        };
        let text = self.remote.client.transcribe(&wav, &req).await?;
        let text = text.trim();
        Ok((!text.is_empty()).then(|| text.to_owned()))
    }
}

impl Transcribe for StreamEngine {
    fn final_text(&self, audio: Vec<f32>) -> BoxFuture<'_, Result<Option<String>, SpeechError>> {
        Box::pin(async move {
            let _slot = self.remote.slots.acquire().await.map_err(|_| SpeechError::new(false, "closed"))?;
            self.request(&audio, None)
                .await
                .map_err(|e| SpeechError::new(e.retryable, format!("transcription server: {e}")))
        })
    }

    fn partial_text(&self, audio: Vec<f32>) -> BoxFuture<'_, Result<Option<String>, SpeechError>> {
        Box::pin(async move {
            let Ok(_slot) = self.remote.slots.try_acquire() else { return Ok(None) };
            match self.request(&audio, Some(0)).await {
                Ok(text) => Ok(text),
                Err(e) => {
                    tracing::debug!(status = ?e.status, kind = ?e.kind, "a partial transcription failed; skipped");
                    Ok(None)
                }
            }
        })
    }
}
