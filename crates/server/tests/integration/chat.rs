//! GAIA's Sessions and Feedback APIs. Sessions are seeded through the chat service (the
//! realtime pipeline that creates them in production comes with the rest of issue 3).

use crate::common::*;
use rampart_core::{SessionId, UserId};
use serde_json::{Value, json};

/// A session with one exchange; returns (session id, assistant message id).
pub(crate) async fn exchange(s: &TestServer, user: &str, question: &str) -> (String, String) {
    let uid: UserId = user.parse().unwrap();
    let sid = SessionId::new();
    s.state.chat.add_user_message(uid, sid, "default", question).await.unwrap().unwrap();
    let parts = json!([{"type": "text", "text": "S3 is object storage.", "citationSpans": [{"span": {"start": 0, "end": 5}, "refIndex": 0}]},
                       {"type": "source", "documents": [{"title": "S3 FAQ", "uri": "s3://docs/faq", "excerpt": "Amazon S3 is..."}]}]);
    let mid = s
        .state
        .chat
        .add_assistant_message(uid, sid, "S3 is object storage.", Some(&parts), "local-llm", 1523)
        .await
        .unwrap()
        .unwrap();
    (sid.to_string(), mid.to_string())
}

#[tokio::test]
async fn sessions_have_gaia_shapes_and_can_be_deleted() {
    let s = TestServer::start().await;
    let a = s.user("alice@example.com", &[]).await;
    let t = s.token("alice@example.com").await;
    let (s1, _) = exchange(&s, &a, "What is Amazon S3? A long question that goes on and on and on and on and on and on and on and on and on and on.").await;
    let (s2, m2) = exchange(&s, &a, "Second question").await;
    let list = s.get("/v1/sessions", Some(&t)).await.expect(200).body;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], s2.as_str(), "most recently active first");
    assert_eq!(items[1]["title"].as_str().unwrap().chars().count(), 100, "title = first message, truncated");
    assert!(items[0]["dateModified"].as_i64().unwrap() > 1_700_000_000);
    let d = s.get(&format!("/v1/sessions/{s2}"), Some(&t)).await.expect(200).body;
    assert_eq!(d["userId"], a.as_str());
    assert_eq!(d["title"], "Second question");
    let h = d["history"].as_array().unwrap();
    assert_eq!(h[0]["role"], "user");
    assert_eq!(h[0]["content"], "Second question");
    assert!(h[0].get("parts").is_none() && h[0].get("metadata").is_none());
    assert_eq!(h[1]["id"], m2.as_str());
    assert_eq!(h[1]["parts"][1]["documents"][0]["title"], "S3 FAQ");
    assert_eq!(h[1]["metadata"], json!({"modelId": "local-llm", "responseTimeMs": 1523}));
    s.delete(&format!("/v1/sessions/{s1}"), Some(&t)).await.expect(204);
    s.get(&format!("/v1/sessions/{s1}"), Some(&t)).await.expect_error(404, "not_found");
    assert_eq!(s.delete("/v1/sessions", Some(&t)).await.expect(200).body, json!({"deleted": 1}));
    assert!(s.get("/v1/sessions", Some(&t)).await.body["items"].as_array().unwrap().is_empty());
    s.get("/v1/sessions?cursor=bogus", Some(&t)).await.expect_error(400, "invalid_request");
    s.get("/v1/sessions/not-a-uuid", Some(&t)).await.expect_error(404, "not_found");
}

/// `limit` reads a long history from its newest end, page by page; without it, all of it.
#[tokio::test]
async fn long_histories_are_read_in_pages_from_the_newest_end() {
    let s = TestServer::start().await;
    let (_, admin) = s.admin().await;
    let a = s.user("a@example.com", &[]).await;
    s.user("b@example.com", &[]).await;
    let (ta, tb) = (s.token("a@example.com").await, s.token("b@example.com").await);
    let uid: UserId = a.parse().unwrap();
    let sid = SessionId::new();
    for i in 0..25 {
        s.state.chat.add_user_message(uid, sid, "default", &format!("q{i}")).await.unwrap().unwrap();
        s.state.chat.add_assistant_message(uid, sid, &format!("a{i}"), None, "local-llm", 5).await.unwrap().unwrap();
    }
    let texts = |d: &Value| -> Vec<String> {
        d["history"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap().to_owned()).collect()
    };
    let all = s.get(&format!("/v1/sessions/{sid}"), Some(&ta)).await.expect(200).body;
    assert_eq!(texts(&all).len(), 50);
    assert!(all.get("earlierCursor").is_none(), "no cursor without limit");
    // Pages of 20: the newest 20 (oldest first), then the 20 before, then the last 10.
    let mut pages = Vec::new();
    let mut url = format!("/v1/sessions/{sid}?limit=20");
    loop {
        let d = s.get(&url, Some(&ta)).await.expect(200).body;
        pages.push(texts(&d));
        match d["earlierCursor"].as_str() {
            Some(c) => url = format!("/v1/sessions/{sid}?limit=20&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [20, 20, 10]);
    assert_eq!(pages[0].first().map(String::as_str), Some("q15"));
    assert_eq!(pages[0].last().map(String::as_str), Some("a24"));
    let joined: Vec<String> = pages.iter().rev().flatten().cloned().collect();
    assert_eq!(joined, texts(&all), "the pages put together are the whole history, once");
    // Fewer than `limit`, or exactly `limit`, messages left: no cursor.
    for limit in [100, 50] {
        let d = s.get(&format!("/v1/sessions/{sid}?limit={limit}"), Some(&ta)).await.expect(200).body;
        assert_eq!((texts(&d).len(), d.get("earlierCursor").is_none()), (50, true), "limit {limit}");
    }
    let second = s.get(&format!("/v1/sessions/{sid}?limit=40"), Some(&ta)).await.expect(200).body;
    let c = second["earlierCursor"].as_str().unwrap();
    let rest = s.get(&format!("/v1/sessions/{sid}?limit=10&cursor={c}"), Some(&ta)).await.expect(200).body;
    assert_eq!((texts(&rest).len(), rest.get("earlierCursor").is_none()), (10, true), "the last 10, exactly");
    // Administrators page the same way.
    let d = s.get(&format!("/v1/users/{a}/sessions/{sid}?limit=5"), Some(&admin)).await.expect(200).body;
    assert_eq!(texts(&d), ["a22", "q23", "a23", "q24", "a24"]);
    assert!(d["earlierCursor"].is_string());
    // Bad pages are refused; another user's session stays "not found" with a page too.
    for bad in ["limit=0", "limit=101", "cursor=x", "cursor=-3", "limit=5&cursor=1e3", "offset=2"] {
        s.get(&format!("/v1/sessions/{sid}?{bad}"), Some(&ta)).await.expect_error(400, "invalid_request");
    }
    s.get(&format!("/v1/sessions/{sid}?limit=5"), Some(&tb)).await.expect_error(404, "not_found");
    s.get(&format!("/v1/sessions/{sid}?limit=5&cursor=40"), Some(&tb)).await.expect_error(404, "not_found");
}

/// Every id-taking route refuses another user's id exactly like an unknown one.
#[tokio::test]
async fn another_users_sessions_and_feedback_are_refused() {
    let s = TestServer::start().await;
    let (_, admin) = s.admin().await;
    let a = s.user("a@example.com", &[]).await;
    let b = s.user("b@example.com", &[]).await;
    let (ta, tb) = (s.token("a@example.com").await, s.token("b@example.com").await);
    let (sid, mid) = exchange(&s, &a, "private question").await;
    let f = s
        .post("/v1/feedback", Some(&ta), json!({"session_id": sid, "message_id": mid, "rating": "thumbs_up"}))
        .await
        .expect(201)
        .body;
    let fid = f["id"].as_str().unwrap();
    let unknown = uuid::Uuid::now_v7().to_string();
    for path in [format!("/v1/sessions/{sid}"), format!("/v1/feedback/{fid}")] {
        let theirs = s.get(&path, Some(&tb)).await.expect_error(404, "not_found");
        let missing =
            s.get(&path.replace(&sid, &unknown).replace(fid, &unknown), Some(&tb)).await.expect_error(404, "not_found");
        assert_eq!(theirs.body, missing.body);
    }
    s.delete(&format!("/v1/sessions/{sid}"), Some(&tb)).await.expect_error(404, "not_found");
    s.post("/v1/feedback", Some(&tb), json!({"session_id": sid, "message_id": mid, "rating": "thumbs_up"}))
        .await
        .expect_error(404, "not_found");
    assert_eq!(s.delete("/v1/sessions", Some(&tb)).await.expect(200).body["deleted"], 0);
    s.get(&format!("/v1/sessions/{sid}"), Some(&ta)).await.expect(200);
    // Administrators see everything, through the admin routes only.
    s.get(&format!("/v1/feedback/{fid}"), Some(&admin)).await.expect(200);
    s.get(&format!("/v1/users/{a}/sessions/{sid}"), Some(&admin)).await.expect(200);
    s.get(&format!("/v1/users/{b}/sessions/{sid}"), Some(&admin)).await.expect_error(404, "not_found");
    assert_eq!(
        s.get(&format!("/v1/users/{a}/sessions"), Some(&admin)).await.expect(200).body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.get("/v1/admin/sessions", Some(&admin)).await.expect(200).body["items"].as_array().unwrap().len(), 1);
    for p in [
        "/v1/admin/sessions".to_string(),
        format!("/v1/users/{a}/sessions"),
        format!("/v1/users/{a}/sessions/{sid}"),
        "/v1/admin/feedback".to_string(),
    ] {
        s.get(&p, Some(&tb)).await.expect_error(403, "forbidden");
    }
    s.get(&format!("/v1/sessions/{sid}"), Some(&admin)).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn feedback_rules() {
    let s = TestServer::start().await;
    let (_, admin) = s.admin().await;
    let a = s.user("fb@example.com", &[]).await;
    let t = s.token("fb@example.com").await;
    let (sid, mid) = exchange(&s, &a, "question").await;
    let user_msg =
        s.get(&format!("/v1/sessions/{sid}"), Some(&t)).await.body["history"][0]["id"].as_str().unwrap().to_owned();
    let body = |extra: Value| {
        let mut b = json!({"session_id": sid, "message_id": mid, "rating": "thumbs_down", "reason": "accuracy"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (extra, code) in [
        (json!({"rating": "meh"}), "invalid_request"),
        (json!({"reason": null}), "invalid_request"),
        (json!({"reason": "because"}), "invalid_request"),
        (json!({"text_feedback": "x".repeat(1001)}), "invalid_request"),
        (json!({"message_id": user_msg}), "invalid_request"),
        (json!({"extra": 1}), "invalid_json"),
        (json!({"session_id": "nope"}), "invalid_json"),
    ] {
        s.post("/v1/feedback", Some(&t), body(extra.clone())).await.expect_error(400, code);
    }
    assert!(s.get("/v1/feedback", Some(&t)).await.body["items"].as_array().unwrap().is_empty(), "nothing stored");
    let ok =
        s.post("/v1/feedback", Some(&t), body(json!({"text_feedback": "The date is wrong."}))).await.expect(201).body;
    assert_eq!(ok["reason"], "accuracy");
    assert_eq!(ok["text_feedback"], "The date is wrong.");
    s.post("/v1/feedback", Some(&t), body(json!({"rating": "thumbs_up", "reason": null}))).await.expect(201);
    assert_eq!(s.get("/v1/feedback", Some(&t)).await.body["items"].as_array().unwrap().len(), 2);
    let all = s.get("/v1/admin/feedback", Some(&admin)).await.expect(200).body;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let none = s.get("/v1/admin/feedback?from=2020-01-01&to=2020-02-01", Some(&admin)).await.expect(200).body;
    assert!(none["items"].as_array().unwrap().is_empty());
    s.get("/v1/admin/feedback?from=2020-01-01&to=2023-01-01", Some(&admin)).await.expect_error(400, "invalid_request");
    s.get("/v1/admin/feedback?from=yesterday", Some(&admin)).await.expect_error(400, "invalid_request");
    s.get("/v1/admin/feedback?limit=101", Some(&admin)).await.expect_error(400, "invalid_request");
    s.get("/v1/admin/feedback?from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z", Some(&admin))
        .await
        .expect_error(400, "invalid_request");
}

#[tokio::test]
async fn chat_routes_need_the_chat_scope() {
    let s = TestServer::start().await;
    s.user("scope@example.com", &[]).await;
    let t = s.token("scope@example.com").await;
    let k = s.post("/v1/me/api-keys", Some(&t), json!({"name": "kb", "scopes": ["knowledge"]})).await.expect(201).body;
    s.get("/v1/sessions", Some(k["key"].as_str().unwrap())).await.expect_error(403, "forbidden");
    let c = s.post("/v1/me/api-keys", Some(&t), json!({"name": "c", "scopes": ["chat"]})).await.expect(201).body;
    s.get("/v1/sessions", Some(c["key"].as_str().unwrap())).await.expect(200);
}

#[tokio::test]
async fn message_content_is_encrypted_at_rest() {
    let s = TestServer::start().await;
    let a = s.user("enc@example.com", &[]).await;
    let t = s.token("enc@example.com").await;
    let (sid, mid) = exchange(&s, &a, "the secret plan is codenamed bluebird").await;
    s.post("/v1/feedback", Some(&t), json!({"session_id": sid, "message_id": mid, "rating": "thumbs_down", "reason": "other", "text_feedback": "mentions tangerine"})).await.expect(201);
    s.state.db.close().await;
    let mut bytes = Vec::new();
    for f in std::fs::read_dir(s.data_dir()).unwrap() {
        let p = f.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with("rampart.db") {
            bytes.extend(std::fs::read(p).unwrap());
        }
    }
    for needle in ["bluebird", "S3 is object storage", "S3 FAQ", "tangerine"] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle} found in the database files");
    }
}

#[tokio::test]
async fn service_interruptions_are_admin_managed_and_validated() {
    let s = TestServer::start().await;
    let (_, admin) = s.admin().await;
    s.user("u@example.com", &[]).await;
    let t = s.token("u@example.com").await;
    let ok =
        json!({"service_type": "model", "message": "Maintenance until 14:00.", "reason": "upgrade", "duration": "2h"});
    s.post("/v1/bot-management/interruptions", Some(&t), ok.clone()).await.expect_error(403, "forbidden");
    for (k, v) in [
        ("service_type", json!("bedrock")),
        ("message", json!("")),
        ("message", json!("x".repeat(501))),
        ("reason", json!("y".repeat(201))),
        ("duration", json!("8d")),
        ("duration", json!(0)),
        ("duration", json!("soon")),
    ] {
        let mut b = ok.clone();
        b[k] = v;
        s.post("/v1/bot-management/interruptions", Some(&admin), b).await.expect_error(400, "invalid_request");
    }
    assert_eq!(s.state.chat.interruption_message("model").await.unwrap(), None, "nothing stored half-way");
    let a = s.post("/v1/bot-management/interruptions", Some(&admin), ok).await.expect(201).body;
    assert_eq!(a["active"], true);
    let all = s.get("/v1/bot-management/interruptions", Some(&admin)).await.expect(200).body;
    assert_eq!(all.as_array().unwrap().len(), 5);
    assert_eq!(all.as_array().unwrap().iter().filter(|i| i["active"] == true).count(), 1);
    assert_eq!(
        s.get("/v1/bot-management/interruptions/model", Some(&admin)).await.expect(200).body["message"],
        "Maintenance until 14:00."
    );
    assert_eq!(s.get("/v1/bot-management/interruptions/rag", Some(&admin)).await.expect(200).body["active"], false);
    s.get("/v1/bot-management/interruptions/bogus", Some(&admin)).await.expect_error(404, "not_found");
    assert_eq!(s.get("/v1/bot-management/health", Some(&admin)).await.expect(200).body["activeInterruptions"], 1);
    assert_eq!(
        s.get("/v1/bot-management/service-types", Some(&admin)).await.expect(200).body["serviceTypes"],
        json!(["global", "rag", "model", "custom", "agent"])
    );
    // What the chat pipeline consults: the assistant's own type, or `global` for everything.
    assert_eq!(s.state.chat.interruption_message("model").await.unwrap().as_deref(), Some("Maintenance until 14:00."));
    assert_eq!(s.state.chat.interruption_message("rag").await.unwrap(), None);
    s.post(
        "/v1/bot-management/interruptions",
        Some(&admin),
        json!({"service_type": "global", "message": "Down.", "reason": "", "duration": 60}),
    )
    .await
    .expect(201);
    assert_eq!(s.state.chat.interruption_message("rag").await.unwrap().as_deref(), Some("Down."));
    s.delete("/v1/bot-management/interruptions/global", Some(&admin)).await.expect(204);
    s.delete("/v1/bot-management/interruptions/global", Some(&admin)).await.expect_error(404, "not_found");
    s.delete("/v1/bot-management/interruptions/model", Some(&t)).await.expect_error(403, "forbidden");
}
