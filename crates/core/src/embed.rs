//! The embedding and reranking ports: what `knowledge` needs from a model for dense retrieval,
//! implemented by `providers` and looked up by id through the server's catalog.

use crate::llm::ModelError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What a text is embedded for: some models want a different prefix for queries and passages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbedPurpose {
    Query,
    Document,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A configured embedding model.
pub trait Embedder: Send + Sync + 'static {
    /// The configured model id (`[[models]] id`), stored beside every vector it made.
    fn model_id(&self) -> &str;
    /// The most texts one call may carry.
    fn max_batch(&self) -> usize {
        64
    }
    /// One vector per text, in order (at most [`Embedder::max_batch`] texts).
    fn embed<'a>(
        &'a self,
        texts: &'a [String],
        purpose: EmbedPurpose,
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>>;
}

/// A configured reranking model (a cross-encoder behind an HTTP endpoint).
pub trait Reranker: Send + Sync + 'static {
    fn model_id(&self) -> &str;
    /// A relevance score per document, in the documents' order (higher is better).
    fn rerank<'a>(&'a self, query: &'a str, documents: &'a [String]) -> BoxFuture<'a, Result<Vec<f32>, ModelError>>;
}

/// Embedding and reranking models by id (the server's catalog: config file and administrators').
pub trait ModelDirectory: Send + Sync + 'static {
    fn embedder(&self, id: &str) -> Option<Arc<dyn Embedder>>;
    fn reranker(&self, id: &str) -> Option<Arc<dyn Reranker>>;
}

/// A directory with no models (lexical retrieval only; commands that do not embed).
#[derive(Debug, Default)]
pub struct NoModels;

impl ModelDirectory for NoModels {
    fn embedder(&self, _: &str) -> Option<Arc<dyn Embedder>> {
        None
    }
    fn reranker(&self, _: &str) -> Option<Arc<dyn Reranker>> {
        None
    }
}
