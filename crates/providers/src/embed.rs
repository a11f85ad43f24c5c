//! Embedding and reranking clients (the `core::embed` ports):
//! - [`HttpEmbedder`] with the OpenAI wire format (`POST {base_url}/embeddings`, which OpenAI,
//!   vLLM, Ollama's `/v1`, llama.cpp server, LM Studio and text-embeddings-inference speak) or
//!   Ollama's own (`POST {base_url}/api/embed`);
//! - [`HttpReranker`] with the Cohere wire format (`POST {base_url}/rerank` with `documents`,
//!   spoken by Cohere, Jina, vLLM, llama.cpp server and Infinity) or text-embeddings-inference's
//!   (`POST {base_url}/rerank` with `texts`).
//!
//! Same retry rules as the chat clients (`http::send`). Vectors are checked: one per input, the
//! same length each, finite numbers.

use crate::error::{ProviderError, ProviderErrorKind};
use crate::http;
use rampart_core::Secret;
use rampart_core::embed::{BoxFuture, EmbedPurpose, Embedder, Reranker};
use rampart_core::llm::ModelError;
use serde_json::{Value, json};
use std::time::Duration;

/// Which request and response shape an endpoint speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbedApi {
    /// `POST /embeddings {model, input: [..]}` → `{data: [{index, embedding}]}`.
    OpenAi,
    /// `POST /api/embed {model, input: [..]}` → `{embeddings: [[..]]}`.
    Ollama,
}

#[derive(Clone, Debug)]
pub struct EmbedConfig {
    /// The configured id (stored with every vector).
    pub id: String,
    pub api: EmbedApi,
    /// e.g. `https://api.openai.com/v1` (OpenAI shape) or `http://127.0.0.1:11434` (Ollama).
    pub base_url: url::Url,
    /// The upstream's model name.
    pub model: String,
    pub api_key: Option<Secret<String>>,
    /// Asked of models that can shorten their vectors (OpenAI `text-embedding-3-*`).
    pub dimensions: Option<u32>,
    /// Put before queries and before passages (models such as E5 or Nomic want them).
    pub query_prefix: String,
    pub document_prefix: String,
    pub max_batch: usize,
    pub timeout: Duration,
    pub max_retries: u32,
}

#[derive(Clone, Debug)]
pub struct HttpEmbedder {
    http: reqwest::Client,
    cfg: EmbedConfig,
}

fn protocol(detail: impl Into<String>) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Protocol, false, detail)
}

fn url(base: &url::Url, path: &str) -> String {
    format!("{}/{path}", base.as_str().trim_end_matches('/'))
}

/// Checks a batch of vectors: `n` of them, all of one non-zero length, finite.
pub fn check_vectors(vectors: &[Vec<f32>], n: usize) -> Result<(), ProviderError> {
    if vectors.len() != n {
        return Err(protocol(format!("{} vectors for {n} inputs", vectors.len())));
    }
    let dims = vectors.first().map_or(0, Vec::len);
    if n > 0 && dims == 0 {
        return Err(protocol("empty vector"));
    }
    if vectors.iter().any(|v| v.len() != dims || v.iter().any(|x| !x.is_finite())) {
        return Err(protocol("vectors of different lengths or with non-finite numbers"));
    }
    Ok(())
}

fn floats(v: &Value) -> Option<Vec<f32>> {
    v.as_array()?.iter().map(|x| x.as_f64().map(|f| f as f32)).collect()
}

impl HttpEmbedder {
    pub fn new(cfg: EmbedConfig) -> Result<Self, ProviderError> {
        Ok(Self { http: http::client(cfg.timeout)?, cfg })
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, ProviderError> {
        let key = self.cfg.api_key.as_ref().map(|k| k.expose().as_str());
        let target = url(&self.cfg.base_url, path);
        let make = || {
            let r = self.http.post(&target).json(body);
            match key {
                Some(k) => r.bearer_auth(k),
                None => r,
            }
        };
        let resp = http::send(make, self.cfg.timeout, self.cfg.max_retries, key.as_slice()).await?;
        resp.json().await.map_err(|e| ProviderError::from_reqwest(&e))
    }

    /// One vector per text, in order.
    pub async fn embed_texts(&self, texts: &[String], purpose: EmbedPurpose) -> Result<Vec<Vec<f32>>, ProviderError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let prefix = match purpose {
            EmbedPurpose::Query => &self.cfg.query_prefix,
            EmbedPurpose::Document => &self.cfg.document_prefix,
        };
        let input: Vec<String> = texts.iter().map(|t| format!("{prefix}{t}")).collect();
        let vectors = match self.cfg.api {
            EmbedApi::OpenAi => {
                let mut body = json!({"model": self.cfg.model, "input": input, "encoding_format": "float"});
                if let Some(d) = self.cfg.dimensions {
                    body["dimensions"] = json!(d);
                }
                let v = self.post("embeddings", &body).await?;
                let data = v["data"].as_array().ok_or_else(|| protocol("no data[] in the embeddings response"))?;
                let mut out: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
                for (i, d) in data.iter().enumerate() {
                    let at = d["index"].as_u64().map_or(i, |x| usize::try_from(x).unwrap_or(usize::MAX));
                    let slot = out.get_mut(at).ok_or_else(|| protocol("embedding index out of range"))?;
                    *slot =
                        Some(floats(&d["embedding"]).ok_or_else(|| protocol("embedding is not an array of numbers"))?);
                }
                out.into_iter().collect::<Option<Vec<_>>>().ok_or_else(|| protocol("an input got no embedding"))?
            }
            EmbedApi::Ollama => {
                let v = self.post("api/embed", &json!({"model": self.cfg.model, "input": input})).await?;
                let e = v["embeddings"].as_array().ok_or_else(|| protocol("no embeddings[] in the response"))?;
                e.iter()
                    .map(floats)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| protocol("embeddings are not numbers"))?
            }
        };
        check_vectors(&vectors, texts.len())?;
        Ok(vectors)
    }
}

impl Embedder for HttpEmbedder {
    fn model_id(&self) -> &str {
        &self.cfg.id
    }

    fn max_batch(&self) -> usize {
        self.cfg.max_batch.max(1)
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
        purpose: EmbedPurpose,
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>> {
        Box::pin(async move { Ok(self.embed_texts(texts, purpose).await?) })
    }
}

/// Which reranking API an endpoint speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RerankApi {
    /// `POST /rerank {model, query, documents, top_n}` → `{results: [{index, relevance_score}]}`.
    Cohere,
    /// `POST /rerank {query, texts}` → `[{index, score}]` (text-embeddings-inference).
    Tei,
}

#[derive(Clone, Debug)]
pub struct RerankConfig {
    pub id: String,
    pub api: RerankApi,
    pub base_url: url::Url,
    pub model: String,
    pub api_key: Option<Secret<String>>,
    pub timeout: Duration,
    pub max_retries: u32,
}

#[derive(Clone, Debug)]
pub struct HttpReranker {
    embed: HttpEmbedder,
    cfg: RerankConfig,
}

impl HttpReranker {
    pub fn new(cfg: RerankConfig) -> Result<Self, ProviderError> {
        // The HTTP plumbing is the embedder's (same client rules, retries, key redaction).
        let embed = HttpEmbedder::new(EmbedConfig {
            id: cfg.id.clone(),
            api: EmbedApi::OpenAi,
            base_url: cfg.base_url.clone(),
            model: cfg.model.clone(),
            api_key: cfg.api_key.clone(),
            dimensions: None,
            query_prefix: String::new(),
            document_prefix: String::new(),
            max_batch: 1,
            timeout: cfg.timeout,
            max_retries: cfg.max_retries,
        })?;
        Ok(Self { embed, cfg })
    }

    /// A score per document, in the documents' order.
    pub async fn scores(&self, query: &str, documents: &[String]) -> Result<Vec<f32>, ProviderError> {
        if documents.is_empty() {
            return Ok(Vec::new());
        }
        let (body, list_at, score_key) = match self.cfg.api {
            RerankApi::Cohere => (
                json!({"model": self.cfg.model, "query": query, "documents": documents, "top_n": documents.len()}),
                "/results",
                "relevance_score",
            ),
            RerankApi::Tei => (json!({"query": query, "texts": documents}), "", "score"),
        };
        let v = self.embed.post("rerank", &body).await?;
        let list = v
            .pointer(list_at)
            .and_then(Value::as_array)
            .ok_or_else(|| protocol("no results in the rerank response"))?;
        let mut out: Vec<Option<f32>> = vec![None; documents.len()];
        for r in list {
            let i = r["index"]
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .ok_or_else(|| protocol("result without index"))?;
            let s =
                r[score_key].as_f64().filter(|s| s.is_finite()).ok_or_else(|| protocol("result without a score"))?;
            *out.get_mut(i).ok_or_else(|| protocol("rerank index out of range"))? = Some(s as f32);
        }
        out.into_iter().collect::<Option<Vec<_>>>().ok_or_else(|| protocol("a document got no score"))
    }
}

impl Reranker for HttpReranker {
    fn model_id(&self) -> &str {
        &self.cfg.id
    }

    fn rerank<'a>(&'a self, query: &'a str, documents: &'a [String]) -> BoxFuture<'a, Result<Vec<f32>, ModelError>> {
        Box::pin(async move { Ok(self.scores(query, documents).await?) })
    }
}
