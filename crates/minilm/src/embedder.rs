//! The `core::embed::Embedder` port over [`MiniLm`]: the model is loaded on first use (so a
//! server that never embeds does not hold its ~90 MB), and forward passes run on tokio's
//! blocking threads one at a time — candle already spreads each one over the cores — in batches
//! of [`FORWARD_BATCH`] texts of similar length, each taking its turn in a fair queue, so that a
//! query embedded during a large ingestion waits for at most one batch per ingesting worker.

use crate::model::{MiniLm, MiniLmError, by_length};
use rampart_core::embed::{BoxFuture, EmbedPurpose, Embedder};
use rampart_core::llm::ModelError;
use std::path::PathBuf;
use std::sync::Arc;

/// Texts per forward pass: 8 chunks of ~250 tokens are ~0.5 s of two cores.
pub const FORWARD_BATCH: usize = 8;

/// Texts per call (`Embedder::max_batch`): tokenized at once and sorted by length before
/// being cut into forward passes.
pub const MAX_BATCH: usize = 32;

pub struct LocalMiniLm {
    id: String,
    dir: PathBuf,
    loaded: tokio::sync::OnceCell<Arc<MiniLm>>,
    /// One forward pass at a time (tokio's mutex queues waiters in order); the guard goes
    /// into the blocking task, so a caller that gives up does not let two passes overlap.
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for LocalMiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalMiniLm").field("id", &self.id).field("dir", &self.dir).finish_non_exhaustive()
    }
}

fn failed(e: impl std::fmt::Display) -> ModelError {
    ModelError { retryable: false, retry_after: None, detail: e.to_string() }
}

/// Runs CPU work on a blocking thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, MiniLmError> + Send + 'static,
) -> Result<T, ModelError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| failed(format!("embedding task: {e}")))?.map_err(failed)
}

impl LocalMiniLm {
    /// The model in `dir`, known to knowledge bases as `id`; nothing is read until the first
    /// call.
    pub fn new(id: impl Into<String>, dir: PathBuf) -> Self {
        Self { id: id.into(), dir, loaded: tokio::sync::OnceCell::new(), turn: Arc::new(tokio::sync::Mutex::new(())) }
    }

    /// Where the weights are read from.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Whether the model has been loaded (by a first call).
    pub fn is_loaded(&self) -> bool {
        self.loaded.initialized()
    }

    async fn model(&self) -> Result<Arc<MiniLm>, ModelError> {
        let m = self
            .loaded
            .get_or_try_init(|| async {
                let dir = self.dir.clone();
                let t = std::time::Instant::now();
                let m = blocking(move || MiniLm::load(&dir)).await?;
                tracing::info!(
                    ms = t.elapsed().as_millis() as u64,
                    "embedding model loaded (all-MiniLM-L6-v2, in process)"
                );
                Ok::<_, ModelError>(Arc::new(m))
            })
            .await?;
        Ok(m.clone())
    }

    /// Unit vectors of `texts`, in order.
    pub async fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let model = self.model().await?;
        let (m, owned) = (model.clone(), texts.to_vec());
        let seqs = blocking(move || m.tokenize(&owned)).await?;
        let mut out = vec![Vec::new(); texts.len()];
        for group in by_length(&seqs, FORWARD_BATCH) {
            let part: Vec<Vec<u32>> = group.iter().map(|&i| seqs[i].clone()).collect();
            let m = model.clone();
            let turn = self.turn.clone().lock_owned().await;
            let vectors = blocking(move || {
                let _turn = turn;
                m.forward(&part)
            })
            .await?;
            for (&i, v) in group.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

impl Embedder for LocalMiniLm {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    /// The same for queries and passages: this model takes no prefixes.
    fn embed<'a>(
        &'a self,
        texts: &'a [String],
        _purpose: EmbedPurpose,
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>> {
        Box::pin(self.embed_texts(texts))
    }
}
