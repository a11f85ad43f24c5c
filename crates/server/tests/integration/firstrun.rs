//! The first run, as a newcomer meets it: no model configured, documents uploaded, a question
//! asked. The built-in assistant quotes the best passages of every knowledge base the user may
//! read, cites them (with where they are), and says how to add a model; knowledge bases chosen
//! in the chat are checked against the reader at query time; citations open the passage in
//! context and the document downloads — never another user's.

use crate::common::*;
use crate::knowledge::{HANDBOOK, SECRET, create_kb, ingested, upload};
use crate::realtime::{connect, init, next, send};
use rampart_core::SessionId;
use serde_json::{Value, json};

/// What a published question brought back on the session's `/out` channel: the text and the
/// content events until `end`, or the error event's message.
pub(crate) struct Reply {
    pub text: String,
    pub events: Vec<Value>,
    pub error: Option<String>,
    pub sid: String,
}

/// Publishes `payload` (with the text and a new session id added) and collects the reply.
async fn ask_with(s: &TestServer, t: &str, uid: &str, question: &str, extra: Value) -> Reply {
    ask_in(s, t, uid, &SessionId::new().to_string(), question, extra).await
}

/// Publishes a question in session `sid` and collects the reply.
pub(crate) async fn ask_in(s: &TestServer, t: &str, uid: &str, sid: &str, question: &str, extra: Value) -> Reply {
    let sid = sid.to_owned();
    let mut ws = connect(s, t).await;
    init(&mut ws).await;
    send(&mut ws, json!({"type": "subscribe", "id": "o", "channel": format!("/out/{uid}/{sid}")})).await;
    next(&mut ws).await;
    let mut payload = json!({"text": question, "sessionId": sid});
    for (k, v) in extra.as_object().unwrap() {
        payload[k] = v.clone();
    }
    let ev = json!({ "payload": payload }).to_string();
    send(&mut ws, json!({"type": "publish", "id": "p", "channel": format!("/in/{uid}/{sid}"), "events": [ev]})).await;
    let ack = next(&mut ws).await;
    assert_eq!(ack["type"], "publish_success", "{ack}");
    let mut r = Reply { text: String::new(), events: Vec::new(), error: None, sid };
    loop {
        let f = next(&mut ws).await;
        let v = serde_json::from_str::<Value>(f["event"].as_str().unwrap()).unwrap();
        if v["action"] == "error" {
            r.error = Some(v["data"]["content"].as_str().unwrap().to_owned());
            return r;
        }
        let c = v["content"].clone();
        match c["type"].as_str() {
            Some("textDelta") => r.text.push_str(c["text"].as_str().unwrap()),
            Some("end") => {
                r.events.push(c);
                return r;
            }
            _ => r.events.push(c),
        }
    }
}

pub(crate) fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == t).collect()
}

/// Two users, each with a knowledge base of their own, ingested: (alice uid, token, kb), (bob …).
async fn two_readers(s: &TestServer) -> ((String, String, String), (String, String, String)) {
    let alice_uid = s.user("alice@example.com", &[]).await;
    let bob_uid = s.user("bob@example.com", &[]).await;
    let alice = s.token("alice@example.com").await;
    let bob = s.token("bob@example.com").await;
    let handbook = create_kb(s, &alice, "handbook", &[]).await;
    let board = create_kb(s, &bob, "board", &[]).await;
    upload(s, &alice, &handbook, &[("handbook.md", HANDBOOK.as_bytes())]).await;
    upload(s, &bob, &board, &[("minutes.md", SECRET.as_bytes())]).await;
    ingested(s, &alice, &handbook).await;
    ingested(s, &bob, &board).await;
    ((alice_uid, alice, handbook), (bob_uid, bob, board))
}

#[tokio::test]
async fn with_no_model_the_default_assistant_quotes_every_readable_knowledge_base() {
    first_run(TestServer::start().await).await;
}

#[tokio::test]
async fn with_no_model_the_default_assistant_quotes_every_readable_knowledge_base_on_postgres() {
    let Some(s) = TestServer::start_pg("firstrun_on_postgres", &[]).await else { return };
    first_run(s).await;
}

async fn first_run(s: TestServer) {
    let ((alice_uid, alice, handbook), (bob_uid, bob, board)) = two_readers(&s).await;

    let r = ask_with(&s, &alice, &alice_uid, "How many vacation days do employees accrue?", json!({})).await;
    assert_eq!(r.error, None);
    assert!(r.text.contains("two vacation days"), "the best passage quoted: {}", r.text);
    assert!(!r.text.contains("Zephyr") && !r.text.contains("unlimited"), "nothing of bob's: {}", r.text);
    assert!(r.text.contains("No generative model is configured"), "the note: {}", r.text);
    assert!(r.text.contains("Admin → Models"), "how to add a model: {}", r.text);
    let citations = of_type(&r.events, "citationEvent");
    assert!(!citations.is_empty());
    let chunk = citations[0]["chunkId"].as_str().expect("a citation names its passage").to_owned();
    let source = &of_type(&r.events, "source")[0]["documents"][0];
    assert_eq!(source["title"], "handbook.md");
    assert_eq!(source["knowledgeBaseId"], handbook.as_str());
    let doc = source["documentId"].as_str().unwrap().to_owned();
    assert!(source["chunkId"].is_string());
    assert_eq!(r.events.last().unwrap()["modelId"], "rampart-extractive");
    // The stored answer keeps the passage of each citation.
    let session = s.get(&format!("/v1/sessions/{}", r.sid), Some(&alice)).await.expect(200).body;
    let spans = &session["history"][1]["parts"][0]["citationSpans"];
    assert_eq!(spans[0]["chunkId"], chunk.as_str());
    assert_eq!(spans[0]["citationNumber"], 1);

    // Bob's question draws on bob's knowledge base only.
    let r = ask_with(&s, &bob, &bob_uid, "vacation policy", json!({})).await;
    assert!(r.text.contains("unlimited") && !r.text.contains("two vacation days"), "{}", r.text);

    // The citation opens in context for alice, and for nobody else.
    let path = format!("/v1/knowledge-bases/{handbook}/documents/{doc}/passages/{chunk}");
    let ctx = s.get(&format!("{path}?around=1"), Some(&alice)).await.expect(200).body;
    assert_eq!(ctx["document"]["name"], "handbook.md");
    assert_eq!(ctx["knowledgeBaseName"], "handbook");
    let passages = ctx["passages"].as_array().unwrap();
    let cited: Vec<&Value> = passages.iter().filter(|p| p["cited"] == true).collect();
    assert_eq!(cited.len(), 1);
    assert_eq!(cited[0]["chunkId"], chunk.as_str());
    assert!(passages.len() <= 3);
    s.get(&path, Some(&bob)).await.expect_error(404, "not_found");
    s.get(&format!("/v1/knowledge-bases/{board}/documents/{doc}/passages/{chunk}"), Some(&bob))
        .await
        .expect_error(404, "not_found");
    s.get(&format!("{path}?around=11"), Some(&alice)).await.expect_error(400, "invalid_request");
    s.get(&format!("{path}?around=x"), Some(&alice)).await.expect_error(400, "invalid_request");

    // The document downloads as uploaded, with a bearer token; never for bob.
    let content = format!("/v1/knowledge-bases/{handbook}/documents/{doc}/content");
    let resp = s.http.get(format!("{}{content}", s.base)).bearer_auth(&alice).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let cd = resp.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(cd.starts_with("attachment;") && cd.contains("handbook.md"), "{cd}");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), HANDBOOK.as_bytes());
    s.get(&content, Some(&bob)).await.expect_error(404, "not_found");
    s.get(&content, None).await.expect(401);
    let other_doc = rampart_core::DocumentId::new();
    s.get(&format!("/v1/knowledge-bases/{handbook}/documents/{other_doc}/content"), Some(&alice))
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn knowledge_bases_chosen_in_the_chat_must_be_readable_by_the_asker() {
    let s = TestServer::start().await;
    let ((alice_uid, alice, handbook), (bob_uid, bob, board)) = two_readers(&s).await;

    // Bob's knowledge base chosen by alice: refused, and nothing stored.
    let r = ask_with(&s, &alice, &alice_uid, "acquisition", json!({"knowledgeBases": [board]})).await;
    assert_eq!(r.error.as_deref(), Some("A knowledge base you chose was not found."));
    s.get(&format!("/v1/sessions/{}", r.sid), Some(&alice)).await.expect_error(404, "not_found");
    // One unknown id among readable ones is refused the same way.
    let unknown = rampart_core::KnowledgeBaseId::new().to_string();
    let r = ask_with(&s, &alice, &alice_uid, "vacation", json!({"knowledgeBases": [handbook, unknown]})).await;
    assert_eq!(r.error.as_deref(), Some("A knowledge base you chose was not found."));

    // Her own: answered from it alone.
    let r = ask_with(&s, &alice, &alice_uid, "vacation", json!({"knowledgeBases": [handbook]})).await;
    assert_eq!(r.error, None);
    assert!(r.text.contains("two vacation days"), "{}", r.text);
    // Bob choosing his own asks it alone too: the handbook is not his to read.
    let r = ask_with(&s, &bob, &bob_uid, "vacation days", json!({"knowledgeBases": [board]})).await;
    assert!(r.text.contains("unlimited") && !r.text.contains("two vacation days"), "{}", r.text);

    // Malformed choices are refused at publish time.
    let sid = SessionId::new().to_string();
    let mut ws = connect(&s, &alice).await;
    init(&mut ws).await;
    for bad in [json!("handbook"), json!(["not-an-id"]), json!([1]), json!(vec![handbook.clone(); 21])] {
        let ev = json!({"payload": {"text": "q", "sessionId": sid, "knowledgeBases": bad}}).to_string();
        send(
            &mut ws,
            json!({"type": "publish", "id": "p", "channel": format!("/in/{alice_uid}/{sid}"), "events": [ev]}),
        )
        .await;
        let f = next(&mut ws).await;
        assert_eq!(f["type"], "publish_error", "{bad}: {f}");
        assert_eq!(f["errors"][0]["errorType"], "BadRequestException");
    }

    // The same rule through the OpenAI-compatible facade.
    let ask = |kbs: Value| {
        s.post(
            "/v1/chat/completions",
            Some(&alice),
            json!({"model": "default", "messages": [{"role": "user", "content": "vacation days"}], "knowledge_bases": kbs}),
        )
    };
    ask(json!([board])).await.expect_error(404, "not_found");
    let r = ask(json!([handbook])).await.expect(200).body;
    assert!(r["choices"][0]["message"]["content"].as_str().unwrap().contains("two vacation days"));
    assert_eq!(r["sources"][0]["knowledgeBaseId"], handbook.as_str());
    ask(json!(["nope"])).await.expect_error(400, "invalid_json");
    ask(json!(vec![handbook.clone(); 21])).await.expect_error(400, "invalid_request");
}

#[tokio::test]
async fn a_model_assistant_answers_from_chosen_knowledge_bases_with_citations() {
    let up = rampart_testkit::fake_openai::FakeOpenAi::start(rampart_testkit::fake_openai::Knobs {
        reply: "Two days a month [1].".into(),
        ..Default::default()
    })
    .await;
    let s = TestServer::start_with(&[
        (
            "models",
            json!([{"id": "m", "provider": "openai", "base_url": up.base_url, "model": "llm", "max_retries": 0}]),
        ),
        ("assistants", json!([{"id": "default", "kind": "model", "model": "m"}])),
    ])
    .await;
    let ((alice_uid, alice, handbook), (_, _, board)) = two_readers(&s).await;

    // Without a choice: the model alone, no passages, no sources.
    let r = ask_with(&s, &alice, &alice_uid, "How much vacation?", json!({})).await;
    assert_eq!(r.text, "Two days a month [1].");
    assert!(of_type(&r.events, "citationEvent").is_empty() && of_type(&r.events, "source").is_empty());
    let first = up.requests()[0].1["messages"].to_string();
    assert!(!first.contains("search_results"), "{first}");

    // With her knowledge base chosen: the passages in the prompt, the marker a citation.
    let r = ask_with(&s, &alice, &alice_uid, "How much vacation?", json!({"knowledgeBases": [handbook]})).await;
    assert_eq!(r.text, "Two days a month [1].");
    let citations = of_type(&r.events, "citationEvent");
    assert_eq!(citations.len(), 1);
    assert!(citations[0]["chunkId"].is_string());
    assert_eq!(of_type(&r.events, "source")[0]["documents"][0]["knowledgeBaseId"], handbook.as_str());
    assert_eq!(r.events.last().unwrap()["modelId"], "llm");
    let system = up.requests()[1].1["messages"][0]["content"].as_str().unwrap().to_owned();
    assert!(system.contains("<search_results>") && system.contains("two vacation days"), "{system}");
    assert!(!system.contains("Zephyr"));

    // Bob's knowledge base: refused before the model is called.
    let calls = up.requests().len();
    let r = ask_with(&s, &alice, &alice_uid, "acquisition", json!({"knowledgeBases": [board]})).await;
    assert_eq!(r.error.as_deref(), Some("A knowledge base you chose was not found."));
    assert_eq!(up.requests().len(), calls);
}
