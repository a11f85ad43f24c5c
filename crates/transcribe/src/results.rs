//! The hypotheses side of a stream: first the outcome of the request (running in its own
//! task), then the hypotheses of each `TranscriptEvent` until the service ends the response.
//! How the stream ended — an error, or the service's end — is published to the sink, so that
//! audio sent after that is refused at once instead of waiting on a queue nobody reads.

use crate::{Transcribe, error, numbering::Numbering};
use aws_sdk_transcribestreaming as sdk;
use futures::StreamExt;
use rampart_core::speech::{Hypothesis, HypothesisStream, SpeechError};
use sdk::error::SdkError;
use sdk::operation::start_stream_transcription::{StartStreamTranscriptionError, StartStreamTranscriptionOutput};
use sdk::primitives::event_stream::EventReceiver;
use sdk::types::TranscriptResultStream;
use sdk::types::error::TranscriptResultStreamError;
use tokio::sync::watch;

type Opened =
    Result<StartStreamTranscriptionOutput, SdkError<StartStreamTranscriptionError, sdk::config::http::HttpResponse>>;
type Results = EventReceiver<TranscriptResultStream, TranscriptResultStreamError>;

/// The request's task, stopped if the stream is dropped before it opened.
pub struct AbortOnDrop(pub tokio::task::JoinHandle<Opened>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

enum State {
    Opening(AbortOnDrop),
    Open(Results),
    Done,
}

struct Stream {
    engine: Transcribe,
    state: State,
    numbers: Numbering,
    failed: watch::Sender<Option<SpeechError>>,
}

impl Stream {
    /// The next batch of items, or None at the end.
    async fn step(&mut self) -> Option<Vec<Result<Hypothesis, SpeechError>>> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Done => None,
            State::Opening(mut task) => match (&mut task.0).await {
                Ok(Ok(out)) => {
                    self.state = State::Open(out.transcript_result_stream);
                    Some(Vec::new())
                }
                Ok(Err(e)) => Some(vec![Err(self.fail(error::operation(&e)))]),
                Err(_) => Some(vec![Err(self.fail(SpeechError::new(true, "transcribe: the request task stopped")))]),
            },
            State::Open(mut rx) => match rx.recv().await {
                Ok(Some(TranscriptResultStream::TranscriptEvent(ev))) => {
                    self.state = State::Open(rx);
                    Some(self.numbers.event(&ev).into_iter().map(Ok).collect())
                }
                Ok(Some(_)) => {
                    self.state = State::Open(rx);
                    Some(Vec::new())
                }
                Ok(None) => {
                    self.failed.send_replace(Some(SpeechError::new(true, "transcribe: the stream ended")));
                    None
                }
                Err(e) => Some(vec![Err(self.fail(error::stream(&e)))]),
            },
        }
    }

    /// The error, redacted and published to the sink.
    fn fail(&self, e: SpeechError) -> SpeechError {
        let e = self.engine.redacted(e);
        self.failed.send_replace(Some(e.clone()));
        e
    }
}

/// The hypotheses of one stream.
pub fn hypotheses(
    engine: Transcribe,
    opening: AbortOnDrop,
    failed: watch::Sender<Option<SpeechError>>,
) -> HypothesisStream {
    let s = Stream { engine, state: State::Opening(opening), numbers: Numbering::default(), failed };
    let batches =
        futures::stream::unfold(s, |mut s| async move { s.step().await.map(|b| (futures::stream::iter(b), s)) });
    Box::pin(batches.flatten())
}
