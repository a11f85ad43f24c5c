//! Editing a sent question, regenerating an answer and switching branch, over the realtime
//! channels and REST, with a real WebSocket client and a fake OpenAI-compatible model.

use crate::common::*;
use crate::realtime::{Ws, connect, init, next, send};
use rampart_core::SessionId;
use rampart_testkit::fake_openai::{FakeOpenAi, Knobs};
use serde_json::{Value, json};

async fn server() -> (FakeOpenAi, TestServer) {
    let up = FakeOpenAi::start(Knobs { reply: "an answer".into(), ..Default::default() }).await;
    let s = TestServer::start_with(&[
        ("models", json!([{"id": "local", "provider": "openai", "base_url": up.base_url, "model": "llama3.1", "max_retries": 0}])),
        ("assistants", json!([{"id": "default", "kind": "model", "model": "local"}])),
    ])
    .await;
    (up, s)
}

fn publish(uid: &str, sid: &str, payload: Value) -> Value {
    let mut payload = payload;
    payload["sessionId"] = json!(sid);
    json!({"type": "publish", "id": "p", "channel": format!("/in/{uid}/{sid}"),
           "events": [json!({"payload": payload}).to_string()]})
}

/// Publishes and reads up to the turn's `end` (or error) event's content.
async fn turn(ws: &mut Ws, uid: &str, sid: &str, payload: Value) -> Value {
    send(ws, publish(uid, sid, payload)).await;
    assert_eq!(next(ws).await["type"], "publish_success");
    loop {
        let f = next(ws).await;
        let ev: Value = serde_json::from_str(f["event"].as_str().unwrap()).unwrap();
        if ev["content"]["type"] == "end" {
            return ev["content"].clone();
        }
        if ev["action"] == "error" {
            return ev["data"].clone();
        }
    }
}

async fn history(s: &TestServer, t: &str, sid: &str) -> Vec<Value> {
    s.get(&format!("/v1/sessions/{sid}"), Some(t)).await.expect(200).body["history"].as_array().unwrap().clone()
}

fn contents(h: &[Value]) -> Vec<&str> {
    h.iter().map(|m| m["content"].as_str().unwrap()).collect()
}

/// What the model was last asked: the contents of the messages it saw.
fn last_prompt(up: &FakeOpenAi) -> Vec<String> {
    let reqs = up.requests();
    let (_, body) = reqs.last().unwrap();
    body["messages"].as_array().unwrap().iter().filter_map(|m| m["content"].as_str().map(str::to_owned)).collect()
}

async fn subscribed(s: &TestServer, t: &str, uid: &str, sid: &str) -> Ws {
    let mut ws = connect(s, t).await;
    init(&mut ws).await;
    send(&mut ws, json!({"type": "subscribe", "id": "o", "channel": format!("/out/{uid}/{sid}")})).await;
    assert_eq!(next(&mut ws).await["type"], "subscribe_success");
    ws
}

#[tokio::test]
async fn edit_makes_a_branch_regenerate_a_sibling_and_switch_shows_either() {
    let (up, s) = server().await;
    let uid = s.user("br@example.com", &[]).await;
    let t = s.token("br@example.com").await;
    let sid = SessionId::new().to_string();
    let mut ws = subscribed(&s, &t, &uid, &sid).await;
    turn(&mut ws, &uid, &sid, json!({"text": "first"})).await;
    let a2 = turn(&mut ws, &uid, &sid, json!({"text": "second"})).await["messageId"].clone();
    let h = history(&s, &t, &sid).await;
    assert_eq!(contents(&h), ["first", "an answer", "second", "an answer"]);
    assert!(h.iter().all(|m| m.get("siblings").is_none()), "a linear history lists no siblings");
    assert_eq!(h[2]["parentId"], h[1]["id"]);
    let (q2, a1) = (h[2]["id"].clone(), h[1]["id"].clone());

    // Edit the second question: a new branch; the model sees only that branch.
    let end = turn(&mut ws, &uid, &sid, json!({"text": "second, edited", "editMessageId": q2})).await;
    assert!(end["messageId"].is_string(), "{end}");
    let h = history(&s, &t, &sid).await;
    assert_eq!(contents(&h), ["first", "an answer", "second, edited", "an answer"]);
    assert_eq!(h[2]["parentId"], a1);
    assert_eq!(h[2]["siblings"], json!([q2, h[2]["id"]]));
    assert_eq!(last_prompt(&up).iter().filter(|c| c.starts_with("second")).collect::<Vec<_>>(), ["second, edited"]);
    let (q2e, a2e) = (h[2]["id"].clone(), h[3]["id"].clone());

    // Regenerate its answer: a sibling under the same question, which is not stored again.
    let asked_before = up.requests().len();
    let a2r = turn(&mut ws, &uid, &sid, json!({"regenerateMessageId": a2e})).await["messageId"].clone();
    assert_eq!(up.requests().len(), asked_before + 1);
    assert_eq!(last_prompt(&up).last().map(String::as_str), Some("second, edited"), "the answer is not shown again");
    let h = history(&s, &t, &sid).await;
    assert_eq!(h.len(), 4);
    assert_eq!((h[2]["id"].clone(), h[3]["id"].clone()), (q2e.clone(), a2r.clone()));
    assert_eq!(h[3]["siblings"], json!([a2e, a2r]));
    assert_eq!(h[2]["siblings"], json!([q2, q2e]), "still two questions");

    // Switch back to the first question's branch: its newest message becomes the leaf.
    let sw = s.post(&format!("/v1/sessions/{sid}/branch"), Some(&t), json!({"messageId": q2})).await.expect(200);
    assert_eq!(sw.body["activeLeaf"], a2);
    let h = history(&s, &t, &sid).await;
    assert_eq!(contents(&h), ["first", "an answer", "second", "an answer"]);
    // Paging reads the active branch.
    let page = s.get(&format!("/v1/sessions/{sid}?limit=2"), Some(&t)).await.expect(200).body;
    assert_eq!(
        page["history"].as_array().unwrap().iter().map(|m| m["id"].clone()).collect::<Vec<_>>(),
        [q2.clone(), a2]
    );
    let cursor = page["earlierCursor"].as_str().unwrap();
    let before = s.get(&format!("/v1/sessions/{sid}?limit=2&cursor={cursor}"), Some(&t)).await.expect(200).body;
    assert_eq!(contents(before["history"].as_array().unwrap()), ["first", "an answer"]);

    // A GAIA client that knows nothing of branches continues the branch shown.
    turn(&mut ws, &uid, &sid, json!({"text": "third"})).await;
    let h = history(&s, &t, &sid).await;
    assert_eq!(contents(&h), ["first", "an answer", "second", "an answer", "third", "an answer"]);
    assert_eq!(last_prompt(&up).iter().filter(|c| c.starts_with("second")).collect::<Vec<_>>(), ["second"]);
    s.post(&format!("/v1/sessions/{sid}/branch"), Some(&t), json!({"messageId": a2r})).await.expect(200);
    assert_eq!(contents(&history(&s, &t, &sid).await), ["first", "an answer", "second, edited", "an answer"]);
}

#[tokio::test]
async fn another_users_session_or_message_is_not_found_and_bad_requests_store_nothing() {
    let (_up, s) = server().await;
    let uid = s.user("own@example.com", &[]).await;
    let t = s.token("own@example.com").await;
    let sid = SessionId::new().to_string();
    let mut ws = subscribed(&s, &t, &uid, &sid).await;
    turn(&mut ws, &uid, &sid, json!({"text": "mine"})).await;
    let h = history(&s, &t, &sid).await;
    let (q, a) = (h[0]["id"].clone(), h[1]["id"].clone());

    let other = s.user("other@example.com", &[]).await;
    let ot = s.token("other@example.com").await;
    s.post(&format!("/v1/sessions/{sid}/branch"), Some(&ot), json!({"messageId": q}))
        .await
        .expect_error(404, "not_found");
    // The other user's own session, naming a message of the owner's.
    let osid = SessionId::new().to_string();
    let mut ows = subscribed(&s, &ot, &other, &osid).await;
    turn(&mut ows, &other, &osid, json!({"text": "theirs"})).await;
    s.post(&format!("/v1/sessions/{osid}/branch"), Some(&ot), json!({"messageId": q}))
        .await
        .expect_error(404, "not_found");
    for payload in [json!({"text": "x", "editMessageId": q}), json!({"regenerateMessageId": a})] {
        let e = turn(&mut ows, &other, &osid, payload).await;
        assert_eq!(e["content"], "Not found.", "{e}");
    }
    assert_eq!(contents(&history(&s, &ot, &osid).await), ["theirs", "an answer"], "nothing stored");
    assert_eq!(contents(&history(&s, &t, &sid).await), ["mine", "an answer"], "the owner's unchanged");

    // Malformed branch requests are refused before anything runs.
    for bad in [
        json!({"editMessageId": q}),
        json!({"text": "x", "regenerateMessageId": a}),
        json!({"text": "x", "editMessageId": "nope"}),
    ] {
        send(&mut ws, publish(&uid, &sid, bad)).await;
        let e = next(&mut ws).await;
        assert_eq!(
            (e["type"].as_str(), e["errors"][0]["errorType"].as_str()),
            (Some("publish_error"), Some("BadRequestException"))
        );
    }
    // Editing an answer is not an edit of a question.
    let e = turn(&mut ws, &uid, &sid, json!({"text": "x", "editMessageId": a})).await;
    assert_eq!(e["content"], "The message could not be processed.");
    s.post(&format!("/v1/sessions/{sid}/branch"), Some(&t), json!({"messageId": "nope"})).await.expect(400);
    assert_eq!(contents(&history(&s, &t, &sid).await), ["mine", "an answer"]);
}

#[tokio::test]
async fn a_regenerated_answer_that_fails_leaves_the_old_one_shown() {
    let (up, s) = server().await;
    let uid = s.user("re@example.com", &[]).await;
    let t = s.token("re@example.com").await;
    let sid = SessionId::new().to_string();
    let mut ws = subscribed(&s, &t, &uid, &sid).await;
    let a = turn(&mut ws, &uid, &sid, json!({"text": "question"})).await["messageId"].clone();
    // The model refuses the next request (no retries configured): nothing new is stored, and
    // the conversation still ends with the old answer.
    up.set_knobs(Knobs {
        reply: "an answer".into(),
        fail_first: up.requests().len() + 1,
        fail_status: 400,
        ..Default::default()
    });
    let e = turn(&mut ws, &uid, &sid, json!({"regenerateMessageId": a})).await;
    assert!(e.get("messageId").is_none_or(Value::is_null), "no new answer: {e}");
    let h = history(&s, &t, &sid).await;
    assert_eq!(contents(&h), ["question", "an answer"]);
    assert_eq!(h[1]["id"], a);
    // A following question continues after the old answer.
    up.set_knobs(Knobs { reply: "an answer".into(), ..Default::default() });
    turn(&mut ws, &uid, &sid, json!({"text": "next"})).await;
    let h = history(&s, &t, &sid).await;
    assert_eq!(contents(&h), ["question", "an answer", "next", "an answer"]);
    assert_eq!(h[2]["parentId"], a);
}
