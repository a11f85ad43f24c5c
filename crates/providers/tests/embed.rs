//! Embedding and reranking clients against local servers speaking each wire format: OpenAI's
//! `/embeddings` and Cohere's `/rerank` (testkit's fake), Ollama's `/api/embed` and
//! text-embeddings-inference's `/rerank` (small servers here), Bedrock Titan and Cohere
//! embeddings through `InvokeModel` (testkit's fake Bedrock, SigV4 shape checked).

#![expect(clippy::unwrap_used, reason = "a test fails at the first broken step")]

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use rampart_core::Secret;
use rampart_core::embed::{EmbedPurpose, Embedder, Reranker};
use rampart_providers::{
    EmbedApi, EmbedConfig, HttpEmbedder, HttpReranker, ProviderErrorKind, RerankApi, RerankConfig,
};
use rampart_testkit::fake_openai::{FakeOpenAi, Knobs};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn texts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn embed_cfg(api: EmbedApi, base: &str) -> EmbedConfig {
    EmbedConfig {
        id: "embed".into(),
        api,
        base_url: base.parse().unwrap(),
        model: "m".into(),
        api_key: Some(Secret::new("sk-embedding-key-1234".into())),
        dimensions: None,
        query_prefix: "query: ".into(),
        document_prefix: "passage: ".into(),
        max_batch: 8,
        timeout: Duration::from_secs(5),
        max_retries: 1,
    }
}

#[tokio::test]
async fn openai_embeddings_in_order_with_prefixes_dimensions_and_retries() {
    let up =
        FakeOpenAi::start(Knobs { fail_first: 1, fail_status: 503, retry_after: Some(0), ..Default::default() }).await;
    let mut cfg = embed_cfg(EmbedApi::OpenAi, &up.base_url);
    cfg.dimensions = Some(16);
    let e = HttpEmbedder::new(cfg).unwrap();
    assert_eq!(e.model_id(), "embed");
    let v = e.embed(&texts(&["red apple", "green pear"]), EmbedPurpose::Document).await.unwrap();
    assert_eq!(v.len(), 2);
    assert!(v.iter().all(|x| x.len() == 16));
    let reqs = up.requests();
    assert_eq!(reqs.len(), 2, "one retry after the 503");
    let (auth, body) = &reqs[1];
    assert_eq!(auth.as_deref(), Some("Bearer sk-embedding-key-1234"));
    assert_eq!(body["input"], json!(["passage: red apple", "passage: green pear"]));
    assert_eq!(body["dimensions"], 16);
    assert_eq!(body["model"], "m");
    e.embed(&texts(&["red apple"]), EmbedPurpose::Query).await.unwrap();
    assert_eq!(up.requests()[2].1["input"], json!(["query: red apple"]));
}

/// A small server answering with whatever `answer` holds.
async fn serve(path: &'static str, answer: Value) -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let state = (seen.clone(), answer);
    async fn handle(
        State((seen, answer)): State<(Arc<Mutex<Vec<Value>>>, Value)>,
        Json(body): Json<Value>,
    ) -> Response {
        seen.lock().unwrap().push(body);
        Json(answer).into_response()
    }
    let app = axum::Router::new().route(path, axum::routing::post(handle)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn ollama_embed_wire_format() {
    let (base, seen) = serve("/api/embed", json!({"model": "m", "embeddings": [[0.1, 0.2], [0.3, 0.4]]})).await;
    let e = HttpEmbedder::new(embed_cfg(EmbedApi::Ollama, &base)).unwrap();
    let v = e.embed(&texts(&["a", "b"]), EmbedPurpose::Document).await.unwrap();
    assert_eq!(v, vec![vec![0.1, 0.2], vec![0.3, 0.4]]);
    assert_eq!(seen.lock().unwrap()[0], json!({"model": "m", "input": ["passage: a", "passage: b"]}));
}

#[tokio::test]
async fn malformed_embedding_answers_are_protocol_errors() {
    for answer in [
        json!({"embeddings": [[0.1, 0.2]]}),             // one vector for two texts
        json!({"embeddings": [[0.1, 0.2], [0.3]]}),      // different lengths
        json!({"embeddings": [[], []]}),                 // empty vectors
        json!({"embeddings": [["x", 0.2], [0.3, 0.4]]}), // not numbers
        json!({"vectors": []}),                          // another shape
    ] {
        let (base, _) = serve("/api/embed", answer.clone()).await;
        let e = HttpEmbedder::new(embed_cfg(EmbedApi::Ollama, &base)).unwrap();
        let err = e.embed_texts(&texts(&["a", "b"]), EmbedPurpose::Document).await.unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::Protocol, "{answer}: {err}");
        assert!(!err.retryable);
    }
    let (base, _) = serve("/embeddings", json!({"data": [{"index": 5, "embedding": [1.0]}]})).await;
    let e = HttpEmbedder::new(embed_cfg(EmbedApi::OpenAi, &base)).unwrap();
    assert_eq!(e.embed_texts(&texts(&["a"]), EmbedPurpose::Query).await.unwrap_err().kind, ProviderErrorKind::Protocol);
}

#[tokio::test]
async fn upstream_errors_are_classified_and_never_carry_the_key() {
    let up = FakeOpenAi::start(Knobs { fail_first: 100, fail_status: 401, ..Default::default() }).await;
    let e = HttpEmbedder::new(embed_cfg(EmbedApi::OpenAi, &up.base_url)).unwrap();
    let err = e.embed_texts(&texts(&["a"]), EmbedPurpose::Query).await.unwrap_err();
    assert_eq!((err.kind, err.status, err.retryable), (ProviderErrorKind::Upstream, Some(401), false));
    assert_eq!(up.requests().len(), 1, "401 is not retried");
    assert!(!err.to_string().contains("sk-embedding-key-1234"));
}

fn rerank_cfg(api: RerankApi, base: &str) -> RerankConfig {
    RerankConfig {
        id: "rr".into(),
        api,
        base_url: base.parse().unwrap(),
        model: "reranker".into(),
        api_key: None,
        timeout: Duration::from_secs(5),
        max_retries: 0,
    }
}

#[tokio::test]
async fn cohere_and_tei_rerank_scores_come_back_in_document_order() {
    let up = FakeOpenAi::start(Knobs::default()).await;
    let r = HttpReranker::new(rerank_cfg(RerankApi::Cohere, &up.base_url)).unwrap();
    let docs = texts(&["nothing here", "the cat sat", "cat"]);
    let scores = r.rerank("cat", &docs).await.unwrap();
    assert_eq!(scores.len(), 3);
    assert_eq!(scores[0], 0.0);
    assert!(scores[2] > scores[1] && scores[1] > 0.0, "{scores:?}");
    let body = &up.requests()[0].1;
    assert_eq!((body["query"].as_str(), body["top_n"].as_u64()), (Some("cat"), Some(3)));

    let (base, seen) = serve("/rerank", json!([{"index": 1, "score": 0.9}, {"index": 0, "score": 0.2}])).await;
    let r = HttpReranker::new(rerank_cfg(RerankApi::Tei, &base)).unwrap();
    assert_eq!(r.rerank("q", &texts(&["a", "b"])).await.unwrap(), vec![0.2, 0.9]);
    assert_eq!(seen.lock().unwrap()[0], json!({"query": "q", "texts": ["a", "b"]}));
    // A score missing for a document is an error, not a silent zero.
    let (base, _) = serve("/rerank", json!([{"index": 1, "score": 0.9}])).await;
    let r = HttpReranker::new(rerank_cfg(RerankApi::Tei, &base)).unwrap();
    assert_eq!(r.scores("q", &texts(&["a", "b"])).await.unwrap_err().kind, ProviderErrorKind::Protocol);
}

#[cfg(feature = "bedrock")]
mod bedrock {
    use super::*;
    use rampart_providers::{BedrockConfig, BedrockEmbedder};
    use rampart_testkit::fake_bedrock::{FakeBedrock, Knobs};

    fn cfg(base: &str, model: &str) -> BedrockConfig {
        BedrockConfig {
            region: "eu-west-1".into(),
            model: model.into(),
            endpoint_url: Some(base.parse().unwrap()),
            access_key_id: Some(Secret::new("AKIDRAMPARTEMBED".into())),
            secret_access_key: Some(Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEMBEDKEY".into())),
            session_token: None,
            timeout: Duration::from_secs(5),
            max_retries: 1,
            tools: false,
        }
    }

    #[tokio::test]
    async fn titan_one_text_per_call_and_cohere_in_batches_signed_with_sigv4() {
        let up = FakeBedrock::start(Knobs::default()).await;
        let titan =
            BedrockEmbedder::new("titan".into(), cfg(&up.base_url, "amazon.titan-embed-text-v2:0"), Some(256)).unwrap();
        let v = titan.embed(&texts(&["one", "two"]), EmbedPurpose::Document).await.unwrap();
        assert_eq!((v.len(), v[0].len()), (2, 256));
        let reqs = up.requests();
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].body, json!({"inputText": "one", "normalize": true, "dimensions": 256}));
        assert_eq!((reqs[0].auth.service.as_str(), reqs[0].auth.region.as_str()), ("bedrock", "eu-west-1"));
        assert_eq!(reqs[0].model_id, "amazon.titan-embed-text-v2:0");

        let cohere = BedrockEmbedder::new("co".into(), cfg(&up.base_url, "cohere.embed-english-v3"), None).unwrap();
        let v = cohere.embed(&texts(&["a", "b", "c"]), EmbedPurpose::Query).await.unwrap();
        assert_eq!(v.len(), 3);
        let last = up.requests().pop().unwrap();
        assert_eq!(last.body["texts"], json!(["a", "b", "c"]));
        assert_eq!(last.body["input_type"], "search_query");
    }

    #[tokio::test]
    async fn bedrock_errors_are_classified_and_throttling_is_retried() {
        let up = FakeBedrock::start(Knobs { fail_first: 1, fail_status: 429, ..Default::default() }).await;
        let titan = BedrockEmbedder::new("t".into(), cfg(&up.base_url, "amazon.titan-embed-text-v2:0"), None).unwrap();
        assert_eq!(titan.embed_texts(&texts(&["x"]), EmbedPurpose::Query).await.unwrap()[0].len(), 1024);
        assert_eq!(up.requests().len(), 2, "throttling retried once");
        up.set_knobs(Knobs { fail_first: 100, fail_status: 400, ..Default::default() });
        let err = titan.embed_texts(&texts(&["x"]), EmbedPurpose::Query).await.unwrap_err();
        assert_eq!((err.kind, err.retryable), (ProviderErrorKind::Upstream, false));
        assert!(!err.detail.contains("wJalrXUtnFEMI"));
    }
}
