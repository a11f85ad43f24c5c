//! The pass-through engine: it recognises nothing. For every `interval` of audio it emits one
//! utterance — a partial halfway, then the final — whose text says where it is, so the rest of
//! the pipeline (segments, storage, events, the browser) can be measured and tested without a
//! model. Deterministic: the same audio gives the same hypotheses.

use crate::segmented::ChannelSink;
use futures::StreamExt;
use rampart_core::embed::BoxFuture;
use rampart_core::speech::{Hypothesis, SpeechError, SpeechRecognizer, SpeechStream, StreamSpec};
use std::time::Duration;
use tokio::sync::mpsc;

/// The rate it asks for.
pub const SAMPLE_RATE: u32 = 16_000;

#[derive(Debug)]
pub struct Passthrough {
    interval: Duration,
}

impl Passthrough {
    pub fn new(interval: Duration) -> Self {
        Self { interval }
    }
}

/// The state of one stream: samples seen, and of the current utterance.
struct Count {
    per_utterance: u64,
    seen: u64,
    utterance: u64,
    partial_sent: bool,
}

impl Count {
    fn hyp(&self, is_final: bool, upto: u64) -> Hypothesis {
        let start = self.utterance * self.per_utterance;
        let secs = |n: u64| n as f64 / f64::from(SAMPLE_RATE);
        let text = if is_final {
            format!("utterance {} ends", self.utterance + 1)
        } else {
            format!("utterance {}", self.utterance + 1)
        };
        Hypothesis { utterance: self.utterance, text, start: secs(start), end: secs(upto), is_final }
    }

    /// Hypotheses due after `n` more samples.
    fn advance(&mut self, n: u64) -> Vec<Hypothesis> {
        let mut out = Vec::new();
        self.seen += n;
        loop {
            let start = self.utterance * self.per_utterance;
            if !self.partial_sent && self.seen >= start + self.per_utterance / 2 {
                out.push(self.hyp(false, start + self.per_utterance / 2));
                self.partial_sent = true;
            }
            if self.seen >= start + self.per_utterance {
                out.push(self.hyp(true, start + self.per_utterance));
                self.utterance += 1;
                self.partial_sent = false;
            } else {
                return out;
            }
        }
    }

    /// The last, unfinished utterance, when the audio ends.
    fn finish(&mut self) -> Option<Hypothesis> {
        let start = self.utterance * self.per_utterance;
        (self.seen > start).then(|| self.hyp(true, self.seen))
    }
}

impl SpeechRecognizer for Passthrough {
    fn engine(&self) -> &str {
        "passthrough"
    }

    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn open(&self, _: StreamSpec) -> BoxFuture<'_, Result<SpeechStream, SpeechError>> {
        let per_utterance = (self.interval.as_secs_f64() * f64::from(SAMPLE_RATE)) as u64;
        Box::pin(async move {
            let (tx, rx) = mpsc::channel::<Vec<i16>>(64);
            let state = Count { per_utterance: per_utterance.max(1), seen: 0, utterance: 0, partial_sent: false };
            let hyps = futures::stream::unfold((rx, state, false), |(mut rx, mut st, done)| async move {
                if done {
                    return None;
                }
                match rx.recv().await {
                    Some(pcm) => {
                        let out: Vec<Result<Hypothesis, SpeechError>> =
                            st.advance(pcm.len() as u64).into_iter().map(Ok).collect();
                        Some((futures::stream::iter(out), (rx, st, false)))
                    }
                    None => {
                        let last = st.finish();
                        let out: Vec<Result<Hypothesis, SpeechError>> = last.into_iter().map(Ok).collect();
                        Some((futures::stream::iter(out), (rx, st, true)))
                    }
                }
            })
            .flatten();
            Ok(SpeechStream { audio: Box::new(ChannelSink::new(tx)), hypotheses: Box::pin(hyps) })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_utterance_per_interval_with_a_partial_halfway() {
        let p = Passthrough::new(Duration::from_secs(1));
        let SpeechStream { mut audio, mut hypotheses } = p.open(StreamSpec::default()).await.unwrap();
        audio.send(vec![0; 24_000]).await.unwrap();
        audio.finish().await.unwrap();
        let mut got = Vec::new();
        while let Some(h) = hypotheses.next().await {
            got.push(h.unwrap());
        }
        let shape: Vec<(u64, bool, f64, f64)> = got.iter().map(|h| (h.utterance, h.is_final, h.start, h.end)).collect();
        assert_eq!(shape, vec![(0, false, 0.0, 0.5), (0, true, 0.0, 1.0), (1, false, 1.0, 1.5), (1, true, 1.0, 1.5)]);
    }
}
