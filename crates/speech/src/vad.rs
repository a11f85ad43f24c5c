//! Voice activity and utterances, for the engines that transcribe whole utterances (Whisper in
//! process, an OpenAI-compatible server; see `segmented`): `earshot` (a small neural
//! voice-activity detector, pure Rust) scores 16 ms frames; the segmenter opens an utterance after 64 ms of speech (keeping 300 ms
//! before it), closes it after 500 ms of silence (keeping 200 ms of tail) or at 25 s, and hands
//! back its audio. Memory per stream: the open utterance (at most 25 s) and a short history.

/// Samples per frame at 16 kHz (earshot's frame).
pub const FRAME: usize = 256;
const RATE: f32 = 16_000.0;

/// When an utterance opens and closes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SegParams {
    pub threshold: f32,
    /// Speech needed to open an utterance.
    pub min_start_ms: f32,
    /// Silence that closes it (the delay from the end of speech to the final text).
    pub hangover_ms: f32,
    /// Audio kept from before the detected start.
    pub pre_roll_ms: f32,
    /// Silence kept after the last speech frame.
    pub tail_ms: f32,
    /// Longest utterance; longer speech is cut.
    pub max_len_s: f32,
}

impl Default for SegParams {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            min_start_ms: 64.0,
            hangover_ms: 500.0,
            pre_roll_ms: 300.0,
            tail_ms: 200.0,
            max_len_s: 25.0,
        }
    }
}

/// What a frame changed.
#[derive(Debug, PartialEq)]
pub enum Event {
    /// An utterance opened; `start` in seconds of the stream.
    Start { start: f64 },
    /// An utterance closed: its times (seconds of the stream) and audio.
    End { start: f64, end: f64, audio: Vec<f32> },
}

/// The voice-activity detector of one stream.
pub struct Vad(Box<earshot::Detector>);

impl std::fmt::Debug for Vad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vad")
    }
}

impl Default for Vad {
    fn default() -> Self {
        Self(earshot::Detector::default_boxed())
    }
}

impl Vad {
    /// Speech probability of one frame of [`FRAME`] samples.
    pub fn score(&mut self, frame: &[f32]) -> f32 {
        let clipped: Vec<f32> = frame.iter().map(|v| v.clamp(-1.0, 1.0)).collect();
        self.0.predict_f32(&clipped)
    }
}

/// Cuts a 16 kHz stream into utterances from per-frame scores.
#[derive(Debug)]
pub struct Segmenter {
    p: SegParams,
    /// Samples seen.
    t: usize,
    history: Vec<f32>,
    in_speech: bool,
    run_speech: usize,
    run_silence: usize,
    seg: Vec<f32>,
    seg_start: usize,
    last_speech_end: usize,
}

fn samples(ms: f32) -> usize {
    (ms * RATE / 1000.0) as usize
}

fn secs(n: usize) -> f64 {
    n as f64 / f64::from(RATE)
}

impl Segmenter {
    pub fn new(p: SegParams) -> Self {
        Self {
            p,
            t: 0,
            history: Vec::new(),
            in_speech: false,
            run_speech: 0,
            run_silence: 0,
            seg: Vec::new(),
            seg_start: 0,
            last_speech_end: 0,
        }
    }

    pub fn in_speech(&self) -> bool {
        self.in_speech
    }

    /// The open utterance's audio and start (seconds), for a partial hypothesis.
    pub fn current(&self) -> (&[f32], f64) {
        (&self.seg, secs(self.seg_start))
    }

    /// Seconds of the stream seen.
    pub fn now(&self) -> f64 {
        secs(self.t)
    }

    /// One frame and its speech score.
    pub fn push(&mut self, frame: &[f32], score: f32) -> Option<Event> {
        let speech = score >= self.p.threshold;
        self.t += frame.len();
        if self.in_speech { self.extend(frame, speech) } else { self.idle(frame, speech) }
    }

    fn idle(&mut self, frame: &[f32], speech: bool) -> Option<Event> {
        self.history.extend_from_slice(frame);
        let keep = samples(self.p.pre_roll_ms) + samples(self.p.min_start_ms) + FRAME;
        if self.history.len() > keep {
            let cut = self.history.len() - keep;
            self.history.drain(..cut);
        }
        self.run_speech = if speech { self.run_speech + frame.len() } else { 0 };
        if (self.run_speech as f32) < self.p.min_start_ms * RATE / 1000.0 {
            return None;
        }
        let speech_start = self.t - self.run_speech;
        let start = speech_start.saturating_sub(samples(self.p.pre_roll_ms));
        let from = self.history.len() - (self.t - start).min(self.history.len());
        self.seg = self.history[from..].to_vec();
        self.seg_start = self.t - self.seg.len();
        self.in_speech = true;
        self.run_silence = 0;
        self.last_speech_end = self.t;
        Some(Event::Start { start: secs(self.seg_start) })
    }

    fn extend(&mut self, frame: &[f32], speech: bool) -> Option<Event> {
        self.seg.extend_from_slice(frame);
        if speech {
            self.run_silence = 0;
            self.last_speech_end = self.t;
        } else {
            self.run_silence += frame.len();
        }
        let too_long = self.seg.len() as f32 >= self.p.max_len_s * RATE;
        if (self.run_silence as f32) < self.p.hangover_ms * RATE / 1000.0 && !too_long {
            return None;
        }
        Some(self.close())
    }

    /// Closes the open utterance (its speech ended, or the stream did).
    pub fn close(&mut self) -> Event {
        let end = (self.last_speech_end + samples(self.p.tail_ms)).min(self.t).max(self.seg_start);
        let mut audio = std::mem::take(&mut self.seg);
        audio.truncate(end - self.seg_start);
        self.in_speech = false;
        self.run_speech = 0;
        self.history.clear();
        Event::End { start: secs(self.seg_start), end: secs(end), audio }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With the scores given (1 speech, 0 silence), utterances open and close where they should.
    #[test]
    fn opens_after_speech_and_closes_after_the_hangover() {
        let mut s = Segmenter::new(SegParams::default());
        let frame = vec![0.1f32; FRAME];
        let mut events = Vec::new();
        // 1 s silence, 2 s speech, 1 s silence.
        for i in 0..(4 * 16_000 / FRAME) {
            let t = i * FRAME;
            let score = if (16_000..48_000).contains(&t) { 1.0 } else { 0.0 };
            if let Some(e) = s.push(&frame, score) {
                events.push(e);
            }
        }
        assert_eq!(events.len(), 2, "{events:?}");
        let Event::Start { start } = events[0] else { panic!() };
        assert!((0.65..0.75).contains(&start), "pre-roll kept: {start}");
        let Event::End { start, end, ref audio } = events[1] else { panic!() };
        assert!((2.95..3.25).contains(&end), "tail kept: {end}");
        assert_eq!(audio.len(), ((end - start) * 16_000.0).round() as usize);
        assert!(!s.in_speech());
    }
}
