//! The in-process embedding model (all-MiniLM-L6-v2): with its weights installed and no embedding
//! model configured, new knowledge bases embed with it and retrieval finds meaning where words
//! are missing; without them (or turned off) knowledge bases stay lexical; the status page says
//! which. The tests with the weights need `RAMPART_TEST_MINILM_MODEL` (set by `make test`) and
//! print SKIPPED without it.

use crate::common::*;
use crate::knowledge::{HANDBOOK, create_kb, ingested, upload};
use serde_json::{Value, json};

const PARKING: &str = "Parking permits are renewed every March at the front desk.";
const LOCAL: &str = "all-MiniLM-L6-v2";

#[expect(clippy::print_stderr, reason = "a skipped test says so on the test's output")]
fn model_dir(test: &str) -> Option<String> {
    let dir = std::env::var("RAMPART_TEST_MINILM_MODEL")
        .ok()
        .filter(|d| std::path::Path::new(d).join("model.safetensors").is_file());
    if dir.is_none() {
        eprintln!("SKIPPED {test}: needs RAMPART_TEST_MINILM_MODEL (make test sets it)");
    }
    dir
}

async fn status(s: &TestServer, admin: &str) -> Value {
    s.get("/v1/admin/status", Some(admin)).await.expect(200).body["retrieval"].clone()
}

async fn search(s: &TestServer, t: &str, kb: &str, q: &str, mode: Option<&str>) -> Vec<String> {
    let mut body = json!({"query": q, "numberOfResults": 5});
    if let Some(m) = mode {
        body["searchType"] = json!(m);
    }
    let r = s.post(&format!("/v1/knowledge-bases/{kb}/retrieve"), Some(t), body).await.expect(200).body;
    r["results"].as_array().unwrap().iter().map(|x| x["documentName"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn with_the_weights_new_knowledge_bases_embed_in_process_and_retrieval_is_hybrid() {
    let Some(dir) = model_dir("with_the_weights_new_knowledge_bases_embed_in_process_and_retrieval_is_hybrid") else {
        return;
    };
    let s = TestServer::start_with(&[("knowledge.local_model_dir", json!(dir))]).await;
    let (_, admin) = s.admin().await;
    let st = status(&s, &admin).await;
    assert_eq!(
        (&st["localEmbedder"], &st["defaultMode"], &st["defaultEmbeddingModel"], &st["localEmbedderLoaded"]),
        (&json!("active"), &json!("hybrid"), &json!(LOCAL), &json!(false)),
        "{st}"
    );
    s.user("d@example.com", &[]).await;
    let t = s.token("d@example.com").await;
    let kb = create_kb(&s, &t, "handbook", &[]).await;
    upload(&s, &t, &kb, &[("handbook.md", HANDBOOK.as_bytes()), ("parking.txt", PARKING.as_bytes())]).await;
    let view = ingested(&s, &t, &kb).await;
    assert_eq!((&view["embeddingModel"], &view["counts"]["failed"]), (&json!(LOCAL), &json!(0)), "{view}");
    assert!(status(&s, &admin).await["localEmbedderLoaded"].as_bool().unwrap(), "loaded by its first use");

    // No word in common: BM25 finds nothing, the vectors find the handbook's vacation rules.
    assert!(search(&s, &t, &kb, "holiday allowance", Some("lexical")).await.is_empty());
    assert_eq!(search(&s, &t, &kb, "holiday allowance", Some("semantic")).await[0], "handbook.md");
    assert_eq!(search(&s, &t, &kb, "holiday allowance", None).await[0], "handbook.md", "hybrid by default");
    assert_eq!(search(&s, &t, &kb, "where do I renew my car permit", None).await[0], "parking.txt");

    // A knowledge base may still ask for none.
    let lexical =
        s.post("/v1/knowledge-bases", Some(&t), json!({"name": "words", "embeddingModel": ""})).await.expect(201).body;
    assert!(lexical.get("embeddingModel").is_none(), "{lexical}");
}

#[tokio::test]
async fn a_configured_embedding_model_stays_the_default_and_the_local_one_is_there_by_name() {
    let Some(dir) = model_dir("a_configured_embedding_model_stays_the_default_and_the_local_one_is_there_by_name")
    else {
        return;
    };
    let models = json!([{"id": "embed", "kind": "embedding", "provider": "openai",
                         "base_url": "http://127.0.0.1:9/v1", "model": "m", "max_retries": 0}]);
    let s = TestServer::start_with(&[
        ("knowledge.local_model_dir", json!(dir)),
        ("models", models),
        ("knowledge.embedding_model", json!("embed")),
    ])
    .await;
    let (_, admin) = s.admin().await;
    let st = status(&s, &admin).await;
    assert_eq!((&st["localEmbedder"], &st["defaultEmbeddingModel"]), (&json!("installed"), &json!("embed")), "{st}");
    s.user("e@example.com", &[]).await;
    let t = s.token("e@example.com").await;
    let body = json!({"name": "local", "embeddingModel": LOCAL});
    let kb = s.post("/v1/knowledge-bases", Some(&t), body).await.expect(201).body;
    assert_eq!(kb["embeddingModel"], LOCAL);
}

#[tokio::test]
async fn without_the_weights_or_turned_off_knowledge_bases_stay_lexical_and_status_says_why() {
    let s = TestServer::start().await;
    let (_, admin) = s.admin().await;
    let st = status(&s, &admin).await;
    assert_eq!((&st["localEmbedder"], &st["defaultMode"]), (&json!("not_installed"), &json!("lexical")), "{st}");
    assert!(st.get("defaultEmbeddingModel").is_none());
    assert!(st["localModelDir"].as_str().unwrap().ends_with("models/all-MiniLM-L6-v2"), "{st}");
    s.user("f@example.com", &[]).await;
    let t = s.token("f@example.com").await;
    let kb = s.get(&format!("/v1/knowledge-bases/{}", create_kb(&s, &t, "k", &[]).await), Some(&t)).await.body;
    assert!(kb.get("embeddingModel").is_none(), "{kb}");
    // Naming the local model is refused while it cannot run.
    s.post("/v1/knowledge-bases", Some(&t), json!({"name": "x", "embeddingModel": LOCAL}))
        .await
        .expect_error(400, "invalid_request");

    // Made the default in the configuration without its weights: start-up refuses, clearly.
    let mut cfg = (*s.state.config).clone();
    cfg.knowledge.embedding_model = Some(LOCAL.into());
    let err = rampart_server::build_state(cfg).await.err().expect("refused").to_string();
    assert!(err.contains("make minilm-model") && err.contains("local_model_dir"), "{err}");

    if let Some(dir) = model_dir("without_the_weights_or_turned_off (off half)") {
        let off = TestServer::start_with(&[
            ("knowledge.local_model_dir", json!(dir)),
            ("knowledge.local_embedder", json!(false)),
        ])
        .await;
        let (_, admin) = off.admin().await;
        let st = status(&off, &admin).await;
        assert_eq!((&st["localEmbedder"], &st["defaultMode"]), (&json!("off"), &json!("lexical")), "{st}");
    }
}
