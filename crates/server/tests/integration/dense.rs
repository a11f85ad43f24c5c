//! Dense and hybrid retrieval over HTTP, against a fake embedding and reranking upstream that
//! speaks OpenAI's and Cohere's wire formats (its vectors put synonyms together, so meaning can
//! be found where words are missing): semantic and fused rankings, reranking, access control,
//! failures of the embedding model, changing a knowledge base's model, runtime models, and
//! graphs saved, reloaded and rebuilt after a restart.

use crate::common::*;
use crate::knowledge::{HANDBOOK, ask, create_kb, ingested, upload};
use rampart_testkit::fake_openai::{FakeOpenAi, Knobs};
use serde_json::{Value, json};

const PARKING: &str = "Parking permits are renewed every March at the front desk.";

fn knobs() -> Knobs {
    Knobs {
        synonyms: vec![vec!["vacation".into(), "holiday".into(), "leave".into()]],
        fail_status: 503,
        ..Default::default()
    }
}

fn models(up: &FakeOpenAi) -> (&'static str, Value) {
    (
        "models",
        json!([
            {"id": "embed", "kind": "embedding", "provider": "openai", "base_url": up.base_url, "model": "fake-embed",
             "api_key": "sk-embed-secret", "max_retries": 0},
            {"id": "rerank", "kind": "rerank", "provider": "cohere", "base_url": up.base_url, "model": "fake-rerank",
             "max_retries": 0},
            {"id": "chat", "provider": "openai", "base_url": up.base_url, "model": "llm", "max_retries": 0}
        ]),
    )
}

async fn search(s: &TestServer, t: &str, kb: &str, q: &str, mode: &str) -> Vec<Value> {
    let body = json!({"query": q, "numberOfResults": 5, "searchType": mode});
    s.post(&format!("/v1/knowledge-bases/{kb}/retrieve"), Some(t), body).await.expect(200).body["results"]
        .as_array()
        .unwrap()
        .clone()
}

fn names(results: &[Value]) -> Vec<&str> {
    results.iter().map(|r| r["documentName"].as_str().unwrap()).collect()
}

/// A server with the fake's models, a user and their knowledge base holding the handbook and
/// the parking note.
async fn setup(extra: &[(&str, Value)]) -> (FakeOpenAi, TestServer, String, String) {
    let up = FakeOpenAi::start(knobs()).await;
    let mut tweak = vec![models(&up), ("knowledge.embedding_model", json!("embed"))];
    tweak.extend(extra.iter().cloned());
    let s = TestServer::start_with(&tweak).await;
    s.user("d@example.com", &[]).await;
    let t = s.token("d@example.com").await;
    let kb = create_kb(&s, &t, "handbook", &[]).await;
    upload(&s, &t, &kb, &[("handbook.md", HANDBOOK.as_bytes()), ("parking.txt", PARKING.as_bytes())]).await;
    let view = ingested(&s, &t, &kb).await;
    assert_eq!(view["counts"]["failed"], 0, "{view}");
    (up, s, t, kb)
}

#[tokio::test]
async fn semantic_and_hybrid_retrieval_find_meaning_that_words_miss() {
    let (up, s, t, kb) = setup(&[]).await;
    let view = s.get(&format!("/v1/knowledge-bases/{kb}"), Some(&t)).await.expect(200).body;
    assert_eq!(view["embeddingModel"], "embed", "the configured default");
    assert!(search(&s, &t, &kb, "holiday allowance", "lexical").await.is_empty(), "no shared word");
    let semantic = search(&s, &t, &kb, "holiday allowance", "semantic").await;
    assert_eq!(names(&semantic)[0], "handbook.md");
    assert!(semantic[0]["score"].as_f64().unwrap() > semantic[1]["score"].as_f64().unwrap());
    assert_eq!(names(&search(&s, &t, &kb, "holiday allowance", "hybrid").await)[0], "handbook.md");
    // The default is hybrid; words still count.
    let r = s
        .post(&format!("/v1/knowledge-bases/{kb}/retrieve"), Some(&t), json!({"query": "parking permits"}))
        .await
        .expect(200)
        .body;
    assert_eq!(r["results"][0]["documentName"], "parking.txt");
    // Passages were embedded as documents and queries as queries, with the model's key.
    let reqs = up.requests();
    assert!(reqs.iter().all(|(auth, _)| auth.as_deref() == Some("Bearer sk-embed-secret")));
    let embedded = |needle: &str| {
        reqs.iter()
            .any(|(_, b)| b["input"].as_array().is_some_and(|i| i.iter().any(|x| x.as_str().unwrap().contains(needle))))
    };
    assert!(embedded("Parking permits") && embedded("two vacation days"));
    assert!(reqs.iter().any(|(_, b)| b["input"] == json!(["holiday allowance"])));
    s.post(&format!("/v1/knowledge-bases/{kb}/retrieve"), Some(&t), json!({"query": "x", "searchType": "fuzzy"}))
        .await
        .expect_error(400, "invalid_json");
}

#[tokio::test]
async fn a_reranker_reorders_the_fused_candidates() {
    let (up, s, t, kb) = setup(&[("knowledge.reranker", json!("rerank"))]).await;
    let results = search(&s, &t, &kb, "holiday parking", "hybrid").await;
    assert_eq!(names(&results), vec!["parking.txt", "handbook.md"]);
    // The fake reranker scores literal query words only: the handbook has none of them.
    assert!(results[0]["score"].as_f64().unwrap() > 0.0);
    assert_eq!(results[1]["score"].as_f64().unwrap(), 0.0);
    let rerank = up.requests().into_iter().find(|(_, b)| b["documents"].is_array()).expect("a rerank request").1;
    assert_eq!(rerank["query"], "holiday parking");
    assert_eq!(rerank["model"], "fake-rerank");
}

#[tokio::test]
async fn dense_retrieval_and_rag_answers_never_cross_knowledge_bases() {
    let up = FakeOpenAi::start(knobs()).await;
    let s = TestServer::start_with(&[
        models(&up),
        ("knowledge.embedding_model", json!("embed")),
        ("assistants", json!([{"id": "default", "kind": "rag", "knowledge_bases": ["a-notes", "b-notes"]}])),
    ])
    .await;
    s.user("a@example.com", &[]).await;
    let b_uid = s.user("b@example.com", &[]).await;
    let a = s.token("a@example.com").await;
    let b = s.token("b@example.com").await;
    let kb_a = create_kb(&s, &a, "a-notes", &[]).await;
    let kb_b = create_kb(&s, &b, "b-notes", &[]).await;
    // Nearly the same words: nothing but the access rules keeps them apart.
    upload(&s, &a, &kb_a, &[("a.txt", b"Team A holiday schedule: vacation starts Monday, confidential.")]).await;
    upload(&s, &b, &kb_b, &[("b.txt", b"Team B holiday schedule: vacation starts Friday.")]).await;
    ingested(&s, &a, &kb_a).await;
    ingested(&s, &b, &kb_b).await;
    for mode in ["semantic", "hybrid", "lexical"] {
        assert_eq!(names(&search(&s, &b, &kb_b, "holiday schedule", mode).await), vec!["b.txt"], "{mode}");
        s.post(
            &format!("/v1/knowledge-bases/{kb_a}/retrieve"),
            Some(&b),
            json!({"query": "holiday schedule", "searchType": mode}),
        )
        .await
        .expect_error(404, "not_found");
    }
    let (text, events, _) = ask(&s, &b, &b_uid, "When does the holiday start?").await;
    assert!(text.contains("Friday") && !text.contains("Monday") && !text.contains("confidential"), "{text}");
    let sources = events.iter().find(|e| e["type"] == "source").unwrap();
    assert_eq!(sources["documents"].as_array().unwrap().len(), 1);
    assert_eq!(sources["documents"][0]["title"], "b.txt");
}

#[tokio::test]
async fn a_failing_embedding_model_fails_the_document_clearly_and_retrieval_falls_back_to_words() {
    let up = FakeOpenAi::start(Knobs { fail_first: 1_000, ..knobs() }).await;
    let s = TestServer::start_with(&[models(&up), ("knowledge.embedding_model", json!("embed"))]).await;
    s.user("f@example.com", &[]).await;
    let t = s.token("f@example.com").await;
    let kb = create_kb(&s, &t, "flaky", &[]).await;
    let doc =
        upload(&s, &t, &kb, &[("handbook.md", HANDBOOK.as_bytes())]).await.json::<Value>().await.unwrap()["documents"]
            [0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let view = ingested(&s, &t, &kb).await;
    assert_eq!(view["counts"]["failed"], 1);
    let d = s.get(&format!("/v1/knowledge-bases/{kb}/documents/{doc}"), Some(&t)).await.expect(200).body;
    assert_eq!(d["status"], "failed");
    assert!(d["error"].as_str().unwrap().contains("embedding model failed"), "{d}");
    assert!(!d["error"].as_str().unwrap().contains("503"), "upstream details stay in the log: {d}");
    // The model recovers: re-ingesting works.
    up.set_knobs(knobs());
    s.post(&format!("/v1/knowledge-bases/{kb}/documents/{doc}/reingest"), Some(&t), json!({})).await.expect(202);
    assert_eq!(ingested(&s, &t, &kb).await["counts"]["failed"], 0);
    assert_eq!(names(&search(&s, &t, &kb, "holiday", "semantic").await), vec!["handbook.md"]);
    // The model fails at query time: hybrid keeps the lexical ranking, semantic has nothing.
    up.set_knobs(Knobs { fail_first: 1_000_000, ..knobs() });
    assert_eq!(names(&search(&s, &t, &kb, "vacation", "hybrid").await), vec!["handbook.md"]);
    assert!(search(&s, &t, &kb, "vacation", "semantic").await.is_empty());
}

#[tokio::test]
async fn changing_the_embedding_model_re_ingests_and_bad_models_are_refused() {
    let (_up, s, t, kb) = setup(&[]).await;
    let path = format!("/v1/knowledge-bases/{kb}");
    for bad in ["nope", "rerank", "chat"] {
        s.req(reqwest::Method::PATCH, &path, Some(&t), Some(json!({"embeddingModel": bad})))
            .await
            .expect_error(400, "invalid_request");
        s.post("/v1/knowledge-bases", Some(&t), json!({"name": format!("x-{bad}"), "embeddingModel": bad}))
            .await
            .expect_error(400, "invalid_request");
    }
    // Lexical only: re-ingested without vectors; semantic finds nothing, words still do.
    let v = s.req(reqwest::Method::PATCH, &path, Some(&t), Some(json!({"embeddingModel": ""}))).await.expect(200).body;
    assert!(v.get("embeddingModel").is_none(), "{v}");
    ingested(&s, &t, &kb).await;
    assert!(search(&s, &t, &kb, "holiday", "semantic").await.is_empty());
    assert_eq!(names(&search(&s, &t, &kb, "parking", "hybrid").await)[0], "parking.txt");
    s.req(reqwest::Method::PATCH, &path, Some(&t), Some(json!({"embeddingModel": "embed"}))).await.expect(200);
    ingested(&s, &t, &kb).await;
    assert_eq!(names(&search(&s, &t, &kb, "holiday", "semantic").await)[0], "handbook.md");
    // Created lexical-only on purpose, despite the default.
    let lex = s.post("/v1/knowledge-bases", Some(&t), json!({"name": "plain", "embeddingModel": ""})).await.expect(201);
    assert!(lex.body.get("embeddingModel").is_none());
}

#[tokio::test]
async fn models_added_at_runtime_embed_and_cannot_be_deleted_while_used() {
    let up = FakeOpenAi::start(knobs()).await;
    let s = TestServer::start().await;
    let (_, admin) = s.admin().await;
    let spec = json!({"id": "embed2", "kind": "embedding", "provider": "openai", "base_url": up.base_url,
                      "model": "fake-embed", "api_key": "sk-runtime", "max_retries": 0});
    let created = s.post("/v1/admin/models", Some(&admin), spec).await.expect(201).body;
    assert_eq!(created["secrets"], json!(["api_key"]));
    assert!(!created.to_string().contains("sk-runtime"));
    // An assistant cannot answer with an embedding model.
    s.post("/v1/admin/assistants", Some(&admin), json!({"id": "bad", "kind": "model", "model": "embed2"}))
        .await
        .expect_error(400, "invalid_request");
    let kb = s
        .post("/v1/knowledge-bases", Some(&admin), json!({"name": "runtime", "embeddingModel": "embed2"}))
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    upload(&s, &admin, &kb, &[("handbook.md", HANDBOOK.as_bytes())]).await;
    ingested(&s, &admin, &kb).await;
    assert_eq!(names(&search(&s, &admin, &kb, "holiday", "semantic").await), vec!["handbook.md"]);
    assert!(up.requests().iter().all(|(auth, _)| auth.as_deref() == Some("Bearer sk-runtime")));
    s.delete("/v1/admin/models/embed2", Some(&admin)).await.expect_error(409, "conflict");
    s.delete(&format!("/v1/knowledge-bases/{kb}"), Some(&admin)).await.expect(204);
    s.delete("/v1/admin/models/embed2", Some(&admin)).await.expect(204);
}

#[tokio::test]
async fn dense_graphs_are_saved_reloaded_and_rebuilt_when_their_file_is_wrong() {
    let (_up, s, t, kb) = setup(&[]).await;
    assert_eq!(s.state.knowledge.save_indexes().unwrap(), 1);
    let file = s.data_dir().join("index").join("dense").join(format!("{kb}.graph"));
    assert!(file.exists());
    let shared = s.data_dir().join("index").join("dense");
    // A restart over the saved graph, and one over a damaged file: both answer the same.
    for damage in [false, true] {
        if damage {
            std::fs::write(&file, b"not a graph").unwrap();
        }
        let dir = shared.clone();
        let r = s.replica_with(move |cfg, _| cfg.knowledge.dense_index_dir = Some(dir)).await;
        r.state.start_background().await.unwrap();
        let hits = search(&r, &t, &kb, "holiday allowance", "semantic").await;
        assert_eq!(names(&hits)[0], "handbook.md", "damaged file: {damage}");
        assert_eq!(hits.len(), 2);
    }
}
