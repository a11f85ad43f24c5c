//! Files attached to a chat: parsed like knowledge-base documents, searched by that chat's turns
//! only (the answer cites them with no model configured), never listed with knowledge bases,
//! another user's session or file is "not found", and they go with the session.

use crate::common::*;
use crate::firstrun::{ask_in, of_type};
use crate::knowledge::{HANDBOOK, SECRET, create_kb, ingested, upload};
use rampart_core::{DocumentId, SessionId};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// Attaches files (name, bytes) to a session.
async fn attach(s: &TestServer, t: &str, sid: &str, files: &[(&str, &[u8])]) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new();
    for (name, bytes) in files {
        form = form.part("file", reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_string()));
    }
    s.http.post(format!("{}/v1/sessions/{sid}/files", s.base)).multipart(form).bearer_auth(t).send().await.unwrap()
}

/// Waits until every attached file is ingested; returns the list.
async fn ready(s: &TestServer, t: &str, sid: &str) -> Vec<Value> {
    for _ in 0..200 {
        let v = s.get(&format!("/v1/sessions/{sid}/files"), Some(t)).await.expect(200).body;
        let files = v["files"].as_array().unwrap().clone();
        if files.iter().all(|f| f["status"] == "ready") {
            return files;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("ingestion did not finish");
}

#[tokio::test]
async fn a_file_attached_to_a_chat_is_cited_there_and_nowhere_else() {
    attached_file(TestServer::start().await).await;
}

#[tokio::test]
async fn a_file_attached_to_a_chat_is_cited_there_and_nowhere_else_on_postgres() {
    let Some(s) = TestServer::start_pg("attachments_on_postgres", &[]).await else { return };
    attached_file(s).await;
}

async fn attached_file(s: TestServer) {
    let alice_uid = s.user("alice@example.com", &[]).await;
    s.state.db.create_group("staff", "", rampart_core::Timestamp::from_millis(0)).await.unwrap();
    let bob_uid = s.user("bob@example.com", &["staff"]).await;
    let alice = s.token("alice@example.com").await;
    let bob = s.token("bob@example.com").await;
    let sid = SessionId::new().to_string();
    s.get(&format!("/v1/sessions/{sid}/files"), Some(&alice)).await.expect_error(404, "not_found");
    // Files may come before the first question: the attachment starts the session, titled by
    // the file's name.
    let r = attach(&s, &alice, &sid, &[("handbook.md", HANDBOOK.as_bytes())]).await;
    assert_eq!(r.status(), 202);
    let d = s.get(&format!("/v1/sessions/{sid}"), Some(&alice)).await.expect(200).body;
    assert_eq!((d["title"].as_str(), d["history"].as_array().map(Vec::len)), (Some("handbook.md"), Some(0)), "{d}");
    let files = ready(&s, &alice, &sid).await;
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["name"], "handbook.md");
    let doc = files[0]["id"].as_str().unwrap().to_owned();

    // The next turn of the session cites it, with no model configured.
    let r = ask_in(&s, &alice, &alice_uid, &sid, "How many vacation days do employees accrue?", json!({})).await;
    assert_eq!(r.error, None);
    assert!(r.text.contains("two vacation days"), "the attached file quoted: {}", r.text);
    assert!(!of_type(&r.events, "citationEvent").is_empty());
    let source = &of_type(&r.events, "source")[0]["documents"][0];
    assert_eq!(source["title"], "handbook.md");
    assert_eq!(source["documentId"], doc.as_str());
    let kb = source["knowledgeBaseId"].as_str().unwrap().to_owned();
    // The citation opens for alice.
    let chunk = source["chunkId"].as_str().unwrap();
    s.get(&format!("/v1/knowledge-bases/{kb}/documents/{doc}/passages/{chunk}"), Some(&alice)).await.expect(200);

    // Not in alice's knowledge bases, not in another of her chats, not chosen by id elsewhere.
    let kbs = s.get("/v1/knowledge-bases", Some(&alice)).await.expect(200).body;
    assert!(!kbs.to_string().contains(&kb), "hidden: {kbs}");
    let other = ask_in(&s, &alice, &alice_uid, &SessionId::new().to_string(), "vacation days", json!({})).await;
    assert_eq!(other.error, None);
    assert!(!other.text.contains("two vacation days"), "another chat: {}", other.text);
    let chosen =
        ask_in(&s, &alice, &alice_uid, &SessionId::new().to_string(), "vacation", json!({"knowledgeBases": [kb]}))
            .await;
    assert_eq!(chosen.error.as_deref(), Some("A knowledge base you chose was not found."));

    // Attached files are never shared: the hidden knowledge base takes no readers (bob is in
    // `staff`), so neither the change nor a read through it reaches him.
    s.req(Method::PATCH, &format!("/v1/knowledge-bases/{kb}"), Some(&alice), Some(json!({"readGroups": ["staff"]})))
        .await
        .expect_error(404, "not_found");
    s.get(&format!("/v1/knowledge-bases/{kb}"), Some(&bob)).await.expect_error(404, "not_found");
    // Bob: alice's session and file are not found, and his own chat does not see them.
    s.get(&format!("/v1/sessions/{sid}/files"), Some(&bob)).await.expect_error(404, "not_found");
    let r = attach(&s, &bob, &sid, &[("minutes.md", SECRET.as_bytes())]).await;
    assert_eq!(r.status(), 404);
    s.delete(&format!("/v1/sessions/{sid}/files/{doc}"), Some(&bob)).await.expect_error(404, "not_found");
    s.get(&format!("/v1/knowledge-bases/{kb}/documents/{doc}/content"), Some(&bob))
        .await
        .expect_error(404, "not_found");
    let b = ask_in(&s, &bob, &bob_uid, &SessionId::new().to_string(), "vacation days", json!({})).await;
    assert_eq!(b.error, None);
    assert!(!b.text.contains("two vacation days"), "bob's chat: {}", b.text);
    let unknown = DocumentId::new();
    s.delete(&format!("/v1/sessions/{sid}/files/{unknown}"), Some(&alice)).await.expect_error(404, "not_found");
    assert_eq!(ready(&s, &alice, &sid).await.len(), 1, "bob removed nothing");

    // Deleting the session removes the file.
    s.delete(&format!("/v1/sessions/{sid}"), Some(&alice)).await.expect(204);
    s.get(&format!("/v1/knowledge-bases/{kb}/documents/{doc}/content"), Some(&alice))
        .await
        .expect_error(404, "not_found");
    s.get(&format!("/v1/sessions/{sid}/files"), Some(&alice)).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn removing_an_attached_file_takes_it_out_of_the_answers() {
    let s = TestServer::start().await;
    let uid = s.user("alice@example.com", &[]).await;
    let t = s.token("alice@example.com").await;
    let sid = SessionId::new().to_string();
    ask_in(&s, &t, &uid, &sid, "hello", json!({})).await;
    assert_eq!(attach(&s, &t, &sid, &[("handbook.md", HANDBOOK.as_bytes())]).await.status(), 202);
    let doc = ready(&s, &t, &sid).await[0]["id"].as_str().unwrap().to_owned();
    s.delete(&format!("/v1/sessions/{sid}/files/{doc}"), Some(&t)).await.expect(204);
    assert!(ready(&s, &t, &sid).await.is_empty());
    let r = ask_in(&s, &t, &uid, &sid, "How many vacation days do employees accrue?", json!({})).await;
    assert_eq!(r.error, None);
    assert!(!r.text.contains("two vacation days"), "{}", r.text);
    // Bad uploads: no file part; to a new session id, they start no session.
    let fresh = SessionId::new().to_string();
    for id in [&sid, &fresh] {
        let form = reqwest::multipart::Form::new().text("other", "x");
        let r = s.http.post(format!("{}/v1/sessions/{id}/files", s.base)).multipart(form).bearer_auth(&t);
        assert_eq!(r.send().await.unwrap().status(), 400);
    }
    let name = "x".repeat(300);
    assert_eq!(attach(&s, &t, &fresh, &[(name.as_str(), b"text")]).await.status(), 400);
    s.get(&format!("/v1/sessions/{fresh}"), Some(&t)).await.expect_error(404, "not_found");
}

/// With files attached and nothing chosen, the built-in assistant searches the files and every
/// knowledge base the user may read (not the files alone).
#[tokio::test]
async fn the_built_in_assistant_searches_attached_files_and_readable_knowledge_bases() {
    let s = TestServer::start().await;
    let uid = s.user("alice@example.com", &[]).await;
    let t = s.token("alice@example.com").await;
    let kb = create_kb(&s, &t, "board", &[]).await;
    assert_eq!(upload(&s, &t, &kb, &[("minutes.md", SECRET.as_bytes())]).await.status(), 202);
    ingested(&s, &t, &kb).await;
    let sid = SessionId::new().to_string();
    assert_eq!(attach(&s, &t, &sid, &[("handbook.md", HANDBOOK.as_bytes())]).await.status(), 202);
    ready(&s, &t, &sid).await;
    let r = ask_in(&s, &t, &uid, &sid, "Which acquisition did the board approve?", json!({})).await;
    assert_eq!(r.error, None);
    assert!(r.text.contains("Zephyr Corp"), "the readable knowledge base: {}", r.text);
    let r = ask_in(&s, &t, &uid, &sid, "How many vacation days do employees accrue?", json!({})).await;
    assert!(r.text.contains("two vacation days"), "the attached file: {}", r.text);
}
