//! The `core::speech` port over Whisper, through `speech`'s utterance driver (`segmented`: the
//! voice activity detector cutting each stream into utterances, partials while one is open,
//! finals in order): a partial hypothesis of the open utterance every `partial_every` when a
//! decoder is free (partials are skipped, never queued, when none is), and the final one when
//! the speaker pauses (finals wait for a decoder: they are never dropped). Decodes run on
//! blocking threads, at most `replicas` at once for all streams.

use crate::model::{Decode, Engine, ModelError};
use rampart_core::embed::BoxFuture;
use rampart_core::speech::{SpeechError, SpeechRecognizer, SpeechStream, StreamSpec};
use rampart_speech::segmented::{self, SegmentedOptions, Transcribe};
use rampart_speech::vad::SegParams;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The rate Whisper takes.
pub const SAMPLE_RATE: u32 = 16_000;
/// Above this, Whisper's "no speech" estimate with a short text is taken as no speech
/// (its hallucinations on noise).
const NO_SPEECH: f32 = 0.6;

/// How the recogniser runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WhisperOptions {
    /// Decodes at once, all streams together (each a copy of the weights, ~45-190 MB).
    pub replicas: usize,
    /// Threads per decode.
    pub threads: usize,
    /// A partial hypothesis of the open utterance this often (`None`: finals only).
    pub partial_every: Option<Duration>,
    pub segments: SegParams,
}

impl Default for WhisperOptions {
    fn default() -> Self {
        Self { replicas: 1, threads: 1, partial_every: Some(Duration::from_secs(1)), segments: SegParams::default() }
    }
}

impl WhisperOptions {
    fn segmented(&self) -> SegmentedOptions {
        SegmentedOptions { partial_every: self.partial_every, segments: self.segments, ..SegmentedOptions::default() }
    }
}

/// The embedded recogniser.
#[derive(Debug)]
pub struct Whisper {
    engine: Arc<Engine>,
    decoders: Arc<Semaphore>,
    options: WhisperOptions,
}

impl Whisper {
    /// Loads the model (and decodes a second of silence, so the first utterance is not slow).
    pub fn load(dir: &Path, options: WhisperOptions) -> Result<Self, ModelError> {
        let engine = Engine::load(dir, options.replicas, options.threads)?;
        engine.transcribe(&vec![0.0; SAMPLE_RATE as usize], Decode::PARTIAL)?;
        Ok(Self { engine: Arc::new(engine), decoders: Arc::new(Semaphore::new(options.replicas.max(1))), options })
    }
}

/// The recogniser, its model loaded at the first stream (an idle server keeps its memory; a
/// missing model fails the streams that need it, not the server's start).
#[derive(Debug)]
pub struct LazyWhisper {
    dir: std::path::PathBuf,
    options: WhisperOptions,
    loaded: tokio::sync::OnceCell<Arc<Whisper>>,
}

impl LazyWhisper {
    pub fn new(dir: std::path::PathBuf, options: WhisperOptions) -> Self {
        Self { dir, options, loaded: tokio::sync::OnceCell::new() }
    }

    async fn get(&self) -> Result<&Arc<Whisper>, SpeechError> {
        self.loaded
            .get_or_try_init(|| async {
                let (dir, options) = (self.dir.clone(), self.options);
                let t = std::time::Instant::now();
                let w = tokio::task::spawn_blocking(move || Whisper::load(&dir, options))
                    .await
                    .map_err(|e| SpeechError::new(false, format!("loading Whisper: {e}")))?
                    .map_err(|e| SpeechError::new(false, e.to_string()))?;
                tracing::info!(ms = t.elapsed().as_millis() as u64, "Whisper model loaded");
                Ok(Arc::new(w))
            })
            .await
    }
}

impl SpeechRecognizer for LazyWhisper {
    fn engine(&self) -> &str {
        "whisper"
    }

    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn open(&self, spec: StreamSpec) -> BoxFuture<'_, Result<SpeechStream, SpeechError>> {
        Box::pin(async move { self.get().await?.open(spec).await })
    }
}

impl SpeechRecognizer for Whisper {
    fn engine(&self) -> &str {
        "whisper"
    }

    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn open(&self, spec: StreamSpec) -> BoxFuture<'_, Result<SpeechStream, SpeechError>> {
        let decoder = Decoder { engine: self.engine.clone(), decoders: self.decoders.clone() };
        let stream = segmented::open(Arc::new(decoder), self.options.segmented(), spec.label);
        Box::pin(async move { Ok(stream) })
    }
}

/// Whisper as the utterance driver's engine: `replicas` decodes at once for every stream.
struct Decoder {
    engine: Arc<Engine>,
    decoders: Arc<Semaphore>,
}

impl Transcribe for Decoder {
    /// Waits for a decoder.
    fn final_text(&self, audio: Vec<f32>) -> BoxFuture<'_, Result<Option<String>, SpeechError>> {
        Box::pin(async move {
            let permit = self.decoders.clone().acquire_owned().await.map_err(|_| SpeechError::new(false, "closed"))?;
            Ok(keep(self.decode(audio, Decode::FINAL, permit).await?))
        })
    }

    /// Only if a decoder is free now.
    fn partial_text(&self, audio: Vec<f32>) -> BoxFuture<'_, Result<Option<String>, SpeechError>> {
        Box::pin(async move {
            let Ok(permit) = self.decoders.clone().try_acquire_owned() else { return Ok(None) };
            Ok(keep(self.decode(audio, Decode::PARTIAL, permit).await?))
        })
    }
}

impl Decoder {
    async fn decode(
        &self,
        audio: Vec<f32>,
        d: Decode,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<crate::model::Output, SpeechError> {
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            engine.transcribe(&audio, d)
        })
        .await
        .map_err(|e| SpeechError::new(true, format!("decoder stopped: {e}")))?
        .map_err(|e| SpeechError::new(true, e.to_string()))
    }
}

/// The text of a decode, unless it is empty or Whisper says it heard no speech.
fn keep(out: crate::model::Output) -> Option<String> {
    let words = out.text.split_whitespace().count();
    if words == 0 || (out.no_speech_prob > NO_SPEECH && words <= 3) {
        return None;
    }
    Some(out.text)
}
