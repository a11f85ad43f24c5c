//! `rampart-transcribe`: Amazon Transcribe streaming (StartStreamTranscription) behind
//! `core`'s speech port, through the official SDK (`aws-sdk-transcribestreaming`, no default
//! features: the tree's one HTTP/TLS stack, hyper and rustls with aws-lc-rs). Its own crate,
//! like `whisper`, so that the SDK's build stays out of `speech` and is compiled only with
//! `server`'s cargo feature `transcribe`.
//!
//! One request per stream (one channel of one meeting): the audio goes up as `AudioEvent`s in
//! SigV4-signed event-stream messages while `TranscriptEvent`s come down, both at once — over
//! HTTP/2 to AWS (TLS, chosen by ALPN), over full-duplex chunked HTTP/1.1 to a plain `http://`
//! endpoint (testkit's fake). The SDK's `send` returns only with the service's first event, so
//! the request runs in a task of its own and the stream is handed out at once.
//! Each result of a `TranscriptEvent` becomes a [`Hypothesis`]: `IsPartial` true a partial,
//! false the final, numbered per `ResultId` ([`numbering`]), timed by its `StartTime` and
//! `EndTime` (seconds from the stream's start, as the port wants).
//!
//! Credentials: static keys from configuration, as Bedrock and KMS take them. The SDK's
//! default chain (environment, profiles, SSO, instance roles) lives in `aws-config`, which is
//! not compiled in. Keys never reach logs or errors.
//!
//! Retries and timeouts: the SDK does not retry (an event stream cannot be replayed); a
//! failure ends the hypotheses stream with a [`SpeechError`] saying whether a new stream may
//! succeed, and `meetings` reopens it. Opening waits at most [`OPEN_TIMEOUT`] for the response's
//! headers; once open, a stream has no read timeout (Transcribe is silent while nobody speaks) and the SDK's
//! stalled-stream check is off for the same reason.

mod error;
pub mod numbering;
mod results;
mod sink;

use aws_sdk_transcribestreaming as sdk;
use futures::StreamExt;
use rampart_core::Secret;
use rampart_core::embed::BoxFuture;
use rampart_core::speech::{SpeechError, SpeechRecognizer, SpeechStream, StreamSpec};
use sdk::config::retry::RetryConfig;
use sdk::config::timeout::TimeoutConfig;
use sdk::config::{BehaviorVersion, Credentials, Region, StalledStreamProtectionConfig};
use sdk::types::{AudioStream, LanguageCode, MediaEncoding};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The rate it asks for (Transcribe takes 8 kHz too; meetings resample to this).
pub const SAMPLE_RATE: u32 = 16_000;
/// How long opening a stream may take (connection and the response's headers; not the wait
/// for the first result, which comes only when someone speaks).
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
/// Audio events queued per stream before `send` waits (each 100-200 ms of audio).
const QUEUE: usize = 16;

/// What the engine needs, checked by the `[speech]` section.
#[derive(Clone, Debug)]
pub struct TranscribeOptions {
    /// e.g. `us-east-1`.
    pub region: String,
    /// BCP-47 code Transcribe knows, e.g. `en-US` (a stream's own language wins).
    pub language: String,
    /// Instead of the regional endpoint: a VPC endpoint, or a fake in tests.
    pub endpoint: Option<String>,
    /// A custom vocabulary's name.
    pub vocabulary: Option<String>,
    pub access_key_id: Secret<String>,
    pub secret_access_key: Secret<String>,
    /// For temporary credentials.
    pub session_token: Option<Secret<String>>,
}

/// The engine: an SDK client shared by every stream.
#[derive(Clone, Debug)]
pub struct Transcribe {
    client: sdk::Client,
    opts: Arc<TranscribeOptions>,
}

impl Transcribe {
    /// Builds the SDK client (no I/O: the credentials are static).
    pub fn new(opts: TranscribeOptions) -> Result<Self, String> {
        if opts.region.trim().is_empty() {
            return Err("transcribe needs a region".into());
        }
        let creds = Credentials::new(
            opts.access_key_id.expose(),
            opts.secret_access_key.expose(),
            opts.session_token.as_ref().map(|t| t.expose().clone()),
            None,
            "rampart-config",
        );
        // The attempt timeout bounds the SDK's orchestration, which ends with the response's
        // headers; the streamed body after them is not bounded.
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .operation_attempt_timeout(OPEN_TIMEOUT)
            .build();
        let mut b = sdk::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(opts.region.clone()))
            .credentials_provider(creds)
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts)
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
        if let Some(u) = &opts.endpoint {
            b = b.endpoint_url(u.trim_end_matches('/'));
        }
        Ok(Self { client: sdk::Client::from_conf(b.build()), opts: Arc::new(opts) })
    }

    /// The error with the configured credentials removed (defence in depth: service messages
    /// are not expected to quote them).
    pub(crate) fn redacted(&self, mut e: SpeechError) -> SpeechError {
        e.detail = error::redact(e.detail, &self.opts);
        e
    }

    /// Starts the request in a task of its own and returns at once: the SDK's `send` returns
    /// only with the service's first event, which comes after audio, and the audio can only
    /// flow once the caller has the sink. A refusal (HTTP 4xx/5xx, no connection) is the
    /// hypotheses stream's first item and the sink's next error.
    fn start(&self, spec: StreamSpec) -> SpeechStream {
        let (tx, rx) = futures::channel::mpsc::channel::<AudioStream>(QUEUE);
        let language = spec.language.unwrap_or_else(|| self.opts.language.clone());
        let request = self
            .client
            .start_stream_transcription()
            .language_code(LanguageCode::from(language.as_str()))
            .media_sample_rate_hertz(SAMPLE_RATE as i32)
            .media_encoding(MediaEncoding::Pcm)
            .set_vocabulary_name(self.opts.vocabulary.clone())
            .audio_stream(rx.map(Ok).into())
            .send();
        tracing::debug!(stream = %spec.label, "transcribe stream opening");
        let opening = results::AbortOnDrop(tokio::spawn(request));
        let (failed, failure) = watch::channel(None);
        let sink = sink::Sink::new(tx, failure);
        let hypotheses = results::hypotheses(self.clone(), opening, failed);
        SpeechStream { audio: Box::new(sink), hypotheses }
    }
}

impl SpeechRecognizer for Transcribe {
    fn engine(&self) -> &str {
        "transcribe"
    }

    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn open(&self, spec: StreamSpec) -> BoxFuture<'_, Result<SpeechStream, SpeechError>> {
        let stream = self.start(spec);
        Box::pin(async move { Ok(stream) })
    }
}
