//! A recogniser that is not there (not compiled in, its model missing): every stream is refused
//! with the reason, so meetings say why instead of the server not starting.

use rampart_core::embed::BoxFuture;
use rampart_core::speech::{SpeechError, SpeechRecognizer, SpeechStream, StreamSpec};

#[derive(Debug)]
pub struct Unavailable {
    pub engine: &'static str,
    pub reason: String,
}

impl SpeechRecognizer for Unavailable {
    fn engine(&self) -> &str {
        self.engine
    }

    fn sample_rate(&self) -> u32 {
        16_000
    }

    fn open(&self, _: StreamSpec) -> BoxFuture<'_, Result<SpeechStream, SpeechError>> {
        Box::pin(async { Err(SpeechError::new(false, self.reason.clone())) })
    }
}
