//! Recognition by utterances, for engines that transcribe whole pieces of audio rather than a
//! stream (Whisper in process, an OpenAI-compatible transcription server): one driver for all of
//! them, so voice activity, utterance numbering, timing and ordering are the same whatever
//! transcribes.
//!
//! Each stream is two tasks. The first takes the audio (16 kHz), runs the voice-activity
//! detector ([`crate::vad`]) and hands every closed utterance, numbered and timed, to a short
//! queue; while someone speaks and no final of the stream is outstanding, it asks the engine
//! for a partial hypothesis of the open utterance every `partial_every` (the engine may skip
//! it). The second task transcribes the queued utterances one after another and sends their
//! finals, so finals keep their order and are never dropped; a full queue holds the audio back
//! (backpressure), it never discards speech. Hypotheses of one stream come in order: every
//! hypothesis of utterance `n` before any of `n + 1`. An engine error ends the stream with
//! that error, and the next audio sent is refused, so the caller can reopen a stream.

use crate::vad::{Event, FRAME, SegParams, Segmenter, Vad};
use futures::StreamExt;
use rampart_core::embed::BoxFuture;
use rampart_core::speech::{AudioSink, Hypothesis, SpeechError, SpeechStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// The rate the driver takes.
pub const SAMPLE_RATE: u32 = 16_000;

/// How a stream is cut and how often partials are asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SegmentedOptions {
    /// A partial hypothesis of the open utterance this often (`None`: finals only).
    pub partial_every: Option<Duration>,
    pub segments: SegParams,
    /// Closed utterances waiting for their final, per stream, before audio is held back.
    pub queue: usize,
}

impl Default for SegmentedOptions {
    fn default() -> Self {
        Self { partial_every: Some(Duration::from_secs(1)), segments: SegParams::default(), queue: 4 }
    }
}

/// What an engine does with utterances (mono `f32` samples at 16 kHz, in -1..1).
pub trait Transcribe: Send + Sync + 'static {
    /// The text of a closed utterance; waits for capacity (a final is never skipped). `None`:
    /// nothing was said.
    fn final_text(&self, audio: Vec<f32>) -> BoxFuture<'_, Result<Option<String>, SpeechError>>;
    /// The text so far of the open utterance, if the engine has capacity now; `Ok(None)` when
    /// it skips it or heard nothing.
    fn partial_text(&self, audio: Vec<f32>) -> BoxFuture<'_, Result<Option<String>, SpeechError>>;
}

/// Opens a stream whose utterances `engine` transcribes; `label` (no user data) prefixes the
/// engine's errors. Must be called within a Tokio runtime.
pub fn open(engine: Arc<dyn Transcribe>, options: SegmentedOptions, label: String) -> SpeechStream {
    let (audio_tx, audio_rx) = mpsc::channel::<Vec<i16>>(64);
    let (hyp_tx, hyp_rx) = mpsc::channel::<Result<Hypothesis, SpeechError>>(64);
    let (job_tx, job_rx) = mpsc::channel::<Utterance>(options.queue.max(1));
    let outstanding = Arc::new(AtomicUsize::new(0));
    let finals =
        Finals { engine: engine.clone(), out: hyp_tx.clone(), outstanding: outstanding.clone(), label: label.clone() };
    tokio::spawn(finals.run(job_rx));
    let cutter = Cutter { engine, options, out: hyp_tx, jobs: job_tx, outstanding, label };
    tokio::spawn(cutter.run(audio_rx));
    let hyps = futures::stream::unfold(hyp_rx, |mut rx| async move { rx.recv().await.map(|h| (h, rx)) });
    SpeechStream { audio: Box::new(ChannelSink::new(audio_tx)), hypotheses: hyps.boxed() }
}

/// The audio side of a stream whose engine is a task reading a channel.
pub(crate) struct ChannelSink {
    tx: Option<mpsc::Sender<Vec<i16>>>,
}

impl ChannelSink {
    pub(crate) fn new(tx: mpsc::Sender<Vec<i16>>) -> Self {
        Self { tx: Some(tx) }
    }
}

impl AudioSink for ChannelSink {
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

/// A closed utterance waiting for its final.
struct Utterance {
    number: u64,
    start: f64,
    end: f64,
    audio: Vec<f32>,
}

fn with_label(label: &str, e: SpeechError) -> SpeechError {
    SpeechError::new(e.retryable, format!("{label}: {}", e.detail))
}

/// The second task: finals, in order.
struct Finals {
    engine: Arc<dyn Transcribe>,
    out: mpsc::Sender<Result<Hypothesis, SpeechError>>,
    outstanding: Arc<AtomicUsize>,
    label: String,
}

impl Finals {
    async fn run(self, mut jobs: mpsc::Receiver<Utterance>) {
        while let Some(u) = jobs.recv().await {
            let sent = match self.engine.final_text(u.audio).await {
                Ok(Some(text)) => {
                    let h = Hypothesis { utterance: u.number, text, start: u.start, end: u.end, is_final: true };
                    self.out.send(Ok(h)).await.is_ok()
                }
                Ok(None) => true,
                Err(e) => {
                    let _ = self.out.send(Err(with_label(&self.label, e))).await;
                    false
                }
            };
            self.outstanding.fetch_sub(1, Ordering::AcqRel);
            if !sent {
                // Dropping the queue stops the first task, and so refuses further audio.
                return;
            }
        }
    }
}

/// The first task: audio in, utterances out, partials when due.
struct Cutter {
    engine: Arc<dyn Transcribe>,
    options: SegmentedOptions,
    out: mpsc::Sender<Result<Hypothesis, SpeechError>>,
    jobs: mpsc::Sender<Utterance>,
    outstanding: Arc<AtomicUsize>,
    label: String,
}

/// Where a stream is.
struct State {
    vad: Vad,
    seg: Segmenter,
    pending: Vec<f32>,
    /// The number the next closed utterance gets.
    utterance: u64,
    /// Stream seconds at the last partial of the open utterance.
    last_partial: f64,
}

/// Why the first task stops early.
struct Stop;

impl Cutter {
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
            if self.frames(&mut st).await.is_err() || self.jobs.is_closed() {
                return;
            }
        }
        // The end of the audio closes the open utterance.
        if st.seg.in_speech()
            && let Event::End { start, end, audio } = st.seg.close()
        {
            let _ = self.close(&mut st, start, end, audio).await;
        }
    }

    /// Runs the whole frames pending through the detector, queueing what they close.
    async fn frames(&self, st: &mut State) -> Result<(), Stop> {
        let whole = st.pending.len() / FRAME * FRAME;
        let frames: Vec<f32> = st.pending.drain(..whole).collect();
        for f in frames.chunks_exact(FRAME) {
            let score = st.vad.score(f);
            match st.seg.push(f, score) {
                Some(Event::Start { .. }) => st.last_partial = st.seg.now(),
                Some(Event::End { start, end, audio }) => self.close(st, start, end, audio).await?,
                None => {}
            }
        }
        if let Some(every) = self.options.partial_every
            && st.seg.in_speech()
            && st.seg.now() - st.last_partial >= every.as_secs_f64()
            && self.outstanding.load(Ordering::Acquire) == 0
        {
            st.last_partial = st.seg.now();
            self.partial(st).await?;
        }
        Ok(())
    }

    /// Queues a closed utterance for its final (waits while the queue is full).
    async fn close(&self, st: &mut State, start: f64, end: f64, audio: Vec<f32>) -> Result<(), Stop> {
        let number = st.utterance;
        st.utterance += 1;
        self.outstanding.fetch_add(1, Ordering::AcqRel);
        self.jobs.send(Utterance { number, start, end, audio }).await.map_err(|_| Stop)
    }

    /// A partial hypothesis of the open utterance, if the engine gives one now.
    async fn partial(&self, st: &State) -> Result<(), Stop> {
        let (audio, start) = st.seg.current();
        let (audio, end) = (audio.to_vec(), st.seg.now());
        match self.engine.partial_text(audio).await {
            Ok(None) => Ok(()),
            Ok(Some(text)) => {
                let h = Hypothesis { utterance: st.utterance, text, start, end, is_final: false };
                self.out.send(Ok(h)).await.map_err(|_| Stop)
            }
            Err(e) => {
                let _ = self.out.send(Err(with_label(&self.label, e))).await;
                Err(Stop)
            }
        }
    }
}
