//! The meeting assistant's port: a question asked during a meeting (the wake phrase spoken in
//! it), answered over the meeting's transcript by the asker's assistant. `meetings` asks; the
//! implementation (in `server`) runs a chat turn, so that meetings and chat share one way of
//! answering.

use crate::Principal;
use crate::embed::BoxFuture;
use crate::llm::{EventStream, ModelError};

pub trait MeetingAssistant: Send + Sync + 'static {
    /// A streamed answer to `question`, as `p`, with the meeting's `transcript` (untrusted:
    /// what was said, quoted to the model as data, never as instructions). `Ok(None)`: `p` has
    /// no generative model, and the caller answers from the transcript itself.
    fn answer<'a>(
        &'a self,
        p: &'a Principal,
        transcript: &'a str,
        question: &'a str,
    ) -> BoxFuture<'a, Result<Option<EventStream>, ModelError>>;
}
