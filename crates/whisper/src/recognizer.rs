//! The `core::speech` port over Whisper. Each stream is a task: audio in (16 kHz), the voice
//! activity detector cutting it into utterances, a partial hypothesis of the open utterance every
//! `partial_every` when a decoder is free (partials are skipped, never queued, when they are
//! not), and the final one when the speaker pauses (finals wait for a decoder: they are never
//! dropped). Decodes run on blocking threads, at most `replicas` at once for all streams.

use crate::model::{Decode, Engine, ModelError};
use crate::vad::{Event, FRAME, SegParams, Segmenter, Vad};
use futures::StreamExt;
use rampart_core::embed::BoxFuture;
use rampart_core::speech::{AudioSink, Hypothesis, SpeechError, SpeechRecognizer, SpeechStream, StreamSpec};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};

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

struct Sink {
    tx: Option<mpsc::Sender<Vec<i16>>>,
}

impl AudioSink for Sink {
    fn send(&mut self, pcm: Vec<i16>) -> BoxFuture<'_, Result<(), SpeechError>> {
        Box::pin(async move {
            let tx = self.tx.as_ref().ok_or_else(|| SpeechError::new(false, "stream finished"))?;
            tx.send(pcm).await.map_err(|_| SpeechError::new(true, "the recogniser stopped"))
        })
    }

    fn finish(&mut self) -> BoxFuture<'_, Result<(), SpeechError>> {
        self.tx = None;
        Box::pin(async { Ok(()) })
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
        let (audio_tx, audio_rx) = mpsc::channel::<Vec<i16>>(64);
        let (hyp_tx, hyp_rx) = mpsc::channel::<Result<Hypothesis, SpeechError>>(64);
        let s = StreamTask {
            engine: self.engine.clone(),
            decoders: self.decoders.clone(),
            options: self.options,
            out: hyp_tx,
            label: spec.label,
        };
        tokio::spawn(s.run(audio_rx));
        let hyps = futures::stream::unfold(hyp_rx, |mut rx| async move { rx.recv().await.map(|h| (h, rx)) });
        Box::pin(
            async move { Ok(SpeechStream { audio: Box::new(Sink { tx: Some(audio_tx) }), hypotheses: hyps.boxed() }) },
        )
    }
}

/// One stream's work.
struct StreamTask {
    engine: Arc<Engine>,
    decoders: Arc<Semaphore>,
    options: WhisperOptions,
    out: mpsc::Sender<Result<Hypothesis, SpeechError>>,
    label: String,
}

/// Where a stream is.
struct State {
    vad: Vad,
    seg: Segmenter,
    pending: Vec<f32>,
    utterance: u64,
    /// Stream seconds at the last partial of the open utterance.
    last_partial: f64,
}

impl StreamTask {
    async fn run(self, mut audio: mpsc::Receiver<Vec<i16>>) {
        let mut st = State {
            vad: Vad::default(),
            seg: Segmenter::new(self.options.segments),
            pending: Vec::new(),
            utterance: 0,
            last_partial: 0.0,
        };
        while let Some(pcm) = audio.recv().await {
            st.pending.extend(pcm.iter().map(|s| f32::from(*s) / 32768.0));
            if let Err(e) = self.frames(&mut st).await {
                let _ = self.out.send(Err(e)).await;
                return;
            }
        }
        // The end of the audio closes the open utterance.
        if st.seg.in_speech()
            && let Event::End { start, end, audio } = st.seg.close()
            && let Err(e) = self.finalize(&mut st, start, end, audio).await
        {
            let _ = self.out.send(Err(e)).await;
        }
    }

    /// Runs the whole frames pending through the detector, decoding what they close.
    async fn frames(&self, st: &mut State) -> Result<(), SpeechError> {
        let whole = st.pending.len() / FRAME * FRAME;
        let frames: Vec<f32> = st.pending.drain(..whole).collect();
        for f in frames.chunks_exact(FRAME) {
            let score = st.vad.score(f);
            match st.seg.push(f, score) {
                Some(Event::Start { .. }) => st.last_partial = st.seg.now(),
                Some(Event::End { start, end, audio }) => self.finalize(st, start, end, audio).await?,
                None => {}
            }
        }
        if let Some(every) = self.options.partial_every
            && st.seg.in_speech()
            && st.seg.now() - st.last_partial >= every.as_secs_f64()
        {
            st.last_partial = st.seg.now();
            self.partial(st).await?;
        }
        Ok(())
    }

    /// A partial hypothesis of the open utterance, if a decoder is free now.
    async fn partial(&self, st: &State) -> Result<(), SpeechError> {
        let Ok(permit) = self.decoders.clone().try_acquire_owned() else { return Ok(()) };
        let (audio, start) = st.seg.current();
        let (audio, end) = (audio.to_vec(), st.seg.now());
        let out = self.decode(audio, Decode::PARTIAL, permit).await?;
        if let Some(text) = keep(out) {
            let h = Hypothesis { utterance: st.utterance, text, start, end, is_final: false };
            self.out.send(Ok(h)).await.map_err(|_| SpeechError::new(false, "closed"))?;
        }
        Ok(())
    }

    /// The final hypothesis of a closed utterance (waits for a decoder).
    async fn finalize(&self, st: &mut State, start: f64, end: f64, audio: Vec<f32>) -> Result<(), SpeechError> {
        let permit = self.decoders.clone().acquire_owned().await.map_err(|_| SpeechError::new(false, "closed"))?;
        let out = self.decode(audio, Decode::FINAL, permit).await?;
        let utterance = st.utterance;
        st.utterance += 1;
        if let Some(text) = keep(out) {
            let h = Hypothesis { utterance, text, start, end, is_final: true };
            self.out.send(Ok(h)).await.map_err(|_| SpeechError::new(false, "closed"))?;
        }
        Ok(())
    }

    async fn decode(
        &self,
        audio: Vec<f32>,
        d: Decode,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<crate::model::Output, SpeechError> {
        let engine = self.engine.clone();
        let label = self.label.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            engine.transcribe(&audio, d)
        })
        .await
        .map_err(|e| SpeechError::new(true, format!("{label}: decoder stopped: {e}")))?
        .map_err(|e| SpeechError::new(true, format!("{label}: {e}")))
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
