//! Embedding texts through the `core::embed::Embedder` port: in the model's batch size, checked
//! and normalised to unit length (knowledge ingestion and retrieval, meeting search, the
//! retrieval evaluator).

use rampart_core::embed::{EmbedPurpose, Embedder};
use rampart_core::llm::ModelError;

/// Why [`embed_all`] has no vectors. The text is for the log (it may carry the provider's words).
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model call failed.
    #[error("{}", .0.detail)]
    Model(ModelError),
    /// The model answered with another number of vectors than texts.
    #[error("{vectors} vectors for {texts} texts")]
    Count { vectors: usize, texts: usize },
    #[error("a zero or non-finite vector")]
    NotFinite,
    #[error("vectors of different sizes")]
    MixedSizes,
}

/// Embeds `texts` in the model's batch size; unit-length vectors of one size, or why not.
pub async fn embed_all(
    e: &dyn Embedder,
    texts: &[String],
    purpose: EmbedPurpose,
) -> std::result::Result<Vec<Vec<f32>>, EmbedError> {
    let mut out = Vec::with_capacity(texts.len());
    for batch in texts.chunks(e.max_batch().max(1)) {
        let vectors = e.embed(batch, purpose).await.map_err(EmbedError::Model)?;
        if vectors.len() != batch.len() {
            return Err(EmbedError::Count { vectors: vectors.len(), texts: batch.len() });
        }
        for mut v in vectors {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if !norm.is_normal() {
                return Err(EmbedError::NotFinite);
            }
            v.iter_mut().for_each(|x| *x /= norm);
            if out.first().is_some_and(|f: &Vec<f32>| f.len() != v.len()) {
                return Err(EmbedError::MixedSizes);
            }
            out.push(v);
        }
    }
    Ok(out)
}
