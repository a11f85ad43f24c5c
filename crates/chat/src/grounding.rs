//! What a turn answers from besides knowledge bases, given by its caller: the meeting assistant
//! panel grounds its chat on the meeting's transcript, the chat over past meetings on the
//! passages of the user's meetings that match the question. The caller implements
//! [`Grounding`] (checking the user's access when it is asked, at every turn); the turn runs as
//! any other (`crate::turn`): the same storage, streaming, tools and citations.

use crate::rag::{Corpus, RetrievalError, Retrieved};
use rampart_core::Principal;
use rampart_core::embed::BoxFuture;

/// What grounds a turn: asked once per turn with the question being answered.
pub trait Grounding: std::fmt::Debug + Send + Sync + 'static {
    /// What answers `question`, for `p`.
    fn ground<'a>(&'a self, p: &'a Principal, question: &'a str) -> BoxFuture<'a, Result<Ground, RetrievalError>>;
}

/// What a [`Grounding`] gives a turn.
pub enum Ground {
    /// Told to the model after the assistant's own system prompt (quoted data inside it framed
    /// as untrusted by the implementation); `without_model` is the answer when the assistant
    /// has no model (it says so).
    Context { system: String, without_model: String },
    /// Passages to answer from, cited as knowledge-base passages are (quoted without a model).
    Passages { passages: Vec<Retrieved>, corpus: &'static Corpus },
}

impl std::fmt::Debug for Ground {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ground::Context { .. } => write!(f, "Ground::Context"),
            Ground::Passages { passages, .. } => write!(f, "Ground::Passages({})", passages.len()),
        }
    }
}
