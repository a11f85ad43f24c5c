//! The audio side of a Transcribe stream: samples are gathered into `AudioEvent`s of 100 to
//! 200 ms (Transcribe's advice for PCM chunks) and queued to the SDK, which signs and sends
//! them; `finish` sends what is left and closes the queue, after which the SDK sends the
//! signed empty message that ends the audio.

use aws_sdk_transcribestreaming::primitives::Blob;
use aws_sdk_transcribestreaming::types::{AudioEvent, AudioStream};
use futures::SinkExt;
use futures::channel::mpsc;
use rampart_core::embed::BoxFuture;
use rampart_core::speech::{AudioSink, SpeechError};
use tokio::sync::watch;

/// 100 ms of 16 kHz 16-bit mono: the smallest event sent before the end.
pub const MIN_CHUNK_BYTES: usize = 3_200;
/// 200 ms: the largest.
pub const MAX_CHUNK_BYTES: usize = 6_400;

pub struct Sink {
    tx: Option<mpsc::Sender<AudioStream>>,
    pending: Vec<u8>,
    /// Why the stream ended, once it did (set by the hypotheses side).
    failure: watch::Receiver<Option<SpeechError>>,
}

impl Sink {
    pub fn new(tx: mpsc::Sender<AudioStream>, failure: watch::Receiver<Option<SpeechError>>) -> Self {
        Self { tx: Some(tx), pending: Vec::with_capacity(MAX_CHUNK_BYTES), failure }
    }

    /// Sends the pending audio in events of at most `MAX_CHUNK_BYTES`.
    async fn flush(&mut self, min: usize) -> Result<(), SpeechError> {
        let Self { tx, pending, failure } = self;
        let Some(tx) = tx.as_mut() else { return Err(SpeechError::new(false, "stream finished")) };
        while !pending.is_empty() && pending.len() >= min {
            let n = pending.len().min(MAX_CHUNK_BYTES);
            let chunk: Vec<u8> = pending.drain(..n).collect();
            let ev = AudioStream::AudioEvent(AudioEvent::builder().audio_chunk(Blob::new(chunk)).build());
            tokio::select! {
                biased;
                e = ended(failure) => return Err(e),
                sent = tx.send(ev) => if sent.is_err() {
                    let known = failure.borrow().clone();
                    return Err(known.unwrap_or_else(|| SpeechError::new(true, "transcribe: the stream closed")));
                },
            }
        }
        Ok(())
    }
}

impl AudioSink for Sink {
    fn send(&mut self, pcm: Vec<i16>) -> BoxFuture<'_, Result<(), SpeechError>> {
        Box::pin(async move {
            self.pending.extend(pcm.iter().flat_map(|s| s.to_le_bytes()));
            self.flush(MIN_CHUNK_BYTES).await
        })
    }

    fn finish(&mut self) -> BoxFuture<'_, Result<(), SpeechError>> {
        Box::pin(async move {
            let sent = self.flush(1).await;
            self.tx = None;
            sent
        })
    }
}

/// Resolves once the hypotheses side has seen the stream end (never, if it is gone).
async fn ended(rx: &mut watch::Receiver<Option<SpeechError>>) -> SpeechError {
    loop {
        let known = rx.borrow_and_update().clone();
        if let Some(e) = known {
            return e;
        }
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}
